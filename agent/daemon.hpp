#pragma once
// nucleo-agent as a whole: the containerizer, fetcher and resources from the
// flags, recovery, the HTTP server, the master link and the agent's timers,
// all on one io_context thread (the agent's strand); launches and fetches run
// on a small thread pool and report back to it.

#include <memory>

#include "agent/flags.hpp"
#include "base/result.hpp"

namespace nucleo::agent {

class AgentDaemon {
 public:
  // Prepares the work dir, detects resources, recovers the checkpoint and the
  // containers, binds the HTTP port. Errors name the flag or path at fault.
  static Result<std::unique_ptr<AgentDaemon>> create(AgentOptions options);
  ~AgentDaemon();
  // The bound HTTP port (useful with --port 0).
  uint16_t port() const;
  // Serves until SIGINT/SIGTERM or stop(); the tasks keep running after it.
  void run();
  // Thread-safe.
  void stop();
  struct Impl;

 private:
  explicit AgentDaemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nucleo::agent
