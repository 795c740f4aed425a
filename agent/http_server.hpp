#pragma once
// nucleo-agent's HTTP front on --ip:--port: POST /api/v1/executor (Mesos v1
// executor API: SUBSCRIBE streams, UPDATE, MESSAGE, HEARTBEAT), POST /api/v1
// (operator read calls), GET /files/browse and /files/read (sandboxes),
// GET /metrics (Prometheus text) and /health. Bounded bodies and per-request
// timeouts; everything runs on the agent's io_context thread.

#include <cstdint>
#include <memory>

#include "agent/agent.hpp"
#include "agent/flags.hpp"
#include "base/result.hpp"

namespace boost::asio {
class io_context;
}

namespace nucleo::agent {

class HttpServer {
 public:
  // Binds options.ip:options.port (0 picks a free port). Errors name the address.
  static Result<std::unique_ptr<HttpServer>> bind(boost::asio::io_context& io,
                                                  const AgentOptions& options);
  ~HttpServer();
  uint16_t port() const;
  // Starts accepting; requests go to `agent`, which must outlive the server.
  void serve(Agent& agent);
  void stop();
  struct Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace nucleo::agent
