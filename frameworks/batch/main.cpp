// nucleo-batch: a small batch framework. Runs the jobs of a file (one shell
// command per line, or JSON lines {"name","command","cpus","mem","image"})
// with at most --concurrency running at once, retries a failed job up to
// --retries times, and prints a summary. Exits 0 when every job succeeded.

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "base/strings.hpp"
#include "sdk/resources.hpp"
#include "sdk/scheduler.hpp"

namespace {

using nucleo::sdk::SchedulerDriver;
using Clock = std::chrono::steady_clock;

struct Job {
  std::string name, command, image;
  double cpus = 0.1, mem = 32;
  int attempts = 0;
  std::string state = "PENDING";
  std::string lastMessage;
  Clock::time_point started;
  double seconds = 0;
  bool done = false, succeeded = false;
};

struct Options {
  std::string master, file, image;
  int concurrency = 4, retries = 2;
  double cpus = 0.1, mem = 32;
  std::string role = "*";
};

nucleo::Result<std::vector<Job>> loadJobs(const Options& options) {
  std::ifstream in(options.file);
  if (!in) return nucleo::Error::make("--tasks {}: cannot open", options.file);
  std::vector<Job> jobs;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string text(nucleo::strings::trim(line));
    if (text.empty() || text[0] == '#') continue;
    Job job;
    job.name = "job-" + std::to_string(jobs.size());
    job.image = options.image;
    job.cpus = options.cpus;
    job.mem = options.mem;
    if (text[0] == '{') {
      boost::system::error_code ec;
      auto value = boost::json::parse(text, ec);
      if (ec || !value.is_object())
        return nucleo::Error::make("--tasks {}:{}: not a JSON object", options.file, number);
      const auto& object = value.as_object();
      auto str = [&](const char* key, std::string* out) {
        if (auto* field = object.if_contains(key); field && field->is_string()) *out = field->as_string().c_str();
      };
      auto num = [&](const char* key, double* out) {
        if (auto* field = object.if_contains(key); field && field->is_number()) *out = field->to_number<double>();
      };
      str("name", &job.name);
      str("command", &job.command);
      str("image", &job.image);
      num("cpus", &job.cpus);
      num("mem", &job.mem);
    } else {
      job.command = text;
    }
    if (job.command.empty())
      return nucleo::Error::make("--tasks {}:{}: job '{}' has no command", options.file, number, job.name);
    jobs.push_back(std::move(job));
  }
  if (jobs.empty()) return nucleo::Error::make("--tasks {}: no jobs", options.file);
  return jobs;
}

class Batch : public nucleo::sdk::Scheduler {
 public:
  Batch(Options options, std::vector<Job> jobs) : options_(std::move(options)), jobs_(std::move(jobs)) {
    for (size_t i = 0; i < jobs_.size(); ++i) queue_.push_back(i);
  }

  void offers(SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override {
    std::lock_guard lock(mutex_);
    for (const auto& offer : offers) {
      auto resources = offer.resources();
      std::vector<mesos::v1::TaskInfo> tasks;
      while (!queue_.empty() && running_ < options_.concurrency) {
        Job& job = jobs_[queue_.front()];
        auto taken = nucleo::sdk::take(&resources, {{"cpus", job.cpus}, {"mem", job.mem}});
        if (!taken) break;
        tasks.push_back(taskFor(queue_.front(), offer, *taken));
        queue_.pop_front();
        ++running_;
      }
      mesos::v1::Filters filters;
      filters.set_refuse_seconds(tasks.empty() ? 2 : 1);
      if (tasks.empty())
        driver.decline({offer.id()}, filters);
      else
        driver.launch(offer.id(), tasks, filters);
    }
    if (queue_.empty()) driver.suppress();
  }

  void update(SchedulerDriver& driver, const mesos::v1::TaskStatus& status) override {
    std::lock_guard lock(mutex_);
    auto found = byTask_.find(status.task_id().value());
    if (found == byTask_.end()) return;
    Job& job = jobs_[found->second];
    job.state = mesos::v1::TaskState_Name(status.state());
    if (!status.message().empty()) job.lastMessage = status.message();
    if (!nucleo::sdk::isTerminal(status.state())) return;
    byTask_.erase(found);
    --running_;
    job.seconds = std::chrono::duration<double>(Clock::now() - job.started).count();
    job.succeeded = status.state() == mesos::v1::TASK_FINISHED;
    std::fprintf(stderr, "nucleo-batch: %s attempt %d: %s%s%s\n", job.name.c_str(), job.attempts,
                 job.state.c_str(), job.lastMessage.empty() ? "" : ": ", job.lastMessage.c_str());
    if (!job.succeeded && job.attempts <= options_.retries && !stopping_) {
      queue_.push_back(static_cast<size_t>(&job - jobs_.data()));
      driver.revive();
      return;
    }
    job.done = true;
    if (++finished_ == jobs_.size()) driver.stop(/*teardown=*/true);
  }

  void error(SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "nucleo-batch: %s\n", message.c_str());
  }

  void interrupt(SchedulerDriver& driver) {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
    if (byTask_.empty()) driver.stop(true);
    for (const auto& [task, index] : byTask_) {
      mesos::v1::TaskID id;
      id.set_value(task);
      driver.kill(id);
    }
  }

  // The summary table; returns the number of jobs that did not succeed.
  size_t summary() const {
    std::printf("%-24s %-14s %8s %9s  %s\n", "JOB", "STATE", "ATTEMPTS", "SECONDS", "MESSAGE");
    size_t failed = 0;
    for (const auto& job : jobs_) {
      if (!job.succeeded) ++failed;
      std::printf("%-24s %-14s %8d %9.2f  %s\n", job.name.c_str(), job.state.c_str(), job.attempts,
                  job.seconds, job.lastMessage.c_str());
    }
    std::printf("%zu jobs: %zu succeeded, %zu failed\n", jobs_.size(), jobs_.size() - failed, failed);
    return failed;
  }

 private:
  mesos::v1::TaskInfo taskFor(size_t index, const mesos::v1::Offer& offer,
                              std::vector<mesos::v1::Resource>& resources) {
    Job& job = jobs_[index];
    ++job.attempts;
    job.started = Clock::now();
    job.state = "LAUNCHING";
    mesos::v1::TaskInfo task;
    task.set_name(job.name);
    std::string id = job.name + "-attempt-" + std::to_string(job.attempts) + "-" +
                     std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    task.mutable_task_id()->set_value(id);
    *task.mutable_agent_id() = offer.agent_id();
    for (auto& resource : resources) *task.add_resources() = std::move(resource);
    task.mutable_command()->set_value(job.command);
    if (!job.image.empty()) {
      auto* container = task.mutable_container();
      container->set_type(mesos::v1::ContainerInfo::MESOS);
      container->mutable_mesos()->mutable_image()->set_type(mesos::v1::Image::DOCKER);
      container->mutable_mesos()->mutable_image()->mutable_docker()->set_name(job.image);
    }
    byTask_[id] = index;
    return task;
  }

  Options options_;
  std::mutex mutex_;
  std::vector<Job> jobs_;
  std::deque<size_t> queue_;
  std::map<std::string, size_t> byTask_;
  int running_ = 0;
  size_t finished_ = 0;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  const char* fromEnv = std::getenv("NUCLEO_MASTER");
  options.master = fromEnv != nullptr ? fromEnv : "127.0.0.1:5050";
  CLI::App app{"Runs the jobs of a file on the cluster with a concurrency limit and retries"};
  app.add_option("--master", options.master, "Master host:port ($NUCLEO_MASTER)")->capture_default_str();
  app.add_option("--tasks", options.file, "Jobs: one shell command per line, or JSON lines")->required();
  app.add_option("--concurrency", options.concurrency, "Jobs running at once")->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--retries", options.retries, "Retries of a failed job")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--image", options.image, "Default container image");
  app.add_option("--cpus", options.cpus, "Default CPUs per job")->capture_default_str();
  app.add_option("--mem", options.mem, "Default memory per job, MB")->capture_default_str();
  app.add_option("--role", options.role, "Role")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto jobs = loadJobs(options);
  if (!jobs) {
    std::fprintf(stderr, "nucleo-batch: %s\n", jobs.error().message.c_str());
    return 2;
  }
  Batch batch(options, std::move(*jobs));
  nucleo::sdk::SchedulerOptions driverOptions;
  driverOptions.master = options.master;
  driverOptions.framework.set_user("root");
  driverOptions.framework.set_name("nucleo-batch");
  driverOptions.framework.set_role(options.role);
  SchedulerDriver driver(batch, driverOptions);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    timespec poll{0, 200'000'000};
    while (!done)
      if (sigtimedwait(&signals, nullptr, &poll) > 0) batch.interrupt(driver);
  });
  nucleo::Status stopped = driver.run();
  done = true;
  interrupter.join();
  if (!stopped) std::fprintf(stderr, "nucleo-batch: %s\n", stopped.error().message.c_str());
  size_t failed = batch.summary();
  return failed == 0 && stopped ? 0 : 1;
}
