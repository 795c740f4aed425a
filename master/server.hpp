#pragma once
// nucleo-master's HTTP front: Beast over loopback or any address, plain or
// TLS only (options.tlsCert/tlsKey), serving POST /api/v1/scheduler (Mesos
// v1 scheduler API), POST /api/v1 (operator API, SUBSCRIBE as a stream),
// POST /api/v1/nucleo/agent (proto/nucleo/agent.proto), GET /health,
// /metrics (Prometheus text) and /state (the shape of Mesos's /master/state).
// The master's state lives on one strand; each connection is a coroutine with
// bounded reads (body limit, --request-timeout per request) and a bounded
// event queue when it is a stream.

#include <cstdint>
#include <memory>

#include "base/result.hpp"
#include "master/options.hpp"

namespace nucleo::master {

class Server {
 public:
  // Binds options.ip:options.port (port 0 picks a free one) and serves on a
  // background thread until stop(). Errors name the address, the TLS files or
  // the registry.
  static Result<std::unique_ptr<Server>> start(const MasterOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port.
  uint16_t port() const;
  // Stops serving: closes the listener and every connection, joins the thread.
  void stop();
  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nucleo::master
