// A complete executor on nucleo's SDK: runs each task's data (a TaskInfo for
// a custom executor carries no CommandInfo), or else its command.value (tasks
// of a LAUNCH_GROUP carry one), with /bin/sh -c in a child process, reports TASK_RUNNING and then TASK_FINISHED
// or TASK_FAILED with the exit status, kills on KILL, and exits on SHUTDOWN
// once its updates are acknowledged. Runs under nucleo-agent or a Mesos agent.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "sdk/executor.hpp"

class ShellExecutor : public nucleo::sdk::Executor {
 public:
  void launch(nucleo::sdk::ExecutorDriver& driver, const mesos::v1::TaskInfo& task) override {
    pid_t pid = ::fork();
    if (pid == 0) {
      const std::string& script = task.data().empty() ? task.command().value() : task.data();
      ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (pid < 0) {
      driver.sendStatus(task.task_id(), mesos::v1::TASK_FAILED, "fork failed");
      return;
    }
    {
      std::lock_guard lock(mutex_);
      running_[task.task_id().value()] = pid;
    }
    driver.sendStatus(task.task_id(), mesos::v1::TASK_RUNNING);
    std::thread([this, &driver, task, pid] {
      int status = 0;
      ::waitpid(pid, &status, 0);
      bool killed;
      {
        std::lock_guard lock(mutex_);
        killed = killed_.count(task.task_id().value()) > 0;
        running_.erase(task.task_id().value());
      }
      if (killed) {
        driver.sendStatus(task.task_id(), mesos::v1::TASK_KILLED);
      } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        driver.sendStatus(task.task_id(), mesos::v1::TASK_FINISHED);
      } else {
        std::string why = WIFEXITED(status) ? "Command exited with status " + std::to_string(WEXITSTATUS(status))
                                            : "Command terminated with signal " + std::to_string(WTERMSIG(status));
        driver.sendStatus(task.task_id(), mesos::v1::TASK_FAILED, why);
      }
    }).detach();
  }

  void launchGroup(nucleo::sdk::ExecutorDriver& driver, const mesos::v1::TaskGroupInfo& group) override {
    for (const auto& task : group.tasks()) launch(driver, task);
  }

  void kill(nucleo::sdk::ExecutorDriver&, const mesos::v1::TaskID& task,
            const std::optional<mesos::v1::KillPolicy>&) override {
    std::lock_guard lock(mutex_);
    auto running = running_.find(task.value());
    if (running == running_.end()) return;
    killed_.insert(task.value());
    ::kill(running->second, SIGTERM);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, pid_t> running_;
  std::set<std::string> killed_;
};

int main() {
  auto options = nucleo::sdk::ExecutorOptions::fromEnvironment();
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error().message.c_str());
    return 1;
  }
  ShellExecutor executor;
  nucleo::sdk::ExecutorDriver driver(executor, *options);
  nucleo::Status stopped = driver.run();
  if (!stopped) {
    std::fprintf(stderr, "executor: %s\n", stopped.error().message.c_str());
    return 1;
  }
  return 0;
}
