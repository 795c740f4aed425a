// nucleo-cluster (also `nucleo cluster ...`): looks at a nucleo (or Mesos)
// cluster through the master's operator API — agents, frameworks, tasks,
// top — runs a task, kills one, and shows or follows a task's stdout/stderr
// through its agent's files API. Human tables by default, --json for scripts.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/cluster/commands.hpp"
#include "proto/json.hpp"
#include "sdk/agent_files.hpp"
#include "sdk/resources.hpp"
#include "sdk/scheduler.hpp"

namespace {

using namespace std::chrono_literals;
using nucleo::cluster::OperatorClient;
using nucleo::cluster::fail;
using nucleo::cluster::shortState;
using nucleo::cluster::terminal;
using Response = mesos::v1::master::Response;
using Call = mesos::v1::master::Call;

std::string amount(double used, double total, const char* unit = "") {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%g/%g%s", used, total, unit);
  return buffer;
}

int printAgents(const OperatorClient& client, bool json) {
  auto response = client.call(Call::GET_AGENTS);
  if (!response) return fail(response.error().message);
  if (json) return std::printf("%s\n", nucleo::proto::toJson(response->get_agents()).c_str()), 0;
  std::printf("%-40s %-20s %-22s %-7s %-12s %-14s\n", "ID", "HOSTNAME", "ADDRESS", "ACTIVE", "CPUS",
              "MEM (MB)");
  for (const auto& agent : response->get_agents().agents()) {
    auto total = nucleo::sdk::scalars(agent.total_resources());
    auto used = nucleo::sdk::scalars(agent.allocated_resources());
    std::printf("%-40s %-20s %-22s %-7s %-12s %-14s\n", agent.agent_info().id().value().c_str(),
                agent.agent_info().hostname().c_str(), nucleo::cluster::agentEndpoint(agent).c_str(),
                agent.active() ? "yes" : "no", amount(used["cpus"], total["cpus"]).c_str(),
                amount(used["mem"], total["mem"]).c_str());
  }
  return 0;
}

int printFrameworks(const OperatorClient& client, bool json, bool all) {
  auto response = client.call(Call::GET_FRAMEWORKS);
  if (!response) return fail(response.error().message);
  if (json) return std::printf("%s\n", nucleo::proto::toJson(response->get_frameworks()).c_str()), 0;
  std::printf("%-45s %-28s %-10s %-10s %-8s %-10s\n", "ID", "NAME", "ROLE", "CONNECTED", "CPUS",
              "MEM (MB)");
  for (const auto& framework : response->get_frameworks().frameworks()) {
    const auto& info = framework.framework_info();
    std::string role = info.roles_size() > 0 ? info.roles(0) : info.role();
    auto used = nucleo::sdk::scalars(framework.allocated_resources());
    std::printf("%-45s %-28s %-10s %-10s %-8g %-10g\n", info.id().value().c_str(),
                info.name().substr(0, 28).c_str(), role.c_str(), framework.connected() ? "yes" : "no",
                used["cpus"], used["mem"]);
  }
  if (all)
    for (const auto& framework : response->get_frameworks().completed_frameworks()) {
      const auto& info = framework.framework_info();
      std::string role = info.roles_size() > 0 ? info.roles(0) : info.role();
      std::printf("%-45s %-28s %-10s %-10s %-8s %-10s\n", info.id().value().c_str(),
                  info.name().substr(0, 28).c_str(), role.c_str(), "ended", "-", "-");
    }
  return 0;
}

int printTasks(const OperatorClient& client, bool json, bool all) {
  auto response = client.call(Call::GET_TASKS);
  if (!response) return fail(response.error().message);
  const auto& tasks = response->get_tasks();
  if (json) return std::printf("%s\n", nucleo::proto::toJson(tasks).c_str()), 0;
  std::printf("%-40s %-20s %-12s %-6s %-8s %-40s\n", "ID", "NAME", "STATE", "CPUS", "MEM (MB)", "AGENT");
  auto print = [](const mesos::v1::Task& task) {
    auto resources = nucleo::sdk::scalars(task.resources());
    std::printf("%-40s %-20s %-12s %-6g %-8g %-40s\n", task.task_id().value().c_str(),
                task.name().substr(0, 20).c_str(), shortState(task.state()).c_str(), resources["cpus"],
                resources["mem"], task.agent_id().value().c_str());
  };
  for (const auto& task : tasks.pending_tasks()) print(task);
  for (const auto& task : tasks.tasks()) print(task);
  for (const auto& task : tasks.unreachable_tasks()) print(task);
  if (all)
    for (const auto& task : tasks.completed_tasks()) print(task);
  return 0;
}

int logs(const OperatorClient& client, const std::string& id, bool follow, bool stderrOnly) {
  auto found = nucleo::cluster::findTask(client, id);
  if (!found) return fail(found.error().message);
  if (found->agent.empty()) return fail("task '" + id + "' has no agent yet: it is pending");
  std::string executor = found->task.has_executor_id() ? found->task.executor_id().value() : id;
  std::string sandbox = nucleo::sdk::sandboxPath(found->task.framework_id().value(), executor);
  if (executor != id) sandbox += "/tasks/" + id;
  std::string path = sandbox + (stderrOnly ? "/stderr" : "/stdout");
  uint64_t offset = 0;
  while (true) {
    auto chunk = nucleo::sdk::readAgentFile(found->agent, path, offset);
    if (!chunk) return fail(chunk.error().message);
    if (!chunk->data.empty()) {
      (void)!::write(stderrOnly ? STDERR_FILENO : STDOUT_FILENO, chunk->data.data(), chunk->data.size());
      offset = chunk->nextOffset;
      continue;
    }
    if (!follow) return 0;
    auto again = nucleo::cluster::findTask(client, id);
    if (again && terminal(again->task.state())) {
      follow = false;  // one last read after the end
      continue;
    }
    std::this_thread::sleep_for(500ms);
  }
}

}  // namespace

// `run`'s command: the words after its flags ("--" optional), or --command.
nucleo::Result<std::string> commandOf(const std::string& flag, std::vector<std::string> words) {
  if (!words.empty() && words.front() == "--") words.erase(words.begin());
  if (!flag.empty() && !words.empty())
    return nucleo::Error::make("run: give the command either with --command or after the flags, not both");
  if (!flag.empty()) return flag;
  std::string joined;
  for (const auto& word : words) joined += (joined.empty() ? "" : " ") + word;
  return joined;
}

const char* kKillHelp =
    "Kill a task. Mesos has no operator call for that, and the master takes a scheduler KILL only "
    "on the framework's own subscription: this subscribes as the task's framework, sends KILL and "
    "waits for TASK_KILLED. That works for a disconnected framework (the framework of `run "
    "--detach` is one; it is torn down once its task is killed); a connected framework's "
    "subscription is taken over only with --force (its scheduler gets 'Framework failed over').";

// The `run` subcommand and its flags (nucleo-execute's, for one task).
CLI::App* addRun(CLI::App& app, nucleo::cluster::RunOptions& run, std::string& commandFlag) {
  auto* runCommand = app.add_subcommand(
      "run",
      "Run a command as a task (by /bin/sh -c): print its id, stream its output and exit with its "
      "code; with --detach, print the id alone and leave once it runs");
  runCommand->allow_extras();
  runCommand->prefix_command();  // the command's own flags are not ours
  runCommand->add_option("--name", run.name, "Task name (its id is NAME-<random>)")->capture_default_str();
  runCommand->add_option("--command", commandFlag, "The command, instead of the words after the flags");
  runCommand->add_option("--image", run.image, "Container image (e.g. busybox:latest); default: host filesystem");
  runCommand->add_option("--cpus", run.cpus, "CPUs")->capture_default_str();
  runCommand->add_option("--mem", run.mem, "Memory, MB")->capture_default_str();
  runCommand->add_option("--env", run.env, "Environment variable KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  runCommand->add_option("--role", run.role, "Role to run as")->capture_default_str();
  runCommand->add_flag("--detach,-d", run.detach,
                       "Leave once the task runs; it goes on under a framework of its own, which "
                       "the master keeps for --failover-timeout");
  runCommand->add_option("--failover-timeout", run.failoverTimeout,
                         "Seconds the master keeps a detached task's framework (and task) without us")
      ->capture_default_str();
  runCommand->add_flag("!--no-logs", run.showLogs, "Do not stream the task's stdout/stderr");
  return runCommand;
}

// `run [flags] -- COMMAND...`: CLI11 2.1 refuses words after "--" in a
// prefix command, so the words are cut off argv before parsing.
std::vector<std::string> cutRunCommand(int& argc, char** argv) {
  bool sawRun = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "run") sawRun = true;
    if (sawRun && std::string_view(argv[i]) == "--") {
      std::vector<std::string> words(argv + i + 1, argv + argc);
      argc = i;
      return words;
    }
  }
  return {};
}

int main(int argc, char** argv) {
  std::string master;
  const char* fromEnv = std::getenv("NUCLEO_MASTER");
  master = fromEnv != nullptr ? fromEnv : "127.0.0.1:5050";
  bool json = false, all = false, follow = false, stderrOnly = false, force = false;
  std::string principal, secret, taskId, commandFlag;
  double killTimeout = 60;
  nucleo::cluster::RunOptions run;
  nucleo::cluster::TopOptions topOptions;

  CLI::App app{"Looks at and acts on a nucleo (or Mesos) cluster through its master", "nucleo cluster"};
  app.require_subcommand(1);
  app.add_option("--master", master, "Master host:port ($NUCLEO_MASTER)")->capture_default_str();
  app.add_flag("--json", json, "Print JSON instead of a table");
  app.add_option("--principal", principal, "Principal for HTTP Basic authentication");
  app.add_option("--secret", secret, "Secret for HTTP Basic authentication");
  auto* agents = app.add_subcommand("agents", "List the agents");
  auto* frameworks = app.add_subcommand("frameworks", "List the frameworks");
  frameworks->add_flag("--all,-a", all, "Include frameworks that have ended");
  auto* tasks = app.add_subcommand("tasks", "List the tasks");
  tasks->add_flag("--all,-a", all, "Include completed tasks");
  auto* runCommand = addRun(app, run, commandFlag);
  auto* killCommand = app.add_subcommand("kill", kKillHelp);
  killCommand->add_option("task", taskId, "Task id")->required();
  killCommand->add_flag("--force", force, "Take the subscription over from a connected framework");
  killCommand->add_option("--timeout", killTimeout, "Seconds to wait for the task's end")->capture_default_str();
  auto* logsCommand = app.add_subcommand("logs", "Show a task's stdout (or stderr)");
  logsCommand->add_option("task", taskId, "Task id")->required();
  logsCommand->add_flag("--follow,-f", follow, "Follow until the task ends");
  logsCommand->add_flag("--stderr", stderrOnly, "Show stderr instead of stdout");
  auto* topCommand = app.add_subcommand(
      "top", "Active tasks with their containers' CPU and memory use (agents' GET_CONTAINERS), refreshed");
  topCommand->add_flag("--once", topOptions.once, "Print one snapshot and exit");
  topCommand->add_flag("--json", json, "Print JSON instead of a table (one object a line per refresh)");
  topCommand->add_option("--interval", topOptions.interval, "Seconds between refreshes")->capture_default_str();
  std::vector<std::string> afterDashes = cutRunCommand(argc, argv);
  CLI11_PARSE(app, argc, argv);

  std::optional<nucleo::sdk::Credential> credential;
  if (!principal.empty()) credential = nucleo::sdk::Credential{principal, secret};
  OperatorClient client(master, credential);
  if (*agents) return printAgents(client, json);
  if (*frameworks) return printFrameworks(client, json, all);
  if (*tasks) return printTasks(client, json, all);
  if (*runCommand) {
    auto words = runCommand->remaining();
    words.insert(words.end(), afterDashes.begin(), afterDashes.end());
    auto command = commandOf(commandFlag, words);
    if (!command) return fail(command.error().message);
    run.command = *command;
    return nucleo::cluster::runTask(client, run);
  }
  if (*killCommand) return nucleo::cluster::killTask(client, taskId, force, killTimeout);
  if (*logsCommand) return logs(client, taskId, follow, stderrOnly);
  if (*topCommand) {
    topOptions.json = json;
    return nucleo::cluster::top(client, topOptions);
  }
  return 2;
}
