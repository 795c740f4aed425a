#include "master/registry.hpp"

#include "base/fs.hpp"

namespace nucleo::master {

Result<nucleo::registry::Registry> FileRegistry::load() {
  nucleo::registry::Registry registry;
  if (!fs::exists(path_)) return registry;
  TRY_ASSIGN(std::string data, fs::readFile(path_));
  if (!registry.ParseFromString(data)) return Error::make("registry '{}' is corrupt", path_);
  return registry;
}

Status FileRegistry::store(const nucleo::registry::Registry& registry) {
  return fs::writeFileAtomic(path_, registry.SerializeAsString(), 0600)
      .context("storing registry '{}'", path_);
}

}  // namespace nucleo::master
