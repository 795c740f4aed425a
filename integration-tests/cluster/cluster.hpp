#pragma once
// A local cluster for end-to-end tests: the real nucleo-master and
// nucleo-agent binaries on loopback (the agent optionally in a network
// namespace of the test's own), the busybox test image imported into the
// agent's image store, and a framework written with the SDK that records
// every update (acknowledged implicitly by the driver).

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sdk/scheduler.hpp"

namespace nucleo::e2e {

using namespace std::chrono_literals;

// A child process with its output appended to a log file; SIGKILLed and
// reaped when dropped.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::string& log);
  ~Child();
  pid_t pid() const { return pid_; }
  void kill(int signal);
  // Waits for the exit; the wait status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
};

uint16_t freePort();

// Moves the calling process, once, into its own mount namespace with private
// propagation, so that the containers' overlay mounts go away with it.
// "" on success, otherwise what failed.
std::string enterPrivateMountNamespace();

struct ClusterOptions {
  std::string agentResources = "cpus:4;mem:4096;disk:1000";
  std::string agentNetns;  // run the agent in this named netns (/run/netns/NAME)
  std::string masterIp = "127.0.0.1";
  std::string agentIp = "127.0.0.1";
  std::vector<std::string> masterFlags;
  std::vector<std::string> agentFlags;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();

  // Empty when the cluster is up; else why not (the test fails with it).
  std::string start();
  void startMaster();
  void startAgent();
  void killMaster(int signal) { master_.reset(); (void)signal; }
  void killAgent() { agent_.reset(); }
  bool agentRegistered(std::chrono::milliseconds timeout);
  std::string masterAddress() const;
  std::string agentAddress() const;
  std::string agentMetrics() const;
  std::string logs() const;
  const std::string& dir() const { return dir_; }

 private:
  ClusterOptions options_;
  std::string dir_;
  uint16_t masterPort_ = 0, agentPort_ = 0;
  std::unique_ptr<Child> master_, agent_;
};

// A framework for tests: launches what is queued on the next offers, records
// each task's updates, declines the rest.
class Framework : public sdk::Scheduler {
 public:
  struct Launch {
    std::vector<mesos::v1::TaskInfo> tasks;        // a LAUNCH, or
    std::optional<mesos::v1::ExecutorInfo> executor;  // with a group: LAUNCH_GROUP
    std::optional<mesos::v1::TaskGroupInfo> group;
  };

  // Queues a launch for the next offer that fits it.
  void queue(Launch launch);
  // Waits until `task` has reached `state`.
  bool waitFor(const std::string& task, mesos::v1::TaskState state,
               std::chrono::milliseconds timeout = 30s);
  bool waitUntil(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);
  std::vector<mesos::v1::TaskStatus> updates(const std::string& task);
  std::optional<mesos::v1::TaskStatus> last(const std::string& task);
  int subscriptions();
  std::string frameworkId();
  double declineRefuseSeconds = 1;
  size_t maxLaunchesPerOffer = 1000;

  void subscribed(sdk::SchedulerDriver&, const mesos::v1::scheduler::Event::Subscribed&) override;
  void offers(sdk::SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override;
  void update(sdk::SchedulerDriver&, const mesos::v1::TaskStatus& status) override;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Launch> pending_;
  std::map<std::string, std::vector<mesos::v1::TaskStatus>> updates_;
  int subscriptions_ = 0;
  std::string frameworkId_;
};

// A driver running on its own thread.
class RunningDriver {
 public:
  RunningDriver(sdk::Scheduler& scheduler, sdk::SchedulerOptions options);
  ~RunningDriver();
  sdk::SchedulerDriver& driver() { return driver_; }
  // Ends the subscription (the framework stays registered, as after a crash).
  void stop();

 private:
  sdk::SchedulerDriver driver_;
  std::thread thread_;
};

sdk::SchedulerOptions frameworkOptions(const std::string& master, const std::string& name,
                                       double failoverTimeoutSeconds = 0);
// 64 MB: `nucleo create` itself runs inside the container's cgroup.
mesos::v1::TaskInfo commandTask(const std::string& id, const std::string& command,
                                double cpus = 0.1, double mem = 64, bool image = true);

}  // namespace nucleo::e2e
