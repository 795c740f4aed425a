// /state (the shape of Mesos's /master/state, trimmed) and /metrics.

#include <boost/json.hpp>
#include <fmt/format.h>

#include "master/convert.hpp"
#include "master/master.hpp"

namespace nucleo::master {
namespace {

boost::json::object resourcesJson(const Resources& resources) {
  boost::json::object out;
  for (const auto& [name, milli] : resources.scalarsMilli()) out[name] = milli / 1000.0;
  for (const auto& [name, ranges] : resources.ranges()) {
    std::string text = "[";
    for (const auto& [b, e] : ranges)
      text += fmt::format("{}{}-{}", text.size() > 1 ? ", " : "", b, e);
    out[name] = text + "]";
  }
  return out;
}

}  // namespace

std::string Master::stateJson() const {
  boost::json::object state;
  state["id"] = id_;
  state["hostname"] = options_.hostname;
  state["version"] = options_.version;
  state["pid"] = "master@" + options_.ip + ":" + std::to_string(options_.port);
  boost::json::array frameworks;
  for (const auto& [id, framework] : frameworks_) {
    boost::json::object f;
    f["id"] = id;
    f["name"] = framework.info.name();
    f["user"] = framework.info.user();
    f["principal"] = framework.info.principal();
    f["roles"] = boost::json::array(framework.roles.begin(), framework.roles.end());
    f["active"] = framework.stream != nullptr;
    f["connected"] = framework.stream != nullptr;
    f["failover_timeout"] = framework.info.failover_timeout();
    boost::json::array tasks;
    for (const auto& [taskId, task] : framework.tasks) {
      boost::json::object t;
      t["id"] = taskId;
      t["name"] = task.task.name();
      t["framework_id"] = id;
      t["slave_id"] = task.task.agent_id().value();
      t["state"] = mesos::v1::TaskState_Name(task.task.state());
      t["resources"] = resourcesJson(task.resources);
      tasks.push_back(std::move(t));
    }
    f["tasks"] = std::move(tasks);
    boost::json::array completedTasks;
    for (const auto& task : framework.completedTasks) {
      boost::json::object t;
      t["id"] = task.task_id().value();
      t["name"] = task.name();
      t["framework_id"] = id;
      t["slave_id"] = task.agent_id().value();
      t["state"] = mesos::v1::TaskState_Name(task.state());
      completedTasks.push_back(std::move(t));
    }
    f["completed_tasks"] = std::move(completedTasks);
    boost::json::array offers;
    for (const auto* offer : offers_.ofFramework(id)) {
      boost::json::object o;
      o["id"] = offer->id;
      o["framework_id"] = id;
      o["slave_id"] = offer->allocation.agentId;
      o["resources"] = resourcesJson(offer->allocation.resources);
      offers.push_back(std::move(o));
    }
    f["offers"] = std::move(offers);
    frameworks.push_back(std::move(f));
  }
  state["frameworks"] = std::move(frameworks);
  boost::json::array completed;
  std::set<std::string> described;
  for (const auto& record : completedFrameworkRecords_) {
    boost::json::array tasks;
    for (const auto& task : record.tasks)
      tasks.push_back(boost::json::object{{"id", task.task_id().value()},
                                          {"name", task.name()},
                                          {"framework_id", record.info.id().value()},
                                          {"slave_id", task.agent_id().value()},
                                          {"state", mesos::v1::TaskState_Name(task.state())}});
    completed.push_back(boost::json::object{{"id", record.info.id().value()},
                                            {"name", record.info.name()},
                                            {"completed_tasks", std::move(tasks)}});
    described.insert(record.info.id().value());
  }
  for (const auto& id : completedFrameworks_)
    if (!described.count(id)) completed.push_back(boost::json::object{{"id", id}});
  state["completed_frameworks"] = std::move(completed);
  boost::json::array agents;
  int64_t active = 0;
  for (const auto& [id, agent] : agents_) {
    boost::json::object a;
    a["id"] = id;
    a["hostname"] = agent.info.hostname();
    a["port"] = agent.info.port();
    a["active"] = agent.reachable;
    a["resources"] = resourcesJson(agent.total);
    a["pid"] = fmt::format("slave(1)@{}:{}", agent.ip, agent.info.port());
    active += agent.reachable ? 1 : 0;
    agents.push_back(std::move(a));
  }
  state["slaves"] = std::move(agents);
  state["activated_slaves"] = active;
  return boost::json::serialize(state);
}

std::string Master::metricsText() const {
  std::string out;
  auto gauge = [&](const char* name, const char* help, const std::string& labels, double v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0}{2} {3}\n", name, help, labels, v);
  };
  size_t reachable = 0;
  for (const auto& [id, agent] : agents_) reachable += agent.reachable ? 1 : 0;
  out += "# HELP nucleo_master_agents Agents known to the master\n# TYPE nucleo_master_agents gauge\n";
  out += fmt::format("nucleo_master_agents{{state=\"reachable\"}} {}\n", reachable);
  out += fmt::format("nucleo_master_agents{{state=\"unreachable\"}} {}\n", agents_.size() - reachable);
  size_t connected = 0;
  std::map<std::string, size_t> tasks;
  for (const auto& [id, framework] : frameworks_) {
    connected += framework.stream ? 1 : 0;
    for (const auto& [taskId, task] : framework.tasks) ++tasks[mesos::v1::TaskState_Name(task.task.state())];
  }
  out += "# HELP nucleo_master_frameworks Frameworks known to the master\n"
         "# TYPE nucleo_master_frameworks gauge\n";
  out += fmt::format("nucleo_master_frameworks{{state=\"connected\"}} {}\n", connected);
  out += fmt::format("nucleo_master_frameworks{{state=\"disconnected\"}} {}\n",
                     frameworks_.size() - connected);
  out += fmt::format("nucleo_master_frameworks{{state=\"completed\"}} {}\n", completedFrameworks_.size());
  out += "# HELP nucleo_master_tasks Tasks by state\n# TYPE nucleo_master_tasks gauge\n";
  for (const auto& [state, n] : tasks) out += fmt::format("nucleo_master_tasks{{state=\"{}\"}} {}\n", state, n);
  gauge("nucleo_master_offers_outstanding", "Offers not yet answered", "", static_cast<double>(offers_.size()));
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, v);
  };
  counter("nucleo_master_offers_sent_total", "Offers sent", counters_.offersSent);
  counter("nucleo_master_offers_declined_total", "Offers declined", counters_.offersDeclined);
  counter("nucleo_master_offers_rescinded_total", "Offers rescinded or expired", counters_.offersRescinded);
  counter("nucleo_master_tasks_launched_total", "Tasks accepted for launch", counters_.tasksLaunched);
  counter("nucleo_master_tasks_invalid_total", "Tasks refused with TASK_ERROR", counters_.tasksInvalid);
  counter("nucleo_master_allocation_cycles_total", "Allocation cycles run", counters_.allocationCycles);
  gauge("nucleo_master_allocation_cycle_seconds", "Duration of the last allocation cycle", "",
        counters_.lastAllocationSeconds);
  gauge("nucleo_master_allocation_cycle_max_seconds", "Longest allocation cycle so far", "",
        counters_.maxAllocationSeconds);
  return out;
}

}  // namespace nucleo::master
