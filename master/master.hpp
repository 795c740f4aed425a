#pragma once
// The master's state machine: frameworks, agents, tasks and offers, driven by
// decoded calls and by tick(). It knows nothing of HTTP beyond status codes:
// the server decodes requests, hands each call here on the master's strand
// and writes the Response. Single-threaded by contract (one strand).

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "master/allocator/allocator.hpp"
#include "master/allocator/offer_book.hpp"
#include "master/event_stream.hpp"
#include "master/options.hpp"
#include "master/registry.hpp"
#include "mesos/v1/master/master.pb.h"
#include "mesos/v1/scheduler/scheduler.pb.h"
#include "nucleo/agent.pb.h"

namespace nucleo::master {

// What an HTTP call answers: 200 (with streamId for a subscription), 202, or
// an error status with a one-line text body.
struct Response {
  int status = 202;
  std::string body;
  std::string streamId;
};

// Who sent a call, as the HTTP layer saw it.
struct CallContext {
  std::string streamId;    // the Mesos-Stream-Id header, if any
  std::string principal;   // the authenticated principal, if any
  std::string remoteIp;    // the peer's address
};

// What an operator API call answers: 200 with `response`, or an error status
// with a one-line text.
struct OperatorAnswer {
  int status = 200;
  std::string error;
  mesos::v1::master::Response response;
};

// Counters for /metrics.
struct MasterCounters {
  uint64_t offersSent = 0;
  uint64_t offersDeclined = 0;
  uint64_t offersRescinded = 0;
  uint64_t tasksLaunched = 0;
  uint64_t tasksInvalid = 0;
  uint64_t allocationCycles = 0;
  double lastAllocationSeconds = 0;
  double maxAllocationSeconds = 0;
};

class Master {
 public:
  // With a registry, recover() must be called before any call, and changes
  // to agents and frameworks are stored at the next tick().
  Master(MasterOptions options, const Clock& clock, Registry* registry = nullptr);

  // Loads the registry: its agents are recovered until they re-register, its
  // frameworks until they re-subscribe or their failover_timeout passes, its
  // removed frameworks stay removed. Errors name the registry.
  Status recover();

  // POST /api/v1/scheduler. For SUBSCRIBE `stream` is the response stream
  // the master keeps on success (status 200); other calls ignore it.
  Response schedulerCall(const mesos::v1::scheduler::Call& call, const CallContext& context,
                         std::shared_ptr<EventStream> stream);
  // POST /api/v1/nucleo/agent (see proto/nucleo/agent.proto).
  Response agentCall(const nucleo::agent::Call& call, const CallContext& context,
                     std::shared_ptr<EventStream> stream);
  // POST /api/v1: GET_HEALTH, GET_VERSION, GET_FLAGS, GET_METRICS, GET_STATE, GET_AGENTS,
  // GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, GET_MASTER, TEARDOWN,
  // DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE; 501 for the others.
  OperatorAnswer operatorCall(const mesos::v1::master::Call& call);
  // POST /api/v1 SUBSCRIBE: sends SUBSCRIBED (the whole state) on `stream`
  // and then every change; 200, or 503 beyond --max-operator-subscribers.
  Response operatorSubscribe(std::shared_ptr<EventStream> stream);
  // A subscriber's connection ended (reader gone or queue overflow).
  void streamClosed(const EventStream* stream);

  // Time-driven work: offer timeouts, heartbeats, agent health, framework
  // failover timeouts, and an allocation cycle when one is due.
  void tick();
  // Runs an allocation cycle now and sends the offers.
  void allocate();

  const MasterOptions& options() const { return options_; }
  const MasterCounters& counters() const { return counters_; }
  const std::string& id() const { return id_; }
  // State for /state, /metrics and tests, as JSON in the shape of Mesos's
  // /master/state (frameworks with tasks and offers, agents).
  std::string stateJson() const;
  // Prometheus text exposition of the master's gauges and counters.
  std::string metricsText() const;

 private:
  struct Task {
    mesos::v1::Task task;
    std::string role;
    Resources resources;  // task plus a new executor's resources
  };
  struct Framework {
    std::string id;
    mesos::v1::FrameworkInfo info;
    std::vector<std::string> roles;
    std::shared_ptr<EventStream> stream;
    std::string streamId;
    bool partitionAware = false;
    bool multiRole = false;
    std::optional<Clock::TimePoint> failoverDeadline;
    Clock::TimePoint lastHeartbeat;
    std::map<std::string, Task> tasks;  // by task id
    // Terminal tasks whose last update was acknowledged, oldest first.
    std::deque<mesos::v1::Task> completedTasks;
    // executor id -> (agent id, info) for executor consistency checks
    std::map<std::pair<std::string, std::string>, mesos::v1::ExecutorInfo> executors;
  };
  struct Agent {
    std::string id;
    mesos::v1::AgentInfo info;
    std::string ip;
    std::shared_ptr<EventStream> stream;
    std::string streamId;
    Clock::TimePoint lastSeen;
    Clock::TimePoint lastPing;
    bool reachable = true;
    Resources total;
  };

  // scheduler calls
  Response subscribe(const mesos::v1::scheduler::Call& call, const CallContext& context,
                     std::shared_ptr<EventStream> stream);
  std::optional<Response> validateCall(const mesos::v1::scheduler::Call& call) const;
  std::optional<Response> validateSubscribe(const mesos::v1::scheduler::Call& call,
                                            const CallContext& context,
                                            std::vector<std::string>* roles,
                                            std::set<std::string>* suppressed) const;
  void teardown(Framework& framework);
  void accept(Framework& framework, const mesos::v1::scheduler::Call::Accept& accept);
  void decline(Framework& framework, const mesos::v1::scheduler::Call::Decline& decline);
  void kill(Framework& framework, const mesos::v1::scheduler::Call::Kill& kill);
  void acknowledge(Framework& framework, const mesos::v1::scheduler::Call::Acknowledge& ack);
  void reconcile(Framework& framework, const mesos::v1::scheduler::Call::Reconcile& reconcile);
  Response reviveOrSuppress(Framework& framework, const mesos::v1::scheduler::Call& call);
  // framework_update.cpp: UPDATE_FRAMEWORK and role changes on re-subscription.
  std::optional<Response> validateRoles(const mesos::v1::FrameworkInfo& info,
                                        const google::protobuf::RepeatedPtrField<std::string>& suppressedRoles,
                                        std::vector<std::string>* roles,
                                        std::set<std::string>* suppressed) const;
  Response updateFramework(Framework& framework, const mesos::v1::scheduler::Call& call,
                           const CallContext& context);
  // Applies a new FrameworkInfo (user and checkpoint kept) and roles to a
  // known framework: the allocator follows, offers of left or suppressed
  // roles are rescinded.
  void applyFrameworkInfo(Framework& framework, const mesos::v1::FrameworkInfo& info,
                          const std::vector<std::string>& roles,
                          const std::set<std::string>& suppressed);
  void completeTask(Framework& framework, std::map<std::string, Task>::iterator task);
  void forwardToAgent(const std::string& agentId, const nucleo::agent::Event& event);

  // accept helpers (accept.cpp)
  struct LaunchBudget;
  void launchTasks(Framework& framework, LaunchBudget& budget,
                   const mesos::v1::Offer::Operation& operation);
  void launchGroup(Framework& framework, LaunchBudget& budget,
                   const mesos::v1::Offer::Operation& operation);
  Status validateTask(const Framework& framework, const LaunchBudget& budget,
                      const mesos::v1::TaskInfo& task, Resources* needed) const;
  void startTask(Framework& framework, LaunchBudget& budget, const mesos::v1::TaskInfo& task,
                 const Resources& resources);
  mesos::v1::TaskStatus sendTaskStatus(Framework& framework, const mesos::v1::TaskID& taskId,
                      mesos::v1::TaskState state, mesos::v1::TaskStatus::Reason reason,
                      const std::string& message, const std::string& agentId = "");

  // operator API (operator.cpp)
  void fillAgents(mesos::v1::master::Response::GetAgents* out) const;
  void fillFrameworks(mesos::v1::master::Response::GetFrameworks* out) const;
  void fillTasks(mesos::v1::master::Response::GetTasks* out) const;
  void fillExecutors(mesos::v1::master::Response::GetExecutors* out) const;
  void fillAgent(const Agent& agent, mesos::v1::master::Response::GetAgents::Agent* out,
                 const Resources& allocated, const Resources& offered) const;
  void fillFramework(const Framework& framework,
                     mesos::v1::master::Response::GetFrameworks::Framework* out) const;
  void fillState(mesos::v1::master::Response::GetState* out) const;
  void fillFlags(mesos::v1::master::Response::GetFlags* out) const;
  void fillMetrics(mesos::v1::master::Response::GetMetrics* out) const;
  OperatorAnswer agentMaintenance(const mesos::v1::master::Call& call);
  void markGone(Agent& agent);
  void forgetAgent(const std::string& id);  // gone for good

  // maintenance.cpp: DRAIN_AGENT, roles and weights.
  OperatorAnswer drainAgent(const mesos::v1::master::Call::DrainAgent& drain);
  void killTasksForDrain(const std::string& agentId);
  void checkDrains();
  OperatorAnswer updateWeights(const mesos::v1::master::Call::UpdateWeights& update);
  void fillRoles(mesos::v1::master::Response::GetRoles* out) const;

  // operator_events.cpp: the operator SUBSCRIBE stream.
  void publish(const mesos::v1::master::Event& event);
  void publishTaskAdded(const mesos::v1::Task& task);
  void publishTaskUpdated(const std::string& frameworkId, const mesos::v1::TaskStatus& status,
                          mesos::v1::TaskState state);
  void publishAgentAdded(const Agent& agent);
  void publishAgentRemoved(const std::string& agentId);
  void publishFramework(const Framework& framework, bool added);
  void publishFrameworkRemoved(const mesos::v1::FrameworkInfo& info);

  // agents
  Response registerAgent(const nucleo::agent::Call& call, const CallContext& context,
                         std::shared_ptr<EventStream> stream);
  std::map<std::string, std::map<std::string, Resources>> reconcileAgentTasks(
      const std::string& id, const nucleo::agent::Call::Register& reg);
  void statusUpdate(const nucleo::agent::Call::StatusUpdate& update);
  void markUnreachable(Agent& agent);
  void expireRecoveredAgents();
  // Sends REGISTERED events held until the registry that admits their
  // agents is stored.
  void releaseRegistered();

  // frameworks
  void disconnect(Framework& framework);
  void removeFramework(const std::string& id);
  void rememberCompleted(const Framework& framework);
  void sendEvent(Framework& framework, const mesos::v1::scheduler::Event& event);
  void rescindOffers(const std::function<bool(const OfferRecord&)>& pred, bool notify);
  Framework* findFramework(const std::string& id);
  mesos::v1::MasterInfo masterInfo() const;
  // The reconciliation answer for a task the master does not know; none
  // while its agent may still re-register.
  std::optional<mesos::v1::TaskState> unknownTaskState(const Framework& framework,
                                                       const std::string& agentId) const;
  void updateTaskState(Framework& framework, Task& task, const mesos::v1::TaskStatus& status);
  void persist();

  MasterOptions options_;
  const Clock& clock_;
  std::string id_;
  Allocator allocator_;
  OfferBook offers_;
  std::unordered_map<std::string, Framework> frameworks_;
  std::set<std::string> completedFrameworks_;
  // The last removed frameworks with their tasks, newest last (Mesos keeps
  // --max_completed_frameworks = 50): what GET_FRAMEWORKS, GET_TASKS and
  // /state show after a framework is torn down. Not kept across restarts.
  struct CompletedFramework {
    mesos::v1::FrameworkInfo info;
    std::vector<mesos::v1::Task> tasks;
  };
  std::deque<CompletedFramework> completedFrameworkRecords_;
  std::unordered_map<std::string, Agent> agents_;
  std::map<const EventStream*, std::string> streamOwners_;  // stream -> "f:<id>" / "a:<id>"
  uint64_t nextFramework_ = 0;
  uint64_t nextAgent_ = 0;
  bool allocationDue_ = false;
  Clock::TimePoint lastAllocation_;
  MasterCounters counters_;
  Registry* registry_ = nullptr;
  bool registryDirty_ = false;
  std::map<std::string, mesos::v1::AgentInfo> recoveredAgents_;
  Clock::TimePoint recoveredAt_;
  // Recovered agents that did not re-register in time, and agents this
  // master saw go unreachable are in agents_ with reachable = false.
  std::map<std::string, mesos::v1::AgentInfo> unreachableAgents_;
  // Events for an agent's stream held until its admission is durable.
  struct PendingAgentEvent {
    std::string agentId;
    std::weak_ptr<EventStream> stream;  // a later registration's stream gets none
    nucleo::agent::Event event;
  };
  std::vector<PendingAgentEvent> pendingRegistered_;
  std::map<std::string, mesos::v1::master::DrainInfo> drains_;
  std::map<std::string, double> weights_;
  std::vector<std::shared_ptr<EventStream>> subscribers_;  // operator SUBSCRIBE
  Clock::TimePoint lastSubscriberHeartbeat_;
  std::set<std::string> goneAgents_;
  std::set<std::string> deactivatedAgents_;
  // id -> (info, time after which it is removed)
  std::map<std::string, std::pair<mesos::v1::FrameworkInfo, Clock::TimePoint>> recoveredFrameworks_;
};

}  // namespace nucleo::master
