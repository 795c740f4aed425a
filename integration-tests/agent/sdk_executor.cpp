// An executor on the SDK that runs plain LAUNCHes only (each task RUNNING,
// then FINISHED): it keeps the SDK's default launchGroup, so the agent
// integration tests see what a LAUNCH_GROUP to such an executor gives.

#include <cstdio>

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

int main() {
  auto options = nucleo::sdk::ExecutorOptions::fromEnvironment();
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error().message.c_str());
    return 1;
  }
  LaunchOnly executor;
  nucleo::sdk::ExecutorDriver driver(executor, *options);
  nucleo::Status stopped = driver.run();
  if (!stopped) {
    std::fprintf(stderr, "executor: %s\n", stopped.error().message.c_str());
    return 1;
  }
  return 0;
}
