#pragma once
// The master's operator API (POST /api/v1) for command-line tools.

#include <optional>
#include <string>

#include "base/result.hpp"
#include "mesos/v1/master/master.pb.h"
#include "sdk/scheduler.hpp"

namespace nucleo::cluster {

class OperatorClient {
 public:
  OperatorClient(std::string master, std::optional<sdk::Credential> credential)
      : master_(std::move(master)), credential_(std::move(credential)) {}

  const std::string& master() const { return master_; }
  // One synchronous call (GET_AGENTS, GET_TASKS, ...); errors name the call
  // and the master's answer.
  Result<mesos::v1::master::Response> call(mesos::v1::master::Call::Type type) const;

 private:
  std::string master_;
  std::optional<sdk::Credential> credential_;
};

// host:port of an agent, from its GET_AGENTS entry ("slave(1)@ip:port", else
// hostname:port).
std::string agentEndpoint(const mesos::v1::master::Response::GetAgents::Agent& agent);

}  // namespace nucleo::cluster
