#pragma once
// The master's registry: what must survive a restart (proto/nucleo/registry.proto).
// An interface so that a replicated store (etcd) can replace the local file.

#include <string>

#include "base/result.hpp"
#include "nucleo/registry.pb.h"

namespace nucleo::master {

class Registry {
 public:
  virtual ~Registry() = default;
  // The last stored state; an empty one when nothing was stored yet. Errors
  // name the store (unreadable or corrupt).
  virtual Result<nucleo::registry::Registry> load() = 0;
  // Replaces the stored state durably; errors name the store.
  virtual Status store(const nucleo::registry::Registry& registry) = 0;
};

// A registry in one file, replaced atomically (write, fsync, rename).
class FileRegistry final : public Registry {
 public:
  explicit FileRegistry(std::string path) : path_(std::move(path)) {}
  Result<nucleo::registry::Registry> load() override;
  Status store(const nucleo::registry::Registry& registry) override;

 private:
  std::string path_;
};

}  // namespace nucleo::master
