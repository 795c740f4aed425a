#pragma once
// What the agent checkpoints under <work>/meta, laid out as Mesos does:
//   meta/slaves/latest -> <agent id>            (symlink)
//   meta/slaves/<a>/slave.info                  AgentInfo
//   .../frameworks/<f>/framework.info           FrameworkInfo
//   .../executors/<e>/executor.info             ExecutorInfo
//   .../executors/<e>/runs/<container>/         one directory per run; `completed` when over
//   .../runs/<c>/tasks/<t>/task.info            TaskInfo
//   .../runs/<c>/tasks/<t>/task.updates         the status update stream
// Every file but task.updates is written atomically (temp file, fsync,
// rename); task.updates is appended and fsynced (status_update.hpp).

#include <map>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "mesos/v1/mesos.pb.h"

namespace nucleo::agent {

// Ids become path components: [A-Za-z0-9_.-]{1,255}, not "." or "..". The
// error names the kind and the value.
Status validatePathId(const std::string& kind, const std::string& id);

class CheckpointPaths {
 public:
  explicit CheckpointPaths(std::string metaDir) : meta_(std::move(metaDir)) {}
  const std::string& meta() const { return meta_; }
  std::string agent(const std::string& a) const;
  std::string framework(const std::string& a, const std::string& f) const;
  std::string executor(const std::string& a, const std::string& f, const std::string& e) const;
  std::string run(const std::string& a, const std::string& f, const std::string& e,
                  const std::string& c) const;
  std::string task(const std::string& a, const std::string& f, const std::string& e,
                   const std::string& c, const std::string& t) const;
  std::string taskUpdates(const std::string& a, const std::string& f, const std::string& e,
                          const std::string& c, const std::string& t) const;

 private:
  std::string meta_;
};

struct TaskCheckpoint {
  mesos::v1::TaskInfo info;
  std::string updatesPath;
};
struct RunCheckpoint {
  std::string containerId;
  bool completed = false;
  std::map<std::string, TaskCheckpoint> tasks;
};
struct ExecutorCheckpoint {
  mesos::v1::ExecutorInfo info;
  std::map<std::string, RunCheckpoint> runs;
  std::string latestRun;
};
struct FrameworkCheckpoint {
  mesos::v1::FrameworkInfo info;
  std::map<std::string, ExecutorCheckpoint> executors;
};
struct AgentCheckpoint {
  std::string agentId;  // empty: never registered
  std::optional<mesos::v1::AgentInfo> info;
  std::map<std::string, FrameworkCheckpoint> frameworks;
};

// Writers; each makes the directories it needs. Errors name the path.
Status checkpointAgent(const CheckpointPaths& paths, const mesos::v1::AgentInfo& info);
Status checkpointFramework(const CheckpointPaths& paths, const std::string& agentId,
                           const mesos::v1::FrameworkInfo& info);
// Writes executor.info and creates runs/<containerId> (runs/latest points to it).
Status checkpointExecutor(const CheckpointPaths& paths, const std::string& agentId,
                          const std::string& frameworkId, const mesos::v1::ExecutorInfo& info,
                          const std::string& containerId);
Status checkpointTask(const CheckpointPaths& paths, const std::string& agentId,
                      const std::string& frameworkId, const std::string& executorId,
                      const std::string& containerId, const mesos::v1::TaskInfo& task);
// The run is over (container destroyed, every terminal update acknowledged).
Status markRunCompleted(const CheckpointPaths& paths, const std::string& agentId,
                        const std::string& frameworkId, const std::string& executorId,
                        const std::string& containerId);

// Reads the latest agent's checkpoint. A missing meta dir gives an empty
// state; an unreadable or corrupt file is an error naming it.
Result<AgentCheckpoint> recoverCheckpoint(const CheckpointPaths& paths);

// Points `link` at `target` atomically (symlink to a temp name, rename).
Status replaceSymlink(const std::string& target, const std::string& link);

}  // namespace nucleo::agent
