// nucleo-cluster (also `nucleo cluster ...`): looks at a nucleo (or Mesos)
// cluster through the master's operator API — agents, frameworks, tasks,
// top — runs a task (nucleo-execute), kills one, and shows or follows a
// task's stdout/stderr through its agent's files API. Human tables by
// default, --json for scripts.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/cluster/operator_client.hpp"
#include "proto/json.hpp"
#include "sdk/agent_files.hpp"
#include "sdk/resources.hpp"
#include "sdk/scheduler.hpp"

namespace {

using namespace std::chrono_literals;
using nucleo::cluster::OperatorClient;
using Response = mesos::v1::master::Response;
using Call = mesos::v1::master::Call;

int fail(const std::string& message) {
  std::fprintf(stderr, "nucleo cluster: %s\n", message.c_str());
  return 1;
}

bool terminal(mesos::v1::TaskState state) {
  return state == mesos::v1::TASK_FINISHED || state == mesos::v1::TASK_FAILED ||
         state == mesos::v1::TASK_KILLED || state == mesos::v1::TASK_ERROR ||
         state == mesos::v1::TASK_LOST || state == mesos::v1::TASK_DROPPED ||
         state == mesos::v1::TASK_GONE || state == mesos::v1::TASK_GONE_BY_OPERATOR;
}

std::string shortState(mesos::v1::TaskState state) {
  std::string name = mesos::v1::TaskState_Name(state);
  return name.rfind("TASK_", 0) == 0 ? name.substr(5) : name;
}

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

// A task wherever the master lists it, with its agent's files endpoint.
struct FoundTask {
  mesos::v1::Task task;
  std::string agent;
};

nucleo::Result<FoundTask> findTask(const OperatorClient& client, const std::string& id) {
  TRY_ASSIGN(auto tasks, client.call(Call::GET_TASKS));
  std::optional<mesos::v1::Task> found;
  for (const auto* list : {&tasks.get_tasks().tasks(), &tasks.get_tasks().completed_tasks(),
                           &tasks.get_tasks().unreachable_tasks()})
    for (const auto& task : *list)
      if (task.task_id().value() == id) found = task;
  if (!found) return nucleo::Error::make("task '{}' is not known to the master {}", id, client.master());
  TRY_ASSIGN(auto agents, client.call(Call::GET_AGENTS));
  for (const auto& agent : agents.get_agents().agents())
    if (agent.agent_info().id().value() == found->agent_id().value())
      return FoundTask{*found, nucleo::cluster::agentEndpoint(agent)};
  return nucleo::Error::make("the agent {} of task '{}' is not registered", found->agent_id().value(), id);
}

int logs(const OperatorClient& client, const std::string& id, bool follow, bool stderrOnly) {
  auto found = findTask(client, id);
  if (!found) return fail(found.error().message);
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
    auto again = findTask(client, id);
    if (again && terminal(again->task.state())) {
      follow = false;  // one last read after the end
      continue;
    }
    std::this_thread::sleep_for(500ms);
  }
}

// Kills a task by re-subscribing as its framework (which takes over that
// framework's subscription: the framework must be disconnected, or --force).
class Killer : public nucleo::sdk::Scheduler {
 public:
  explicit Killer(mesos::v1::Task task) : task_(std::move(task)) {}
  void subscribed(nucleo::sdk::SchedulerDriver& driver,
                  const mesos::v1::scheduler::Event::Subscribed&) override {
    driver.kill(task_.task_id(), task_.agent_id());
  }
  void offers(nucleo::sdk::SchedulerDriver& driver, const std::vector<mesos::v1::Offer>& offers) override {
    for (const auto& offer : offers) driver.decline({offer.id()});
  }
  void update(nucleo::sdk::SchedulerDriver& driver, const mesos::v1::TaskStatus& status) override {
    if (status.task_id().value() != task_.task_id().value()) return;
    std::printf("%s: %s\n", task_.task_id().value().c_str(), shortState(status.state()).c_str());
    if (terminal(status.state())) {
      result = status.state() == mesos::v1::TASK_KILLED ? 0 : 1;
      driver.stop();
    }
  }
  void error(nucleo::sdk::SchedulerDriver&, const std::string& message) override {
    std::fprintf(stderr, "nucleo cluster: %s\n", message.c_str());
  }
  int result = 1;

 private:
  mesos::v1::Task task_;
};

int kill(const OperatorClient& client, const std::string& id, bool force,
         const std::optional<nucleo::sdk::Credential>& credential) {
  auto found = findTask(client, id);
  if (!found) return fail(found.error().message);
  if (terminal(found->task.state()))
    return fail("task '" + id + "' already ended: " + shortState(found->task.state()));
  auto frameworks = client.call(Call::GET_FRAMEWORKS);
  if (!frameworks) return fail(frameworks.error().message);
  std::optional<mesos::v1::master::Response::GetFrameworks::Framework> owner;
  for (const auto& framework : frameworks->get_frameworks().frameworks())
    if (framework.framework_info().id().value() == found->task.framework_id().value()) owner = framework;
  if (!owner) return fail("the framework of task '" + id + "' is gone");
  if (owner->connected() && !force)
    return fail("framework " + owner->framework_info().name() +
                " is connected: ask it to kill the task, or use --force to take its subscription over");
  Killer killer(found->task);
  nucleo::sdk::SchedulerOptions options;
  options.master = client.master();
  options.framework = owner->framework_info();
  options.credential = credential;
  nucleo::sdk::SchedulerDriver driver(killer, options);
  std::thread timeout([&] {
    std::this_thread::sleep_for(60s);
    driver.stop();
  });
  timeout.detach();
  if (auto ran = driver.run(); !ran) return fail(ran.error().message);
  return killer.result;
}

int top(const OperatorClient& client, bool once) {
  while (true) {
    auto agents = client.call(Call::GET_AGENTS);
    auto tasks = client.call(Call::GET_TASKS);
    if (!agents) return fail(agents.error().message);
    if (!tasks) return fail(tasks.error().message);
    std::map<std::string, std::map<std::string, int>> states;  // agent -> state -> count
    for (const auto& task : tasks->get_tasks().tasks())
      ++states[task.agent_id().value()][shortState(task.state())];
    if (!once) std::printf("\033[H\033[2J");
    std::printf("nucleo cluster top — master %s\n\n", client.master().c_str());
    std::printf("%-24s %-14s %-16s %-7s %s\n", "AGENT", "CPUS", "MEM (MB)", "CPU%", "TASKS");
    for (const auto& agent : agents->get_agents().agents()) {
      auto total = nucleo::sdk::scalars(agent.total_resources());
      auto used = nucleo::sdk::scalars(agent.allocated_resources());
      std::string summary;
      for (const auto& [state, count] : states[agent.agent_info().id().value()])
        summary += state + ":" + std::to_string(count) + " ";
      double percent = total["cpus"] > 0 ? 100 * used["cpus"] / total["cpus"] : 0;
      std::printf("%-24s %-14s %-16s %-7.0f %s\n", agent.agent_info().hostname().substr(0, 24).c_str(),
                  amount(used["cpus"], total["cpus"]).c_str(), amount(used["mem"], total["mem"]).c_str(),
                  percent, summary.c_str());
    }
    std::fflush(stdout);
    if (once) return 0;
    std::this_thread::sleep_for(2s);
  }
}

int run(const std::string& master, std::vector<std::string> arguments, const char* self) {
  std::filesystem::path execute = std::filesystem::path(self).parent_path() / "nucleo-execute";
  std::string binary = std::filesystem::exists(execute) ? execute.string() : "nucleo-execute";
  std::vector<std::string> args{binary, "--master", master};
  args.insert(args.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  return fail("cannot run " + binary + ": " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  std::string master;
  const char* fromEnv = std::getenv("NUCLEO_MASTER");
  master = fromEnv != nullptr ? fromEnv : "127.0.0.1:5050";
  bool json = false, all = false, follow = false, stderrOnly = false, force = false, once = false;
  std::string principal, secret, taskId;
  std::vector<std::string> runArguments;

  CLI::App app{"Looks at and acts on a nucleo cluster through its master", "nucleo cluster"};
  app.require_subcommand(1);
  app.add_option("--master", master, "Master host:port ($NUCLEO_MASTER)")->capture_default_str();
  app.add_flag("--json", json, "Print JSON (the operator API's answer) instead of a table");
  app.add_option("--principal", principal, "Principal for HTTP Basic authentication");
  app.add_option("--secret", secret, "Secret for HTTP Basic authentication");
  auto* agents = app.add_subcommand("agents", "List the agents");
  auto* frameworks = app.add_subcommand("frameworks", "List the frameworks");
  frameworks->add_flag("--all,-a", all, "Include frameworks that have ended");
  auto* tasks = app.add_subcommand("tasks", "List the tasks");
  tasks->add_flag("--all,-a", all, "Include completed tasks");
  auto* runCommand = app.add_subcommand("run", "Run a task (nucleo-execute's flags)");
  runCommand->allow_extras();
  runCommand->prefix_command();
  auto* killCommand = app.add_subcommand("kill", "Kill a task");
  killCommand->add_option("task", taskId, "Task id")->required();
  killCommand->add_flag("--force", force, "Take the subscription over from a connected framework");
  auto* logsCommand = app.add_subcommand("logs", "Show a task's stdout (or stderr)");
  logsCommand->add_option("task", taskId, "Task id")->required();
  logsCommand->add_flag("--follow,-f", follow, "Follow until the task ends");
  logsCommand->add_flag("--stderr", stderrOnly, "Show stderr instead of stdout");
  auto* topCommand = app.add_subcommand("top", "Agents' resources and tasks, refreshed");
  topCommand->add_flag("--once", once, "Print once and exit");
  CLI11_PARSE(app, argc, argv);

  std::optional<nucleo::sdk::Credential> credential;
  if (!principal.empty()) credential = nucleo::sdk::Credential{principal, secret};
  OperatorClient client(master, credential);
  if (*agents) return printAgents(client, json);
  if (*frameworks) return printFrameworks(client, json, all);
  if (*tasks) return printTasks(client, json, all);
  if (*runCommand) return run(master, runCommand->remaining(), argv[0]);
  if (*killCommand) return kill(client, taskId, force, credential);
  if (*logsCommand) return logs(client, taskId, follow, stderrOnly);
  if (*topCommand) return top(client, once);
  return 2;
}
