#include "frameworks/common/task_output.hpp"

#include <unistd.h>

#include <vector>

#include "sdk/agent_files.hpp"

namespace nucleo::frameworks {

TaskOutput::TaskOutput(bool prefixLines, std::chrono::milliseconds interval)
    : prefix_(prefixLines), interval_(interval), thread_([this] { loop(); }) {}

TaskOutput::~TaskOutput() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void TaskOutput::follow(const std::string& taskId, const std::string& agent,
                        const std::string& frameworkId, const std::string& executorId) {
  std::lock_guard lock(mutex_);
  if (tasks_.count(taskId) != 0) return;
  std::string sandbox = sdk::sandboxPath(frameworkId, executorId);
  // A task of a task group has its own sandbox inside the executor's.
  if (executorId != taskId) sandbox += "/tasks/" + taskId;
  Followed followed;
  followed.agent = agent;
  followed.sandbox = sandbox;
  followed.task = taskId;
  tasks_[taskId] = std::move(followed);
  wake_.notify_all();
}

void TaskOutput::finish(const std::string& taskId) {
  std::unique_lock lock(mutex_);
  auto task = tasks_.find(taskId);
  if (task == tasks_.end()) return;
  task->second.finishing = true;
  wake_.notify_all();
  drained_.wait_for(lock, std::chrono::seconds(5), [&] { return tasks_.count(taskId) == 0; });
}

void TaskOutput::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, interval_);
    std::vector<std::string> ids;
    for (const auto& [id, followed] : tasks_) ids.push_back(id);
    for (const auto& id : ids) {
      Followed followed = tasks_[id];
      lock.unlock();
      drain(followed);
      lock.lock();
      auto task = tasks_.find(id);
      if (task == tasks_.end()) continue;
      // `followed` was copied after finish() was asked: its read saw the end.
      if (followed.finishing) {
        tasks_.erase(task);
        drained_.notify_all();
        continue;
      }
      task->second.offsets[0] = followed.offsets[0];
      task->second.offsets[1] = followed.offsets[1];
      task->second.partial[0] = followed.partial[0];
      task->second.partial[1] = followed.partial[1];
    }
  }
}

void TaskOutput::drain(Followed& followed) {
  const char* names[2] = {"/stdout", "/stderr"};
  for (int stream = 0; stream < 2; ++stream) {
    while (true) {
      auto chunk = sdk::readAgentFile(followed.agent, followed.sandbox + names[stream],
                                      followed.offsets[stream]);
      if (!chunk || chunk->data.empty()) break;
      followed.offsets[stream] = chunk->nextOffset;
      emit(stream, followed, chunk->data);
    }
  }
}

void TaskOutput::emit(int stream, Followed& followed, const std::string& data) {
  int fd = stream == 0 ? STDOUT_FILENO : STDERR_FILENO;
  if (!prefix_) {
    (void)!::write(fd, data.data(), data.size());
    return;
  }
  std::string text = followed.partial[stream] + data;
  size_t start = 0, newline;
  std::string out;
  while ((newline = text.find('\n', start)) != std::string::npos) {
    out += "[" + followed.task + "] " + text.substr(start, newline - start + 1);
    start = newline + 1;
  }
  followed.partial[stream] = text.substr(start);
  (void)!::write(fd, out.data(), out.size());
}

}  // namespace nucleo::frameworks
