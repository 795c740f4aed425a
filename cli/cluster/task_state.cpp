// Task states as the CLI prints them and turns them into exit codes.

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <regex>

#include "cli/cluster/commands.hpp"
#include "sdk/scheduler.hpp"

namespace nucleo::cluster {

int fail(const std::string& message) {
  std::fprintf(stderr, "nucleo cluster: %s\n", message.c_str());
  return 1;
}

bool terminal(mesos::v1::TaskState state) { return sdk::isTerminal(state); }

std::string shortState(mesos::v1::TaskState state) {
  std::string name = mesos::v1::TaskState_Name(state);
  return name.rfind("TASK_", 0) == 0 ? name.substr(5) : name;
}

namespace {

// The agent says "terminated with signal Killed" (strsignal): back to 9.
int signalNumber(const std::string& name) {
  for (int number = 1; number < NSIG; ++number)
    if (const char* described = ::strsignal(number); described != nullptr && name == described)
      return number;
  return 0;
}

}  // namespace

int exitCodeOf(const mesos::v1::TaskStatus& status) {
  static const std::regex exited("exited with status (\\d+)");
  static const std::regex signaled("signal (.+)$");
  std::smatch match;
  switch (status.state()) {
    case mesos::v1::TASK_FINISHED: return 0;
    case mesos::v1::TASK_FAILED: {
      int code = 1;
      if (std::regex_search(status.message(), match, exited)) {
        code = std::stoi(match[1]);
      } else if (std::regex_search(status.message(), match, signaled)) {
        std::string name = match[1];
        int number = std::isdigit(static_cast<unsigned char>(name[0])) ? std::atoi(name.c_str())
                                                                        : signalNumber(name);
        if (number > 0) code = 128 + number;
      }
      return code == 0 ? 1 : code;
    }
    case mesos::v1::TASK_KILLED: return 128 + SIGKILL;
    case mesos::v1::TASK_ERROR: return 65;  // the task was invalid (EX_DATAERR)
    default: return 69;                     // lost, dropped, gone: unavailable (EX_UNAVAILABLE)
  }
}

}  // namespace nucleo::cluster
