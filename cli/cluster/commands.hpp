#pragma once
// The subcommands of nucleo-cluster that act (run, kill) or sample (top), and
// the helpers they share with main.cpp. Each returns the process exit code
// and prints its own one-line error.

#include <optional>
#include <string>
#include <vector>

#include "cli/cluster/operator_client.hpp"

namespace nucleo::cluster {

// Frameworks started by `run` carry this name prefix: `kill` tears such a
// framework down once its one task has ended.
inline constexpr const char* kRunFrameworkPrefix = "nucleo cluster run";

// Prints "nucleo cluster: MESSAGE" on stderr; returns 1.
int fail(const std::string& message);
bool terminal(mesos::v1::TaskState state);
// "RUNNING" for TASK_RUNNING.
std::string shortState(mesos::v1::TaskState state);
// A shell-style exit code for a terminal status: the command's own status,
// 128+N for a signal, 137 for TASK_KILLED, 65 for TASK_ERROR, 69 for a lost
// or dropped task.
int exitCodeOf(const mesos::v1::TaskStatus& status);

struct RunOptions {
  std::string name = "task";
  std::string command;
  std::string image;  // empty: the agent's host filesystem
  double cpus = 0.1;
  double mem = 32;
  std::vector<std::string> env;  // KEY=VALUE
  std::string role = "*";
  bool detach = false;
  bool showLogs = true;
  double failoverTimeout = 7 * 24 * 3600;  // seconds a detached task's framework outlives us
};
// Launches one task through a framework of its own; prints the task id on
// stdout. Then waits for its end (or, detached, for TASK_RUNNING).
int runTask(const OperatorClient& client, const RunOptions& options);

// Kills a task by subscribing as its framework (see main.cpp's help text).
int killTask(const OperatorClient& client, const std::string& id, bool force, double timeoutSeconds);

struct TopOptions {
  bool once = false;
  bool json = false;
  double interval = 2;
};
int top(const OperatorClient& client, const TopOptions& options);

}  // namespace nucleo::cluster
