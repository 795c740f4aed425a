#pragma once
// The master's operator API (POST /api/v1) for command-line tools, and the
// few agent operator calls the CLI makes.

#include <optional>
#include <string>

#include "base/result.hpp"
#include "mesos/v1/agent/agent.pb.h"
#include "mesos/v1/master/master.pb.h"
#include "sdk/scheduler.hpp"

namespace nucleo::cluster {

class OperatorClient {
 public:
  OperatorClient(std::string master, std::optional<sdk::Credential> credential)
      : master_(std::move(master)), credential_(std::move(credential)) {}

  const std::string& master() const { return master_; }
  const std::optional<sdk::Credential>& credential() const { return credential_; }
  // One synchronous call (GET_AGENTS, GET_TASKS, ...); errors name the call
  // and the master's answer.
  Result<mesos::v1::master::Response> call(mesos::v1::master::Call::Type type) const;
  // One synchronous call to the agent at `agent` (host:port), with this
  // client's credential; errors name the call, the agent and its answer.
  Result<mesos::v1::agent::Response> callAgent(const std::string& agent,
                                               mesos::v1::agent::Call::Type type) const;

 private:
  std::string master_;
  std::optional<sdk::Credential> credential_;
};

// host:port of an agent, from its GET_AGENTS entry ("slave(1)@ip:port", else
// hostname:port).
std::string agentEndpoint(const mesos::v1::master::Response::GetAgents::Agent& agent);

// A task wherever the master lists it (active, completed or unreachable),
// with its agent's endpoint. Errors: the master is unreachable, it does not
// know the task, or the task's agent is not registered.
struct FoundTask {
  mesos::v1::Task task;
  std::string agent;
};
Result<FoundTask> findTask(const OperatorClient& client, const std::string& id);

}  // namespace nucleo::cluster
