#pragma once
// The modes' implementations behind network.hpp.

#include <string>

#include "network/network.hpp"

namespace nucleo::network::internal {

Result<Attachment> attachBridge(const std::string& containerId, const std::string& netnsPath,
                                const Request& request);
Status detachBridge(const Attachment& attachment);
Result<std::vector<Lease>> reclaimBridge(const BridgeConfig& config,
                                         const std::function<bool(const Lease&)>& alive);

Result<Attachment> attachCni(const std::string& containerId, const std::string& netnsPath,
                             const Request& request);
// `netnsPath` empty when the namespace is gone (plugins then skip the links).
Status detachCni(const Attachment& attachment, const std::string& netnsPath);
Status checkCni(const Attachment& attachment, const std::string& netnsPath);

// Runs the undo steps in reverse unless dismissed: set-up is all or nothing.
class Rollback {
 public:
  Rollback() = default;
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    if (armed_)
      for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) (*it)();
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void dismiss() { armed_ = false; }

 private:
  std::vector<std::function<void()>> steps_;
  bool armed_ = true;
};

}  // namespace nucleo::network::internal
