#include "integration-tests/cluster/cluster.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/fs.hpp"
#include "sdk/http_client.hpp"
#include "sdk/resources.hpp"

namespace nucleo::e2e {

Child::Child(std::vector<std::string> argv, const std::string& log) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
}

Child::~Child() { kill(SIGKILL); }

void Child::kill(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Child::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

std::string enterPrivateMountNamespace() {
  static std::string failure = [] {
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    if (::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return std::string("make / private: ") + std::strerror(errno);
    return std::string();
  }();
  return failure;
}

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  char pattern[] = "/tmp/nucleo-cluster-it-XXXXXX";
  if (::mkdtemp(pattern) != nullptr) dir_ = pattern;
  masterPort_ = freePort();
  agentPort_ = freePort();
}

Cluster::~Cluster() {
  agent_.reset();
  // A clean-up run of the agent destroys every container it left.
  if (!dir_.empty() && fs::exists(dir_ + "/agent")) {
    std::vector<std::string> argv{NUCLEO_AGENT_BIN, "--master", "127.0.0.1:1", "--work-dir",
                                  dir_ + "/agent", "--recover", "cleanup", "--port", "0",
                                  "--cgroup-parent", "/nucleo-cluster-it"};
    Child cleanup(argv, dir_ + "/cleanup.log");
    cleanup.wait(3s);
  }
  master_.reset();
  for (const char* controller : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                                 "pids", "unified", ""})
    ::rmdir((std::string("/sys/fs/cgroup/") + controller + "/nucleo-cluster-it").c_str());
  if (!dir_.empty() && std::getenv("NUCLEO_KEEP_LOGS") == nullptr) (void)fs::removeAll(dir_);
}

std::string Cluster::start() {
  if (dir_.empty()) return "cannot make a temporary directory";
  std::string store = dir_ + "/agent/images";
  if (!fs::makeDirs(store)) return "cannot make " + store;
  Child import({NUCLEO_BIN, "image", "--store", store, "import", NUCLEO_TEST_IMAGE, "busybox:latest"},
               dir_ + "/import.log");
  if (import.wait(60s) != 0) return "importing the busybox test image failed: " + logs();
  startMaster();
  startAgent();
  if (!agentRegistered(20s)) return "the agent did not register: " + logs();
  return "";
}

void Cluster::startMaster() {
  std::vector<std::string> argv{NUCLEO_MASTER_BIN, "--ip", options_.masterIp, "--port",
                                std::to_string(masterPort_), "--work-dir", dir_ + "/master",
                                "--heartbeat-interval", "1secs", "--allocation-interval", "100ms"};
  argv.insert(argv.end(), options_.masterFlags.begin(), options_.masterFlags.end());
  master_ = std::make_unique<Child>(argv, dir_ + "/master.log");
  for (int i = 0; i < 100; ++i) {
    auto health = sdk::httpRequest(masterAddress(), "GET", "/health", {}, "", 1s);
    if (health && health->head.status == 200) return;
    std::this_thread::sleep_for(50ms);
  }
}

void Cluster::startAgent() {
  std::vector<std::string> argv;
  // nsenter, not `ip netns exec`: the latter also remounts /sys, which hides
  // the cgroup mounts the containers need.
  if (!options_.agentNetns.empty()) argv = {"nsenter", "--net=/run/netns/" + options_.agentNetns, "--"};
  for (std::string arg :
       {std::string(NUCLEO_AGENT_BIN), std::string("--master"), masterAddress(), std::string("--ip"),
        options_.agentIp, std::string("--port"), std::to_string(agentPort_), std::string("--work-dir"),
        dir_ + "/agent", std::string("--resources"), options_.agentResources, std::string("--runtime"),
        std::string(NUCLEO_BIN), std::string("--supervisor"), std::string(NUCLEO_SUPERVISOR_BIN),
        std::string("--cgroup-parent"), std::string("/nucleo-cluster-it"),
        std::string("--status-update-retry-min"), std::string("500ms"),
        std::string("--registration-backoff-max"), std::string("2secs"),
        std::string("--master-ping-timeout"), std::string("5secs")})
    argv.push_back(arg);
  argv.insert(argv.end(), options_.agentFlags.begin(), options_.agentFlags.end());
  agent_ = std::make_unique<Child>(argv, dir_ + "/agent.log");
}

bool Cluster::agentRegistered(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (agentMetrics().find("nucleo_agent_registered 1") != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string Cluster::masterAddress() const {
  return options_.masterIp + ":" + std::to_string(masterPort_);
}

std::string Cluster::agentAddress() const {
  return options_.agentIp + ":" + std::to_string(agentPort_);
}

std::string Cluster::agentMetrics() const {
  auto metrics = sdk::httpRequest(agentAddress(), "GET", "/metrics", {}, "", 2s);
  return metrics ? metrics->body : "";
}

std::string Cluster::logs() const {
  std::string text;
  for (const char* name : {"/import.log", "/master.log", "/agent.log"}) {
    auto log = fs::readFile(dir_ + name);
    if (log) text += std::string("\n--- ") + name + "\n" + log->substr(log->size() > 6000 ? log->size() - 6000 : 0);
  }
  return text;
}

void Framework::queue(Launch launch) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(launch));
}

void Framework::subscribed(sdk::SchedulerDriver&,
                           const mesos::v1::scheduler::Event::Subscribed& subscribed) {
  std::lock_guard lock(mutex_);
  ++subscriptions_;
  frameworkId_ = subscribed.framework_id().value();
  changed_.notify_all();
}

namespace {
// The task's scalars carved out of the offer, with the offer's metadata.
bool fit(mesos::v1::TaskInfo* task, sdk::ResourceList* available, const mesos::v1::AgentID& agent) {
  auto taken = sdk::take(available, sdk::scalars(task->resources()));
  if (!taken) return false;
  task->clear_resources();
  for (auto& resource : *taken) *task->add_resources() = std::move(resource);
  *task->mutable_agent_id() = agent;
  return true;
}
}  // namespace

void Framework::offers(sdk::SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) {
  std::lock_guard lock(mutex_);
  for (const auto& offer : offers) {
    auto available = offer.resources();
    std::vector<mesos::v1::Offer::Operation> operations;
    for (auto launch = pending_.begin();
         launch != pending_.end() && operations.size() < maxLaunchesPerOffer;) {
      auto attempt = available;
      Launch fitted = *launch;
      bool fits = true;
      for (auto& task : fitted.tasks) {
        fits = fits && fit(&task, &attempt, offer.agent_id());
        if (fits && task.has_executor()) {
          auto* executor = task.mutable_executor();
          auto taken = sdk::take(&attempt, sdk::scalars(executor->resources()));
          fits = taken.has_value();
          if (fits) {
            executor->clear_resources();
            for (auto& resource : *taken) *executor->add_resources() = resource;
            executor->mutable_framework_id()->set_value(frameworkId_);
          }
        }
      }
      if (fitted.group) {
        for (auto& task : *fitted.group->mutable_tasks()) fits = fits && fit(&task, &attempt, offer.agent_id());
        auto executorResources = sdk::take(&attempt, sdk::scalars(fitted.executor->resources()));
        fits = fits && executorResources.has_value();
        if (fits) {
          fitted.executor->clear_resources();
          for (auto& resource : *executorResources) *fitted.executor->add_resources() = resource;
          fitted.executor->mutable_framework_id()->set_value(frameworkId_);
        }
      }
      if (!fits) {
        ++launch;
        continue;
      }
      available = attempt;
      mesos::v1::Offer::Operation operation;
      if (fitted.group) {
        operation.set_type(mesos::v1::Offer::Operation::LAUNCH_GROUP);
        *operation.mutable_launch_group()->mutable_executor() = *fitted.executor;
        *operation.mutable_launch_group()->mutable_task_group() = *fitted.group;
      } else {
        operation.set_type(mesos::v1::Offer::Operation::LAUNCH);
        for (auto& task : fitted.tasks) *operation.mutable_launch()->add_task_infos() = task;
      }
      operations.push_back(std::move(operation));
      launch = pending_.erase(launch);
    }
    mesos::v1::Filters filters;
    filters.set_refuse_seconds(declineRefuseSeconds);
    if (operations.empty())
      driver.decline({offer.id()}, filters);
    else
      driver.accept({offer.id()}, operations, filters);
  }
}

void Framework::update(sdk::SchedulerDriver&, const mesos::v1::TaskStatus& status) {
  std::lock_guard lock(mutex_);
  updates_[status.task_id().value()].push_back(status);
  changed_.notify_all();
}

bool Framework::waitFor(const std::string& task, mesos::v1::TaskState state,
                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    for (const auto& status : updates_[task])
      if (status.state() == state) return true;
    return false;
  });
}

bool Framework::waitUntil(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return predicate();
}

std::vector<mesos::v1::TaskStatus> Framework::updates(const std::string& task) {
  std::lock_guard lock(mutex_);
  return updates_[task];
}

std::optional<mesos::v1::TaskStatus> Framework::last(const std::string& task) {
  std::lock_guard lock(mutex_);
  if (updates_[task].empty()) return std::nullopt;
  return updates_[task].back();
}

int Framework::subscriptions() {
  std::lock_guard lock(mutex_);
  return subscriptions_;
}

std::string Framework::frameworkId() {
  std::lock_guard lock(mutex_);
  return frameworkId_;
}

RunningDriver::RunningDriver(sdk::Scheduler& scheduler, sdk::SchedulerOptions options)
    : driver_(scheduler, std::move(options)), thread_([this] { (void)driver_.run(); }) {}

RunningDriver::~RunningDriver() { stop(); }

void RunningDriver::stop() {
  if (!thread_.joinable()) return;
  driver_.stop();
  thread_.join();
}

sdk::SchedulerOptions frameworkOptions(const std::string& master, const std::string& name,
                                       double failoverTimeoutSeconds) {
  sdk::SchedulerOptions options;
  options.master = master;
  options.framework.set_user("root");
  options.framework.set_name(name);
  options.framework.set_failover_timeout(failoverTimeoutSeconds);
  options.framework.add_capabilities()->set_type(
      mesos::v1::FrameworkInfo::Capability::PARTITION_AWARE);
  options.backoffMin = 100ms;
  options.backoffMax = 1s;
  return options;
}

mesos::v1::TaskInfo commandTask(const std::string& id, const std::string& command, double cpus,
                                double mem, bool image) {
  mesos::v1::TaskInfo task;
  task.set_name(id);
  task.mutable_task_id()->set_value(id);
  task.mutable_command()->set_value(command);
  *task.add_resources() = sdk::scalar("cpus", cpus);
  *task.add_resources() = sdk::scalar("mem", mem);
  if (image) {
    auto* container = task.mutable_container();
    container->set_type(mesos::v1::ContainerInfo::MESOS);
    container->mutable_mesos()->mutable_image()->set_type(mesos::v1::Image::DOCKER);
    container->mutable_mesos()->mutable_image()->mutable_docker()->set_name("busybox:latest");
  }
  return task;
}

}  // namespace nucleo::e2e
