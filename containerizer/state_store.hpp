#pragma once
// Where the runtime keeps what it knows about containers between commands:
// <root>/<id>/state.json (written atomically), the exec fifo that holds a
// created container before `start`, and a copy of its config.json.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::containerizer {

struct ContainerRecord {
  std::string id;
  std::string bundle;
  std::string rootfs;
  pid_t pid = 0;
  uint64_t startTime = 0;      // /proc/<pid>/stat start time, guards pid reuse
  std::string cgroupPath;      // relative to each hierarchy's root
  std::string created;         // RFC 3339, UTC
  std::string owner;           // user name of the creator, as runc lists it
  std::map<std::string, std::string> annotations;
  std::string network;         // network::Attachment JSON; "" when none was set up
};

enum class ContainerStatus { Creating, Created, Running, Paused, Stopped };
const char* statusName(ContainerStatus status);

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}

  // runc's rule: ids are [A-Za-z0-9_+.-]+, not "." or "..".
  static nucleo::Status validateId(const std::string& id);

  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const { return root_ + "/" + id; }
  std::string fifoPath(const std::string& id) const { return dir(id) + "/exec.fifo"; }

  // Makes <root>/<id> (0700); an existing one is "container "id" already exists".
  nucleo::Status reserve(const std::string& id) const;
  nucleo::Status save(const ContainerRecord& record) const;
  // "container "id" does not exist" when there is no record.
  Result<ContainerRecord> load(const std::string& id) const;
  Result<std::vector<std::string>> ids() const;
  nucleo::Status remove(const std::string& id) const;

 private:
  std::string root_;
};

}  // namespace nucleo::containerizer
