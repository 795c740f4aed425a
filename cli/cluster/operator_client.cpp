#include "cli/cluster/operator_client.hpp"

#include "sdk/http_client.hpp"
#include "sdk/http_common.hpp"

namespace nucleo::cluster {

using namespace std::chrono_literals;

namespace {

// POSTs a serialized call to `address`/api/v1 and parses the answer into `R`.
template <class R>
Result<R> post(const std::string& address, const std::string& name, const std::string& body,
               const std::optional<sdk::Credential>& credential) {
  sdk::HttpHeaders headers{{"Content-Type", "application/x-protobuf"},
                           {"Accept", "application/x-protobuf"}};
  if (credential) headers.emplace_back("Authorization", sdk::basicAuthorization(*credential));
  auto response = sdk::httpRequest(address, "POST", "/api/v1", headers, body, 15s);
  if (!response) return Error::make("{} to {}: {}", name, address, response.error().message);
  if (response->head.status != 200)
    return Error::make("{} to {}: HTTP {}: {}", name, address, response->head.status,
                       response->body.substr(0, 300));
  R parsed;
  if (!parsed.ParseFromString(response->body))
    return Error::make("{} to {}: the answer is not a {}", name, address, parsed.GetTypeName());
  return parsed;
}

}  // namespace

Result<mesos::v1::master::Response> OperatorClient::call(mesos::v1::master::Call::Type type) const {
  mesos::v1::master::Call request;
  request.set_type(type);
  return post<mesos::v1::master::Response>(master_, mesos::v1::master::Call::Type_Name(type),
                                           request.SerializeAsString(), credential_);
}

Result<mesos::v1::agent::Response> OperatorClient::callAgent(const std::string& agent,
                                                             mesos::v1::agent::Call::Type type) const {
  mesos::v1::agent::Call request;
  request.set_type(type);
  return post<mesos::v1::agent::Response>(agent, mesos::v1::agent::Call::Type_Name(type),
                                          request.SerializeAsString(), credential_);
}

std::string agentEndpoint(const mesos::v1::master::Response::GetAgents::Agent& agent) {
  auto at = agent.pid().rfind('@');
  if (at != std::string::npos) return agent.pid().substr(at + 1);
  return agent.agent_info().hostname() + ":" + std::to_string(agent.agent_info().port());
}

Result<FoundTask> findTask(const OperatorClient& client, const std::string& id) {
  TRY_ASSIGN(auto tasks, client.call(mesos::v1::master::Call::GET_TASKS));
  std::optional<mesos::v1::Task> found;
  const auto& all = tasks.get_tasks();
  for (const auto* list : {&all.pending_tasks(), &all.tasks(), &all.completed_tasks(),
                           &all.unreachable_tasks()})
    for (const auto& task : *list)
      if (task.task_id().value() == id) found = task;
  if (!found) return Error::make("task '{}' is not known to the master {}", id, client.master());
  TRY_ASSIGN(auto agents, client.call(mesos::v1::master::Call::GET_AGENTS));
  for (const auto& agent : agents.get_agents().agents())
    if (agent.agent_info().id().value() == found->agent_id().value())
      return FoundTask{*found, agentEndpoint(agent)};
  if (found->agent_id().value().empty()) return FoundTask{*found, ""};  // pending: no agent yet
  return Error::make("the agent {} of task '{}' is not registered", found->agent_id().value(), id);
}

}  // namespace nucleo::cluster
