// An executor on the SDK that runs plain LAUNCHes only (each task RUNNING,
// then FINISHED): it keeps the SDK's default launchGroup, so the agent
// integration tests see what a LAUNCH_GROUP to such an executor gives.

#include <cstdio>
#include <utility>

#include "sdk/executor.hpp"

namespace {

class LaunchOnly : public nucleo::sdk::Executor {
 public:
  void launch(nucleo::sdk::ExecutorDriver& driver, const mesos::v1::TaskInfo& task) override {
    driver.sendStatus(task.task_id(), mesos::v1::TASK_RUNNING);
    driver.sendStatus(task.task_id(), mesos::v1::TASK_FINISHED, "done by the sdk executor");
  }
};

}  // namespace

// A bad environment and a lost agent end the same way: one line on stderr,
// exit status 1.
int main() {
  LaunchOnly executor;
  auto options = nucleo::sdk::ExecutorOptions::fromEnvironment();
  nucleo::Status ended = options ? nucleo::sdk::ExecutorDriver(executor, *options).run()
                                 : nucleo::Status(std::move(options).error());
  if (!ended) std::fprintf(stderr, "sdk executor: %s\n", ended.error().message.c_str());
  return ended ? 0 : 1;
}
