#include "agent/checkpoint.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "base/fs.hpp"

namespace nucleo::agent {

namespace {

Status writeMessage(const std::string& path, const google::protobuf::Message& message) {
  std::string dir = path.substr(0, path.rfind('/'));
  TRY(fs::makeDirs(dir, 0700));
  return fs::writeFileAtomic(path, message.SerializeAsString(), 0600, fs::Durability::Synced);
}

Status readMessage(const std::string& path, google::protobuf::Message* message) {
  TRY_ASSIGN(std::string data, fs::readFile(path));
  if (!message->ParseFromString(data)) return Error::make("checkpoint '{}' is corrupt", path);
  return {};
}

// Subdirectory names of `dir` (none when it does not exist), without "latest".
std::vector<std::string> children(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || name == "latest") continue;
    if (entry->d_type == DT_DIR) out.push_back(name);
  }
  ::closedir(d);
  return out;
}

std::string readLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string target(buf, static_cast<size_t>(n));
  return target.substr(target.rfind('/') + 1);
}

Result<RunCheckpoint> recoverRun(const std::string& dir, const std::string& containerId) {
  RunCheckpoint run;
  run.containerId = containerId;
  run.completed = fs::exists(dir + "/completed");
  for (const auto& taskId : children(dir + "/tasks")) {
    std::string taskDir = dir + "/tasks/" + taskId;
    if (!fs::exists(taskDir + "/task.info")) continue;  // crashed before the write
    TaskCheckpoint task;
    TRY(readMessage(taskDir + "/task.info", &task.info));
    task.updatesPath = taskDir + "/task.updates";
    run.tasks[taskId] = std::move(task);
  }
  return run;
}

Result<FrameworkCheckpoint> recoverFramework(const std::string& dir) {
  FrameworkCheckpoint framework;
  TRY(readMessage(dir + "/framework.info", &framework.info));
  for (const auto& executorId : children(dir + "/executors")) {
    std::string exDir = dir + "/executors/" + executorId;
    if (!fs::exists(exDir + "/executor.info")) continue;
    ExecutorCheckpoint executor;
    TRY(readMessage(exDir + "/executor.info", &executor.info));
    executor.latestRun = readLink(exDir + "/runs/latest");
    for (const auto& containerId : children(exDir + "/runs")) {
      TRY_ASSIGN(auto run, recoverRun(exDir + "/runs/" + containerId, containerId));
      executor.runs[containerId] = std::move(run);
    }
    framework.executors[executorId] = std::move(executor);
  }
  return framework;
}

}  // namespace

Status validatePathId(const std::string& kind, const std::string& id) {
  if (id.empty() || id.size() > 255 || id == "." || id == "..")
    return Error::make("{} '{}' is empty, too long, '.' or '..'", kind, id);
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return Error::make("{} '{}' has a character outside [A-Za-z0-9_.-]", kind, id);
  }
  return {};
}

std::string CheckpointPaths::agent(const std::string& a) const {
  return meta_ + "/slaves/" + a;
}
std::string CheckpointPaths::framework(const std::string& a, const std::string& f) const {
  return agent(a) + "/frameworks/" + f;
}
std::string CheckpointPaths::executor(const std::string& a, const std::string& f,
                                      const std::string& e) const {
  return framework(a, f) + "/executors/" + e;
}
std::string CheckpointPaths::run(const std::string& a, const std::string& f,
                                 const std::string& e, const std::string& c) const {
  return executor(a, f, e) + "/runs/" + c;
}
std::string CheckpointPaths::task(const std::string& a, const std::string& f,
                                  const std::string& e, const std::string& c,
                                  const std::string& t) const {
  return run(a, f, e, c) + "/tasks/" + t;
}
std::string CheckpointPaths::taskUpdates(const std::string& a, const std::string& f,
                                         const std::string& e, const std::string& c,
                                         const std::string& t) const {
  return task(a, f, e, c, t) + "/task.updates";
}

Status replaceSymlink(const std::string& target, const std::string& link) {
  std::string tmp = fmt::format("{}.tmp-{}", link, ::getpid());
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return Error::fromErrno(fmt::format("symlink '{}'", tmp));
  if (::rename(tmp.c_str(), link.c_str()) != 0)
    return Error::fromErrno(fmt::format("rename '{}' to '{}'", tmp, link));
  return {};
}

Status checkpointAgent(const CheckpointPaths& paths, const mesos::v1::AgentInfo& info) {
  const std::string& id = info.id().value();
  TRY(validatePathId("agent id", id));
  TRY(writeMessage(paths.agent(id) + "/slave.info", info));
  return replaceSymlink(id, paths.meta() + "/slaves/latest");
}

Status checkpointFramework(const CheckpointPaths& paths, const std::string& agentId,
                           const mesos::v1::FrameworkInfo& info) {
  return writeMessage(paths.framework(agentId, info.id().value()) + "/framework.info", info);
}

Status checkpointExecutor(const CheckpointPaths& paths, const std::string& agentId,
                          const std::string& frameworkId, const mesos::v1::ExecutorInfo& info,
                          const std::string& containerId) {
  std::string dir = paths.executor(agentId, frameworkId, info.executor_id().value());
  TRY(writeMessage(dir + "/executor.info", info));
  TRY(fs::makeDirs(dir + "/runs/" + containerId, 0700));
  return replaceSymlink(containerId, dir + "/runs/latest");
}

Status checkpointTask(const CheckpointPaths& paths, const std::string& agentId,
                      const std::string& frameworkId, const std::string& executorId,
                      const std::string& containerId, const mesos::v1::TaskInfo& task) {
  return writeMessage(
      paths.task(agentId, frameworkId, executorId, containerId, task.task_id().value()) +
          "/task.info",
      task);
}

Status markRunCompleted(const CheckpointPaths& paths, const std::string& agentId,
                        const std::string& frameworkId, const std::string& executorId,
                        const std::string& containerId) {
  return fs::writeFileAtomic(paths.run(agentId, frameworkId, executorId, containerId) +
                                 "/completed",
                             "", 0600, fs::Durability::Synced);
}

Result<AgentCheckpoint> recoverCheckpoint(const CheckpointPaths& paths) {
  AgentCheckpoint state;
  state.agentId = readLink(paths.meta() + "/slaves/latest");
  if (state.agentId.empty()) return state;
  std::string dir = paths.agent(state.agentId);
  if (fs::exists(dir + "/slave.info")) {
    mesos::v1::AgentInfo info;
    TRY(readMessage(dir + "/slave.info", &info));
    state.info = std::move(info);
  }
  for (const auto& frameworkId : children(dir + "/frameworks")) {
    std::string fwDir = dir + "/frameworks/" + frameworkId;
    if (!fs::exists(fwDir + "/framework.info")) continue;
    TRY_ASSIGN(auto framework, recoverFramework(fwDir));
    state.frameworks[frameworkId] = std::move(framework);
  }
  return state;
}

}  // namespace nucleo::agent
