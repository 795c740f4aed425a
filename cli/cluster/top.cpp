// `nucleo cluster top`: the active tasks with what their containers use, from
// the master's GET_TASKS and GET_AGENTS and each agent's GET_CONTAINERS
// (resource statistics). CPU% is the cpu time used between two samples over
// the wall time between them.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "cli/cluster/commands.hpp"
#include "sdk/resources.hpp"

namespace nucleo::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using Call = mesos::v1::master::Call;
using Container = mesos::v1::agent::Response::GetContainers::Container;

struct Row {
  mesos::v1::Task task;
  std::string agent;  // host:port
  std::optional<Container> container;
  std::optional<double> cpuPercent;
};

struct Sample {
  std::vector<Row> rows;
  std::vector<std::string> warnings;  // agents that did not answer
  Clock::time_point at;
};

// The task's container: the one its latest status names, else the only
// container of its executor (a command task's executor id is its task id).
std::optional<Container> containerOf(const mesos::v1::Task& task, const std::vector<Container>& containers) {
  for (const auto& status : task.statuses())
    if (status.container_status().has_container_id())
      for (const auto& container : containers)
        if (container.container_id().value() == status.container_status().container_id().value())
          return container;
  std::string executor = task.has_executor_id() ? task.executor_id().value() : task.task_id().value();
  std::optional<Container> only;
  for (const auto& container : containers)
    if (container.executor_id().value() == executor &&
        container.framework_id().value() == task.framework_id().value()) {
      if (only) return std::nullopt;  // a pod: ambiguous without a status naming it
      only = container;
    }
  return only;
}

nucleo::Result<Sample> sample(const OperatorClient& client) {
  TRY_ASSIGN(auto tasks, client.call(Call::GET_TASKS));
  TRY_ASSIGN(auto agents, client.call(Call::GET_AGENTS));
  Sample result;
  std::map<std::string, std::string> endpoints;  // agent id -> host:port
  for (const auto& agent : agents.get_agents().agents())
    endpoints[agent.agent_info().id().value()] = agentEndpoint(agent);
  std::map<std::string, std::vector<Container>> containers;  // by agent id
  for (const auto& task : tasks.get_tasks().tasks()) {
    const std::string& agentId = task.agent_id().value();
    if (containers.count(agentId) || !endpoints.count(agentId)) continue;
    auto answer = client.callAgent(endpoints[agentId], mesos::v1::agent::Call::GET_CONTAINERS);
    auto& list = containers[agentId];
    if (!answer) {
      result.warnings.push_back(answer.error().message);
      continue;
    }
    list.assign(answer->get_containers().containers().begin(), answer->get_containers().containers().end());
  }
  result.at = Clock::now();
  for (const auto& task : tasks.get_tasks().tasks()) {
    if (terminal(task.state())) continue;
    const std::string& agentId = task.agent_id().value();
    Row row{task, endpoints.count(agentId) ? endpoints[agentId] : agentId, std::nullopt, std::nullopt};
    row.container = containerOf(task, containers[agentId]);
    result.rows.push_back(std::move(row));
  }
  return result;
}

// CPU% of each row from the cpu time its container used since `before`.
void rate(Sample& now, const Sample& before) {
  double wall = std::chrono::duration<double>(now.at - before.at).count();
  if (wall <= 0) return;
  for (auto& row : now.rows) {
    if (!row.container || !row.container->has_resource_statistics()) continue;
    for (const auto& old : before.rows)
      if (old.task.task_id().value() == row.task.task_id().value() && old.container &&
          old.container->has_resource_statistics()) {
        double used = row.container->resource_statistics().cpus_user_time_secs() -
                      old.container->resource_statistics().cpus_user_time_secs();
        row.cpuPercent = used < 0 ? 0 : 100 * used / wall;
      }
  }
}

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
    else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

void printJson(const OperatorClient& client, const Sample& sample) {
  std::string out = "{\"master\":" + jsonString(client.master()) + ",\"tasks\":[";
  bool first = true;
  for (const auto& row : sample.rows) {
    auto allocated = nucleo::sdk::scalars(row.task.resources());
    out += first ? "" : ",";
    first = false;
    out += "{\"task_id\":" + jsonString(row.task.task_id().value()) +
           ",\"name\":" + jsonString(row.task.name()) +
           ",\"state\":" + jsonString(mesos::v1::TaskState_Name(row.task.state())) +
           ",\"framework_id\":" + jsonString(row.task.framework_id().value()) +
           ",\"agent_id\":" + jsonString(row.task.agent_id().value()) + ",\"agent\":" + jsonString(row.agent) +
           ",\"cpus\":" + number(allocated["cpus"]) + ",\"mem_mb\":" + number(allocated["mem"]);
    if (row.container && row.container->has_resource_statistics()) {
      const auto& stats = row.container->resource_statistics();
      out += ",\"container_id\":" + jsonString(row.container->container_id().value()) +
             ",\"cpu_seconds\":" + number(stats.cpus_user_time_secs()) +
             ",\"mem_bytes\":" + std::to_string(stats.mem_total_bytes()) +
             ",\"mem_limit_bytes\":" + std::to_string(stats.mem_limit_bytes()) +
             ",\"processes\":" + std::to_string(stats.processes());
      if (row.cpuPercent) out += ",\"cpu_percent\":" + number(*row.cpuPercent);
    }
    out += "}";
  }
  std::printf("%s]}\n", out.c_str());
}

void printTable(const OperatorClient& client, const Sample& sample, bool clear) {
  if (clear) std::printf("\033[H\033[2J");
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
  std::printf("nucleo cluster top — master %s — %zu tasks — %s\n\n", client.master().c_str(),
              sample.rows.size(), when);
  std::printf("%-36s %-16s %-8s %-21s %6s %9s %16s %5s\n", "TASK", "NAME", "STATE", "AGENT", "CPU%",
              "CPU SECS", "MEM/LIMIT (MB)", "PROCS");
  for (const auto& row : sample.rows) {
    std::string percent = row.cpuPercent ? number(*row.cpuPercent) : "-";
    std::string seconds = "-", memory = "-", processes = "-";
    if (row.container && row.container->has_resource_statistics()) {
      const auto& stats = row.container->resource_statistics();
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.1f", stats.cpus_user_time_secs());
      seconds = buffer;
      std::snprintf(buffer, sizeof buffer, "%.1f/%.0f", stats.mem_total_bytes() / 1048576.0,
                    stats.mem_limit_bytes() / 1048576.0);
      memory = buffer;
      processes = std::to_string(stats.processes());
    }
    if (row.cpuPercent) {
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "%.1f", *row.cpuPercent);
      percent = buffer;
    }
    std::printf("%-36s %-16s %-8s %-21s %6s %9s %16s %5s\n", row.task.task_id().value().substr(0, 36).c_str(),
                row.task.name().substr(0, 16).c_str(), shortState(row.task.state()).c_str(),
                row.agent.substr(0, 21).c_str(), percent.c_str(), seconds.c_str(), memory.c_str(),
                processes.c_str());
  }
  for (const auto& warning : sample.warnings) std::printf("! %s\n", warning.c_str());
}

}  // namespace

int top(const OperatorClient& client, const TopOptions& options) {
  if (options.interval <= 0) return fail("top: --interval must be positive");
  auto previous = sample(client);
  if (!previous) return fail(previous.error().message);
  // The first CPU% needs a second sample: a short one for --once.
  double gap = options.once ? 0.5 : std::min(options.interval, 1.0);
  std::this_thread::sleep_for(std::chrono::duration<double>(gap));
  while (true) {
    auto current = sample(client);
    if (!current) return fail(current.error().message);
    rate(*current, *previous);
    if (options.json) printJson(client, *current);
    else printTable(client, *current, !options.once);
    std::fflush(stdout);
    if (options.once) return 0;
    previous = std::move(current);
    std::this_thread::sleep_for(std::chrono::duration<double>(options.interval));
  }
}

}  // namespace nucleo::cluster
