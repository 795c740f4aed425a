// nucleo-bench-cluster: the whole path on one machine — a real nucleo-master
// and nucleo-agent on loopback, frameworks written with the SDK — from ACCEPT
// to TASK_RUNNING and to TASK_FINISHED for `true` in a cached busybox image
// (median and p99; one task at a time, then 4 at once: --in-flight 1,4),
// then tasks/s with several frameworks launching at once.
// Prints its figures beside the targets of issue 8 and Mesos's published
// numbers (../shared/reference/anchors.md has no per-task latency for Mesos:
// the rows are ours).

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include <CLI/CLI.hpp>

#include "integration-tests/cluster/cluster.hpp"
#include "sdk/resources.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nucleo::e2e::Cluster;

// Launches `total` copies of `true`, at most `inFlight` at a time, and records
// ACCEPT -> RUNNING and ACCEPT -> FINISHED per task.
class TrueRunner : public nucleo::sdk::Scheduler {
 public:
  TrueRunner(std::string name, int total, int inFlight)
      : name_(std::move(name)), total_(total), inFlight_(inFlight) {}

  void offers(nucleo::sdk::SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override {
    std::lock_guard lock(mutex_);
    for (const auto& offer : offers) {
      auto available = offer.resources();
      std::vector<mesos::v1::TaskInfo> tasks;
      while (launched_ < total_ && launched_ - ended_ < inFlight_) {
        auto taken = nucleo::sdk::take(&available, {{"cpus", 0.1}, {"mem", 64}});
        if (!taken) break;
        mesos::v1::TaskInfo task;
        std::string id = name_ + "-" + std::to_string(launched_++);
        task.set_name(id);
        task.mutable_task_id()->set_value(id);
        *task.mutable_agent_id() = offer.agent_id();
        for (auto& resource : *taken) *task.add_resources() = std::move(resource);
        task.mutable_command()->set_value("true");
        auto* container = task.mutable_container();
        container->set_type(mesos::v1::ContainerInfo::MESOS);
        container->mutable_mesos()->mutable_image()->set_type(mesos::v1::Image::DOCKER);
        container->mutable_mesos()->mutable_image()->mutable_docker()->set_name("busybox:latest");
        accepted_[id] = Clock::now();
        tasks.push_back(std::move(task));
      }
      mesos::v1::Filters filters;
      filters.set_refuse_seconds(0);
      if (tasks.empty())
        driver.decline({offer.id()}, filters);
      else
        driver.launch(offer.id(), tasks, filters);
    }
  }

  void update(nucleo::sdk::SchedulerDriver& driver, const mesos::v1::TaskStatus& status) override {
    std::lock_guard lock(mutex_);
    const std::string& id = status.task_id().value();
    auto accepted = accepted_.find(id);
    if (accepted == accepted_.end()) return;
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - accepted->second).count();
    if (status.state() == mesos::v1::TASK_RUNNING) toRunning_.push_back(ms);
    if (status.state() == mesos::v1::TASK_FINISHED) toFinished_.push_back(ms);
    bool terminal = status.state() != mesos::v1::TASK_STARTING && status.state() != mesos::v1::TASK_RUNNING;
    if (!terminal) return;
    if (status.state() != mesos::v1::TASK_FINISHED) ++failed_;
    accepted_.erase(accepted);
    if (++ended_ == total_) driver.stop();
    else driver.revive();
  }

  std::vector<double> toRunning() { std::lock_guard lock(mutex_); return toRunning_; }
  std::vector<double> toFinished() { std::lock_guard lock(mutex_); return toFinished_; }
  int failed() { std::lock_guard lock(mutex_); return failed_; }

 private:
  std::string name_;
  int total_, inFlight_;
  std::mutex mutex_;
  int launched_ = 0, ended_ = 0, failed_ = 0;
  std::map<std::string, Clock::time_point> accepted_;
  std::vector<double> toRunning_, toFinished_;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

nucleo::sdk::SchedulerOptions options(const Cluster& cluster, const std::string& name) {
  auto result = nucleo::e2e::frameworkOptions(cluster.masterAddress(), name);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  int tasks = 500, frameworks = 4, perFramework = 50;
  std::vector<int> inFlights = {1, 4};
  CLI::App app{"End-to-end task latency and throughput on a local nucleo cluster"};
  app.add_option("--tasks", tasks, "Tasks for the latency run")->capture_default_str();
  app.add_option("--in-flight", inFlights, "Tasks at once in the latency runs, one run per value")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--frameworks", frameworks, "Frameworks in the throughput run")->capture_default_str();
  app.add_option("--per-framework", perFramework, "Tasks per framework in the throughput run")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) {
    std::printf("nucleo-bench-cluster: needs root (containers); skipped\n");
    return 77;
  }
  // The containers' overlay mounts go away with this process's mount namespace.
  if (std::string failure = nucleo::e2e::enterPrivateMountNamespace(); !failure.empty()) {
    std::fprintf(stderr, "nucleo-bench-cluster: %s\n", failure.c_str());
    return 1;
  }
  nucleo::e2e::ClusterOptions clusterOptions;
  clusterOptions.agentResources = "cpus:2;mem:8192;disk:1000";
  Cluster cluster(clusterOptions);
  if (std::string failure = cluster.start(); !failure.empty()) {
    std::fprintf(stderr, "nucleo-bench-cluster: %s\n", failure.c_str());
    return 1;
  }

  for (int inFlight : inFlights) {
    std::printf("== ACCEPT -> TASK_RUNNING / TASK_FINISHED, `true` in a cached image, %d tasks, %d in flight\n",
                tasks, inFlight);
    TrueRunner latency("lat" + std::to_string(inFlight), tasks, inFlight);
    {
      nucleo::e2e::RunningDriver driver(latency, options(cluster, "bench-latency-" + std::to_string(inFlight)));
      auto deadline = Clock::now() + std::chrono::seconds(30 + tasks);
      while (latency.toFinished().size() + static_cast<size_t>(latency.failed()) < static_cast<size_t>(tasks) &&
             Clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    }
    auto running = latency.toRunning(), finished = latency.toFinished();
    std::printf("%-26s %10s %10s %10s %8s\n", "", "median ms", "p99 ms", "target", "tasks");
    std::printf("%-26s %10.1f %10.1f %10s %8zu\n", "ACCEPT -> TASK_RUNNING", percentile(running, 0.5),
                percentile(running, 0.99), "<=50/200", running.size());
    std::printf("%-26s %10.1f %10.1f %10s %8zu\n", "ACCEPT -> TASK_FINISHED", percentile(finished, 0.5),
                percentile(finished, 0.99), "-", finished.size());
    std::printf("failed or lost: %d\n\n", latency.failed());
  }

  std::printf("== %d frameworks launching %d tasks each at once\n", frameworks, perFramework);
  std::vector<std::unique_ptr<TrueRunner>> runners;
  std::vector<std::unique_ptr<nucleo::e2e::RunningDriver>> drivers;
  auto start = Clock::now();
  for (int i = 0; i < frameworks; ++i) {
    runners.push_back(std::make_unique<TrueRunner>("tp" + std::to_string(i), perFramework, 1000));
    drivers.push_back(std::make_unique<nucleo::e2e::RunningDriver>(
        *runners.back(), options(cluster, "bench-throughput-" + std::to_string(i))));
  }
  auto deadline = Clock::now() + std::chrono::seconds(60 + frameworks * perFramework);
  auto done = [&] {
    size_t ended = 0;
    for (auto& runner : runners) ended += runner->toFinished().size() + static_cast<size_t>(runner->failed());
    return ended;
  };
  while (done() < static_cast<size_t>(frameworks * perFramework) && Clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  size_t ended = done();
  drivers.clear();
  std::printf("%-26s %10s %10s\n", "", "tasks", "tasks/s");
  std::printf("%-26s %10zu %10.1f\n", "to TASK_FINISHED", ended, static_cast<double>(ended) / seconds);
  std::printf("(published: Nomad C1M ~3,750 placements/s on 5 servers and 5,000 clients;"
              " Kubernetes ~100 pods/s per cluster at 5,000 nodes — both count placements,"
              " not containers run to completion on one 2-core machine)\n");
  return 0;
}
