// A complete framework on nucleo's SDK: subscribes, prints each offer and
// declines it, and leaves (tearing the framework down) after `max` offers.
//   decline-all [master host:port] [max offers]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sdk/scheduler.hpp"

class DeclineAll : public nucleo::sdk::Scheduler {
 public:
  explicit DeclineAll(int max) : max_(max) {}

  void subscribed(nucleo::sdk::SchedulerDriver&,
                  const mesos::v1::scheduler::Event::Subscribed& subscribed) override {
    std::printf("subscribed as %s\n", subscribed.framework_id().value().c_str());
    std::fflush(stdout);
  }

  void offers(nucleo::sdk::SchedulerDriver& driver,
              const std::vector<mesos::v1::Offer>& offers) override {
    for (const auto& offer : offers) {
      std::printf("offer %s from %s\n", offer.id().value().c_str(), offer.hostname().c_str());
      driver.decline({offer.id()});
      if (++seen_ >= max_) driver.stop(/*teardown=*/true);
    }
  }

  void error(nucleo::sdk::SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "error: %s\n", message.c_str());
  }

 private:
  int max_;
  int seen_ = 0;
};

int main(int argc, char** argv) {
  nucleo::sdk::SchedulerOptions options;
  options.master = argc > 1 ? argv[1] : "127.0.0.1:5050";
  options.framework.set_user("root");
  options.framework.set_name("decline-all");
  DeclineAll scheduler(argc > 2 ? std::atoi(argv[2]) : 1);
  nucleo::sdk::SchedulerDriver driver(scheduler, options);
  nucleo::Status stopped = driver.run();
  if (!stopped) {
    std::fprintf(stderr, "%s\n", stopped.error().message.c_str());
    return 1;
  }
  return 0;
}
