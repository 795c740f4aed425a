#pragma once
// Follows tasks' stdout and stderr through their agents' files API and copies
// them to this process's stdout and stderr (prefixed with the task id when
// several tasks share the terminal). One polling thread for all tasks.

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace nucleo::frameworks {

class TaskOutput {
 public:
  explicit TaskOutput(bool prefixLines, std::chrono::milliseconds interval = std::chrono::milliseconds(250));
  ~TaskOutput();

  // Starts following the sandbox of `executorId` (framework `frameworkId`) on
  // the agent at `agent` (host:port). Idempotent per task.
  void follow(const std::string& taskId, const std::string& agent, const std::string& frameworkId,
              const std::string& executorId);
  // Reads what is left once more, then stops following the task; returns
  // when its output has been copied.
  void finish(const std::string& taskId);

 private:
  struct Followed {
    std::string agent, sandbox, task;
    uint64_t offsets[2] = {0, 0};
    std::string partial[2];  // an unfinished last line, when prefixing
    bool finishing = false;
  };
  void loop();
  void drain(Followed& followed);
  void emit(int stream, Followed& followed, const std::string& data);

  bool prefix_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::map<std::string, Followed> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace nucleo::frameworks
