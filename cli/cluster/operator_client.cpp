#include "cli/cluster/operator_client.hpp"

#include "sdk/http_client.hpp"
#include "sdk/http_common.hpp"

namespace nucleo::cluster {

using namespace std::chrono_literals;

Result<mesos::v1::master::Response> OperatorClient::call(mesos::v1::master::Call::Type type) const {
  mesos::v1::master::Call request;
  request.set_type(type);
  sdk::HttpHeaders headers{{"Content-Type", "application/x-protobuf"},
                           {"Accept", "application/x-protobuf"}};
  if (credential_) headers.emplace_back("Authorization", sdk::basicAuthorization(*credential_));
  const std::string& name = mesos::v1::master::Call::Type_Name(type);
  auto response = sdk::httpRequest(master_, "POST", "/api/v1", headers, request.SerializeAsString(), 15s);
  if (!response) return Error::make("{} to {}: {}", name, master_, response.error().message);
  if (response->head.status != 200)
    return Error::make("{} to {}: HTTP {}: {}", name, master_, response->head.status,
                       response->body.substr(0, 300));
  mesos::v1::master::Response parsed;
  if (!parsed.ParseFromString(response->body))
    return Error::make("{} to {}: the answer is not a master::Response", name, master_);
  return parsed;
}

std::string agentEndpoint(const mesos::v1::master::Response::GetAgents::Agent& agent) {
  auto at = agent.pid().rfind('@');
  if (at != std::string::npos) return agent.pid().substr(at + 1);
  return agent.agent_info().hostname() + ":" + std::to_string(agent.agent_info().port());
}

}  // namespace nucleo::cluster
