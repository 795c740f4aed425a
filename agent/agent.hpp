#pragma once
// The node agent's state machine (Mesos's Slave): frameworks, executors and
// tasks; what the master's events do; executor and operator API calls;
// recovery from the checkpoint after a restart. Single-threaded: every
// method runs on the agent's one strand. The containerizer, the fetcher and
// the transport are injected (AgentDeps), so tests drive it with fakes.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/checkpoint.hpp"
#include "agent/containers/containers.hpp"
#include "agent/flags.hpp"
#include "agent/health/health_checker.hpp"
#include "agent/status_update.hpp"
#include "base/clock.hpp"
#include "mesos/v1/agent/agent.pb.h"
#include "mesos/v1/executor/executor.pb.h"
#include "nucleo/agent.pb.h"

namespace nucleo::agent {

// What the agent needs of agent/containers (Containers); tests use a fake.
class ContainerBackend {
 public:
  virtual ~ContainerBackend() = default;
  // `network`: the ContainerInfo whose network_infos choose the pod's network.
  virtual Status createPod(const std::string& podId,
                           const std::optional<mesos::v1::ContainerInfo>& network) = 0;
  virtual Status destroyPod(const std::string& podId) = 0;
  virtual Result<pid_t> launch(const ContainerLaunch& launch) = 0;
  virtual Result<UniqueFd> exitFd(const std::string& containerId) = 0;
  virtual Result<std::optional<ContainerExit>> exitOf(const std::string& containerId) = 0;
  virtual Status kill(const std::string& containerId, std::chrono::milliseconds grace) = 0;
  virtual Status destroy(const std::string& containerId) = 0;
  virtual Result<std::vector<ContainerInfoOnDisk>> recover() = 0;
  virtual Result<Containers::Usage> usage(const std::string& containerId) = 0;
  // The container's IPv4 addresses; none on the host's network.
  virtual Result<std::vector<std::string>> ipAddresses(const std::string&) {
    return std::vector<std::string>();
  }
  // `command` made to run inside the container (a health check's COMMAND
  // probe, as Mesos runs it in the task's container); by default unchanged.
  virtual mesos::v1::CommandInfo inContainer(const std::string&, const mesos::v1::CommandInfo& command) {
    return command;
  }
};

// An executor's SUBSCRIBE stream as the HTTP layer holds it.
class ExecutorChannel {
 public:
  virtual ~ExecutorChannel() = default;
  // Queues one event; false when the stream is closed or full.
  virtual bool send(const mesos::v1::executor::Event& event) = 0;
  virtual void close() = 0;
};

struct AgentDeps {
  ContainerBackend* containers = nullptr;
  // Fetches CommandInfo.uris into a sandbox (Fetcher::fetch); may block.
  std::function<Status(const std::vector<mesos::v1::CommandInfo::URI>&, const std::string&)> fetch;
  const Clock* clock = nullptr;
  // Sends a call to the master; dropped when not connected (the status
  // update manager resends).
  std::function<void(const nucleo::agent::Call&)> toMaster;
  // Runs a health check's COMMAND probe (HealthCheck COMMAND); default: on
  // the host (runHostCommand).
  CommandRunner healthCommand;
  // Runs `work` off the agent's strand, then the continuation it returns on
  // the strand. Tests run both inline.
  std::function<void(std::function<std::function<void()>()> work)> offload;
  // Calls Agent::containerExited(id) when `fd` (Containers::exitFd) becomes
  // readable. Without it the agent polls exitOf() from tick().
  std::function<void(const std::string& containerId, UniqueFd fd)> watchExit;
};

// A reply of the executor or operator API: an HTTP status and a text body
// (errors) or a response message (200).
struct ApiAnswer {
  int status = 202;
  std::string error;
  std::optional<mesos::v1::agent::Response> response;
};

class Agent {
 public:
  Agent(AgentOptions options, std::vector<mesos::v1::Resource> resources,
        std::vector<mesos::v1::Attribute> attributes, AgentDeps deps);

  // Reads the checkpoint and the containers on disk: reattaches to running
  // ones, learns the exits of those that ended while the agent was down
  // (their final updates are queued), destroys containers it does not know.
  // Frameworks without FrameworkInfo.checkpoint are not recovered, as in
  // Mesos: their containers are destroyed and their unfinished tasks get
  // TASK_LOST (REASON_AGENT_RESTARTED) from the agent itself, reliably.
  // With --recover cleanup everything is destroyed and forgotten.
  Status recover();

  // The REGISTER call: AgentInfo (with the id once known) and every task.
  nucleo::agent::Call registerCall() const;
  void registered(const nucleo::agent::Event::Registered& registered);
  // The master link went down: updates wait until the next registration.
  void disconnected();
  // The master refused the agent (gone, or SHUTDOWN): kill everything, forget
  // the checkpoint, register afresh as a new agent.
  void shutdownAgent(const std::string& reason);
  // RUN_TASK, RUN_TASK_GROUP, KILL_TASK, ACKNOWLEDGE, SHUTDOWN_*, FRAMEWORK_MESSAGE.
  void handleEvent(const nucleo::agent::Event& event);
  // The container's supervisor recorded its exit.
  void containerExited(const std::string& containerId);
  // Status update resends, executor registration timeouts, exit polling.
  void tick();

  // POST /api/v1/executor. SUBSCRIBE answers 200 and keeps `channel`.
  ApiAnswer executorSubscribe(const mesos::v1::executor::Call& call,
                              std::shared_ptr<ExecutorChannel> channel);
  ApiAnswer executorCall(const mesos::v1::executor::Call& call);
  void executorDisconnected(const ExecutorChannel* channel);
  // POST /api/v1 (operator API).
  ApiAnswer operatorCall(const mesos::v1::agent::Call& call);
  // GET /metrics.
  std::string metricsText();
  // Sandbox directories (host paths) of the executor runs it knows, running
  // and the last 1000 completed ones.
  std::vector<std::string> sandboxes() const;

  const std::string& agentId() const { return agentId_; }
  bool isRegistered() const { return registered_; }
  size_t pendingUpdates() const { return updates_.pending(); }

 private:
  enum class Kind { Command, Custom, Group };
  enum class Phase { Launching, Running, Terminating, Terminated };
  struct TaskRec {
    mesos::v1::TaskInfo info;
    mesos::v1::TaskState state = mesos::v1::TASK_STAGING;
    std::string containerId;  // command and group tasks
    bool killing = false;
    bool launched = false;
    std::optional<ContainerExit> exit;
    std::optional<HealthCheckState> health;  // with TaskInfo.health_check, once running
    bool probing = false;
    // Custom executors: the first task id of the LAUNCH_GROUP this task came
    // in ("" = a plain LAUNCH); queued tasks of one group go out as one event.
    std::string group;
  };
  struct ExecRec {
    Kind kind = Kind::Command;
    mesos::v1::ExecutorInfo info;
    std::string frameworkId;
    std::string containerId;  // the run: the task's, the executor's or the pod's
    std::string sandbox;
    Phase phase = Phase::Launching;
    std::map<std::string, TaskRec> tasks;
    std::vector<std::string> queued;  // custom: waiting for SUBSCRIBE
    std::shared_ptr<ExecutorChannel> channel;
    Clock::TimePoint registrationDeadline{};  // {} once subscribed
    bool recovered = false;  // from the checkpoint, not re-subscribed yet
    std::set<std::string> live;  // containers not exited yet
    Clock::TimePoint shutdownDeadline{};
  };
  struct FwRec {
    mesos::v1::FrameworkInfo info;
    std::map<std::string, ExecRec> executors;
  };
  struct Owner {
    std::string frameworkId, executorId, taskId;  // taskId: group tasks only
  };

  // agent.cpp: master events and launches.
  void runTask(const nucleo::agent::Event::RunTask& run);
  void runTaskGroup(const nucleo::agent::Event::RunTaskGroup& run);
  Status validateGroup(const FwRec* fw, const nucleo::agent::Event::RunTaskGroup& run,
                       bool custom) const;
  Result<ExecRec*> groupExecutor(FwRec& fw, const mesos::v1::ExecutorInfo& info, bool custom);
  void killTask(const nucleo::agent::Event::KillTask& kill);
  void acknowledge(const nucleo::agent::Event::Acknowledge& ack);
  void shutdownExecutor(FwRec& fw, ExecRec& ex, const std::string& why);
  void shutdownFramework(const std::string& frameworkId);
  Status validateTask(const FwRec* fw, const mesos::v1::TaskInfo& task) const;
  void rejectTask(const std::string& frameworkId, const mesos::v1::TaskInfo& task,
                  mesos::v1::TaskState state, mesos::v1::TaskStatus::Reason reason,
                  const std::string& message);
  Result<ExecRec*> newExecutor(FwRec& fw, Kind kind, const mesos::v1::ExecutorInfo& info);
  FwRec& ensureFramework(const mesos::v1::FrameworkInfo& info);
  void launchCommand(FwRec& fw, ExecRec& ex, const std::string& taskId);
  void launchGroupTasks(FwRec& fw, ExecRec& ex, std::vector<std::string> taskIds);
  void launchExecutor(FwRec& fw, ExecRec& ex);
  void launched(const std::string& frameworkId, const std::string& executorId,
                const std::string& taskId, const std::string& containerId,
                const Result<pid_t>& result, bool fetchFailed);
  ContainerLaunch taskLaunch(const ExecRec& ex, const TaskRec& task,
                             const std::string& containerId) const;
  std::map<std::string, std::string> executorEnvironment(const FwRec& fw, const ExecRec& ex) const;
  void watch(const std::string& containerId);
  void taskExited(FwRec& fw, ExecRec& ex, TaskRec& task, const ContainerExit& exit);
  void executorExited(FwRec& fw, ExecRec& ex, const ContainerExit& exit);
  void sendStatus(ExecRec& ex, TaskRec& task, mesos::v1::TaskState state,
                  std::optional<mesos::v1::TaskStatus::Reason> reason,
                  const std::string& message, std::optional<bool> healthy = std::nullopt);
  void probeHealth();
  void healthResult(const std::string& frameworkId, const std::string& executorId,
                    const std::string& taskId, bool healthy);
  void forward(ExecRec& ex, TaskRec& task, mesos::v1::TaskStatus status);
  void maybeFinishExecutor(FwRec& fw, ExecRec& ex);
  std::chrono::milliseconds graceOf(const TaskRec& task,
                                    const mesos::v1::KillPolicy* override) const;
  std::string sandboxPath(const std::string& fw, const std::string& ex,
                          const std::string& container) const;
  std::string updatesPath(const ExecRec& ex, const std::string& taskId) const;
  std::pair<FwRec*, ExecRec*> findTask(const std::string& frameworkId, const std::string& taskId);
  void sendToExecutor(ExecRec& ex, const mesos::v1::executor::Event& event);
  void deliverQueued(FwRec& fw, ExecRec& ex);
  void expireRegistrations();

  // agent_recover.cpp
  Status recoverFramework(const FrameworkCheckpoint& fw,
                          const std::map<std::string, ContainerInfoOnDisk>& onDisk,
                          std::set<std::string>& known);
  void recoverRun(FwRec& fw, const ExecutorCheckpoint& executor, const RunCheckpoint& run,
                  const std::map<std::string, ContainerInfoOnDisk>& onDisk,
                  std::set<std::string>& known);
  void loseRun(FwRec& fw, const ExecutorCheckpoint& executor, const RunCheckpoint& run,
               const std::map<std::string, ContainerInfoOnDisk>& onDisk,
               std::set<std::string>& known);
  void destroyEverything();

  // agent_api.cpp
  mesos::v1::Task taskOf(const ExecRec& ex, const TaskRec& task) const;
  void fillTasks(mesos::v1::agent::Response::GetTasks* out) const;
  void fillExecutors(mesos::v1::agent::Response::GetExecutors* out) const;
  void fillFrameworks(mesos::v1::agent::Response::GetFrameworks* out) const;
  void fillContainers(mesos::v1::agent::Response::GetContainers* out);

  AgentOptions options_;
  AgentDeps deps_;
  mesos::v1::AgentInfo info_;
  std::string agentId_;
  bool registered_ = false;
  CheckpointPaths paths_;
  StatusUpdateManager updates_;
  std::map<std::string, FwRec> frameworks_;
  std::map<std::string, Owner> containers_;  // container id -> owner
  std::deque<std::string> completedSandboxes_;  // newest last
  Clock::TimePoint nextPoll_{};
  uint64_t tasksLaunched_ = 0;
  std::map<mesos::v1::TaskState, uint64_t> terminalCounts_;
};

// Whether a LAUNCH_GROUP's executor is a custom one (type CUSTOM with a
// CommandInfo), launched as an executor container and sent LAUNCH_GROUP;
// otherwise the group runs as the agent's own pod (Mesos's default executor).
bool isCustomGroupExecutor(const mesos::v1::ExecutorInfo& info);

// The container id of a task in a pod: "<pod>.<16 hex of sha256(task id)>".
std::string groupContainerId(const std::string& podId, const std::string& taskId);

// Mesos's message for an exit: "Command exited with status N" or
// "Command terminated with signal NAME".
std::string describeExit(int waitStatus);

}  // namespace nucleo::agent
