#include "containerizer/state_store.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>

#include "base/fs.hpp"

namespace nucleo::containerizer {

const char* statusName(ContainerStatus status) {
  switch (status) {
    case ContainerStatus::Creating: return "creating";
    case ContainerStatus::Created: return "created";
    case ContainerStatus::Running: return "running";
    case ContainerStatus::Paused: return "paused";
    case ContainerStatus::Stopped: return "stopped";
  }
  return "unknown";
}

nucleo::Status StateStore::validateId(const std::string& id) {
  if (id.empty()) return Error::make("container id must not be empty");
  if (id == "." || id == ".." || id.size() > 1024 ||
      id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.") !=
          std::string::npos)
    return Error::make("invalid container id \"{}\": use letters, digits and _+-.", id);
  return ok();
}

nucleo::Status StateStore::reserve(const std::string& id) const {
  TRY(validateId(id));
  if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) {
    TRY(fs::makeDirs(root_));
  }
  if (::mkdir(dir(id).c_str(), 0700) < 0) {
    if (errno == EEXIST) return Error{EEXIST, fmt::format("container \"{}\" already exists", id)};
    return Error::fromErrno("mkdir '" + dir(id) + "'");
  }
  return ok();
}

nucleo::Status StateStore::save(const ContainerRecord& r) const {
  boost::json::object o{{"id", r.id},         {"bundle", r.bundle},
                        {"rootfs", r.rootfs}, {"pid", r.pid},
                        {"startTime", r.startTime}, {"cgroupPath", r.cgroupPath},
                        {"created", r.created}, {"owner", r.owner}};
  boost::json::object annotations;
  for (const auto& [k, v] : r.annotations) annotations[k] = v;
  o["annotations"] = std::move(annotations);
  if (!r.network.empty()) o["network"] = r.network;
  return fs::writeFileAtomic(dir(r.id) + "/state.json", boost::json::serialize(o), 0600,
                             fs::Durability::Volatile);
}

Result<ContainerRecord> StateStore::load(const std::string& id) const {
  TRY(validateId(id));
  auto text = fs::readFile(dir(id) + "/state.json");
  if (!text) {
    if (text.error().code == ENOENT)
      return Error{ENOENT, fmt::format("container \"{}\" does not exist", id)};
    return std::move(text).error();
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*text, ec);
  if (ec || !v.is_object())
    return Error::make("container \"{}\": corrupt state file '{}'", id, dir(id) + "/state.json");
  const auto& o = v.get_object();
  ContainerRecord r;
  try {
    r.id = o.at("id").as_string().c_str();
    r.bundle = o.at("bundle").as_string().c_str();
    r.rootfs = o.at("rootfs").as_string().c_str();
    r.pid = static_cast<pid_t>(o.at("pid").to_number<int64_t>());
    r.startTime = o.at("startTime").to_number<uint64_t>();
    r.cgroupPath = o.at("cgroupPath").as_string().c_str();
    r.created = o.at("created").as_string().c_str();
    r.owner = o.at("owner").as_string().c_str();
    for (const auto& kv : o.at("annotations").as_object())
      r.annotations[std::string(kv.key())] = kv.value().as_string().c_str();
    if (auto* n = o.if_contains("network")) r.network = n->as_string().c_str();
  } catch (const std::exception& e) {
    return Error::make("container \"{}\": corrupt state file: {}", id, e.what());
  }
  return r;
}

Result<std::vector<std::string>> StateStore::ids() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(root_.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Error::fromErrno("open '" + root_ + "'");
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (fs::exists(dir(name) + "/state.json")) out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

nucleo::Status StateStore::remove(const std::string& id) const {
  TRY(validateId(id));
  return fs::removeAll(dir(id));
}

}  // namespace nucleo::containerizer
