#pragma once
// The agent's connection to the master (proto/nucleo/agent.proto): a
// REGISTER stream read as RecordIO, calls POSTed on a second keep-alive
// connection with the stream's Mesos-Stream-Id, HEARTBEATs at half the
// master's interval, and re-registration with exponential backoff and
// jitter when the stream breaks or the master goes quiet (no PING).

#include <functional>
#include <memory>
#include <string>

#include "agent/flags.hpp"
#include "nucleo/agent.pb.h"

namespace boost::asio {
class io_context;
}

namespace nucleo::agent {

struct MasterLinkHooks {
  // The REGISTER call to send on each (re)connection.
  std::function<nucleo::agent::Call()> registerCall;
  // Every event but PING, REGISTERED included, in stream order.
  std::function<void(const nucleo::agent::Event&)> onEvent;
  // The stream ended (after a REGISTERED or not).
  std::function<void()> onDisconnected;
  // The master refused REGISTER with 403 (the agent was marked gone).
  std::function<void(const std::string& reason)> onRefused;
};

class MasterLink {
 public:
  // Starts dialing options.masterHost:masterPort on `io`; hooks run on io's
  // thread, and send()/reconnect() must be called there too.
  static std::unique_ptr<MasterLink> start(boost::asio::io_context& io,
                                           const AgentOptions& options, MasterLinkHooks hooks);
  ~MasterLink();
  // Queues a call (agent_id set by the caller). Dropped while no stream is
  // registered: status updates are resent by their manager.
  void send(const nucleo::agent::Call& call);
  // Drops the stream; the link registers again after its backoff.
  void reconnect();
  // Stops dialing and closes the connections.
  void stop();
  struct Impl;

 private:
  explicit MasterLink(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Splits RecordIO ("<length>\n<bytes>"...) fed in arbitrary pieces.
class RecordIoDecoder {
 public:
  // Appends data; complete records go to `out`. False on a malformed length
  // or a record over `maxRecord` bytes (the stream must then be dropped).
  bool feed(std::string_view data, std::vector<std::string>& out, size_t maxRecord = 64 << 20);

 private:
  std::string buffer_;
};

}  // namespace nucleo::agent
