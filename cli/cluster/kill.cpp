// `nucleo cluster kill`: Mesos has no operator call that kills one task, and
// the master takes scheduler calls only on a framework's own subscription.
// So the CLI subscribes as the task's framework (a disconnected one, such as
// the framework of `run --detach`; a connected one only with --force, which
// takes its subscription over), sends KILL and waits for the terminal update.

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "cli/cluster/commands.hpp"

namespace nucleo::cluster {
namespace {

using Call = mesos::v1::master::Call;
using FrameworkEntry = mesos::v1::master::Response::GetFrameworks::Framework;

class Killer : public nucleo::sdk::Scheduler {
 public:
  Killer(mesos::v1::Task task, bool teardownAfter)
      : task_(std::move(task)), teardownAfter_(teardownAfter) {}

  void subscribed(nucleo::sdk::SchedulerDriver& driver,
                  const mesos::v1::scheduler::Event::Subscribed&) override {
    // A task still pending has no agent yet: the master kills it itself.
    std::optional<mesos::v1::AgentID> agent;
    if (!task_.agent_id().value().empty()) agent = task_.agent_id();
    driver.kill(task_.task_id(), agent);
  }
  void offers(nucleo::sdk::SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override {
    for (const auto& offer : offers) driver.decline({offer.id()});
  }
  void update(nucleo::sdk::SchedulerDriver& driver, const mesos::v1::TaskStatus& status) override {
    if (status.task_id().value() != task_.task_id().value()) return;
    std::lock_guard lock(mutex_);
    if (done_) return;
    std::printf("%s: %s\n", task_.task_id().value().c_str(), mesos::v1::TaskState_Name(status.state()).c_str());
    std::fflush(stdout);
    if (!terminal(status.state())) return;
    done_ = true;
    result_ = status.state() == mesos::v1::TASK_KILLED ? 0 : 1;
    if (result_ != 0 && !status.message().empty()) fail("the task ended otherwise: " + status.message());
    driver.stop(teardownAfter_);
  }
  void error(nucleo::sdk::SchedulerDriver&, const std::string& message) override { fail(message); }

  int result() {
    std::lock_guard lock(mutex_);
    return result_;
  }
  bool done() {
    std::lock_guard lock(mutex_);
    return done_;
  }

 private:
  mesos::v1::Task task_;
  bool teardownAfter_;
  std::mutex mutex_;
  bool done_ = false;
  int result_ = 1;
};

nucleo::Result<FrameworkEntry> ownerOf(const OperatorClient& client, const mesos::v1::Task& task) {
  TRY_ASSIGN(auto frameworks, client.call(Call::GET_FRAMEWORKS));
  for (const auto& framework : frameworks.get_frameworks().frameworks())
    if (framework.framework_info().id().value() == task.framework_id().value()) return framework;
  return nucleo::Error::make("the framework {} of task '{}' is gone", task.framework_id().value(),
                             task.task_id().value());
}

// Other tasks of the framework that have not ended: `run`'s framework is torn
// down only when the killed task was its last.
bool hasOtherTasks(const OperatorClient& client, const mesos::v1::Task& task) {
  auto tasks = client.call(Call::GET_TASKS);
  if (!tasks) return true;  // unsure: keep the framework
  for (const auto* list : {&tasks->get_tasks().pending_tasks(), &tasks->get_tasks().tasks()})
    for (const auto& other : *list)
      if (other.framework_id().value() == task.framework_id().value() &&
          other.task_id().value() != task.task_id().value() && !terminal(other.state()))
        return true;
  return false;
}

}  // namespace

int killTask(const OperatorClient& client, const std::string& id, bool force, double timeoutSeconds) {
  auto found = findTask(client, id);
  if (!found) return fail(found.error().message);
  if (terminal(found->task.state()))
    return fail("task '" + id + "' already ended: " + mesos::v1::TaskState_Name(found->task.state()));
  auto owner = ownerOf(client, found->task);
  if (!owner) return fail(owner.error().message);
  const auto& info = owner->framework_info();
  if (owner->connected() && !force)
    return fail("task '" + id + "' belongs to framework '" + info.name() +
                "', which is connected: ask it to kill the task, or use --force to take its subscription over");
  bool ours = info.name().rfind(kRunFrameworkPrefix, 0) == 0 && !hasOtherTasks(client, found->task);

  Killer killer(found->task, /*teardownAfter=*/ours);
  nucleo::sdk::SchedulerOptions options;
  options.master = client.master();
  options.framework = info;
  options.credential = client.credential();
  nucleo::sdk::SchedulerDriver driver(killer, options);
  std::mutex mutex;
  std::condition_variable ended;
  bool running = true;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!ended.wait_for(lock, std::chrono::duration<double>(timeoutSeconds), [&] { return !running; }))
      driver.stop();
  });
  auto ran = driver.run();
  {
    std::lock_guard lock(mutex);
    running = false;
  }
  ended.notify_all();
  watchdog.join();
  if (!ran) return fail(ran.error().message);
  if (!killer.done())
    return fail("task '" + id + "' did not end within " + std::to_string(int(timeoutSeconds)) + " s of the kill");
  return killer.result();
}

}  // namespace nucleo::cluster
