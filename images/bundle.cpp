#include "images/bundle.hpp"

#include <boost/json.hpp>
#include <cstdlib>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "linux/mount.hpp"
#include "oci/json_pretty.hpp"
#include "oci/state.hpp"

namespace nucleo::images {

Result<std::vector<std::string>> processArgs(const ImageConfig& config,
                                             const std::vector<std::string>& args) {
  std::vector<std::string> out = config.entrypoint.value_or(std::vector<std::string>{});
  const auto& tail = args.empty() ? config.cmd.value_or(std::vector<std::string>{}) : args;
  out.insert(out.end(), tail.begin(), tail.end());
  if (out.empty()) return Error::make("the image has no Entrypoint or Cmd: give a command");
  return out;
}

std::vector<std::string> processEnv(const ImageConfig& config,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> env = config.env;
  auto keyOf = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  auto set = [&](const std::string& kv) {
    for (auto& e : env)
      if (keyOf(e) == keyOf(kv)) return void(e = kv);
    env.push_back(kv);
  };
  bool hasPath = false;
  for (const auto& e : env) hasPath |= keyOf(e) == "PATH";
  if (!hasPath) set("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  for (const auto& kv : extra) {
    if (kv.find('=') != std::string::npos) {
      set(kv);
    } else if (const char* host = std::getenv(kv.c_str())) {
      set(kv + "=" + host);
    }
  }
  return env;
}

namespace {

struct Entry {
  std::string name;
  uint32_t id = 0, gid = 0;
  std::vector<std::string> members;
};

std::vector<Entry> parseColonFile(std::string_view text, bool isGroup) {
  std::vector<Entry> out;
  for (const auto& line : strings::split(text, '\n', true)) {
    auto f = strings::split(line, ':');
    if (f.size() < (isGroup ? 3u : 4u) || f[0].empty() || f[0][0] == '#') continue;
    auto id = strings::toUint(f[2]);
    if (!id || *id > UINT32_MAX) continue;
    Entry e{f[0], static_cast<uint32_t>(*id), 0, {}};
    if (!isGroup) {
      auto gid = strings::toUint(f[3]);
      if (!gid || *gid > UINT32_MAX) continue;
      e.gid = static_cast<uint32_t>(*gid);
    } else if (f.size() > 3) {
      e.members = strings::split(f[3], ',', true);
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<uint32_t> numeric(std::string_view s) {
  auto v = strings::toUint(s);
  if (!v || *v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

}  // namespace

Result<oci::User> resolveUser(std::string_view spec, std::string_view passwd,
                              std::string_view group) {
  std::string_view userPart = spec, groupPart;
  bool groupNamed = false;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    userPart = spec.substr(0, colon), groupPart = spec.substr(colon + 1), groupNamed = true;
  }
  if (userPart.empty()) userPart = "0";
  auto users = parseColonFile(passwd, false);
  auto groups = parseColonFile(group, true);
  oci::User out;
  const Entry* found = nullptr;
  auto uid = numeric(userPart);
  for (const auto& u : users)
    if (uid ? u.id == *uid : u.name == userPart) { found = &u; break; }
  if (!uid && !found) return Error::make("user '{}': not found in /etc/passwd", userPart);
  out.uid = uid ? *uid : found->id;
  out.gid = found ? found->gid : 0;
  if (found) out.username = found->name;
  if (groupNamed) {
    if (groupPart.empty()) return Error::make("user '{}': empty group", spec);
    if (auto gid = numeric(groupPart)) {
      out.gid = *gid;
    } else {
      auto g = std::find_if(groups.begin(), groups.end(), [&](const Entry& e) { return e.name == groupPart; });
      if (g == groups.end()) return Error::make("group '{}': not found in /etc/group", groupPart);
      out.gid = g->id;
    }
    return out;
  }
  if (found)
    for (const auto& g : groups)
      if (g.id != out.gid && std::find(g.members.begin(), g.members.end(), found->name) != g.members.end())
        out.additionalGids.push_back(g.id);
  return out;
}

static Result<std::string> readInRoot(int root, const std::string& path) {
  auto fd = os::openInRoot(root, path, O_RDONLY);
  if (!fd && fd.error().code == ENOENT) return std::string();
  if (!fd) return std::move(fd).error();
  std::string out, buffer(8192, '\0');
  for (;;) {
    ssize_t n = ::read(fd->get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::fromErrno("read " + path);
    if (n == 0) return out;
    if (out.size() > (4 << 20)) return Error::make("{}: too large", path);
    out.append(buffer.data(), static_cast<size_t>(n));
  }
}

Result<oci::User> resolveUserInRootfs(std::string_view spec, const std::string& rootfs) {
  TRY_ASSIGN(UniqueFd root, UniqueFd::open(rootfs, O_PATH | O_DIRECTORY));
  TRY_ASSIGN(std::string passwd, readInRoot(root.get(), "/etc/passwd"));
  TRY_ASSIGN(std::string group, readInRoot(root.get(), "/etc/group"));
  return resolveUser(spec, passwd, group);
}

Result<int64_t> parseMemory(std::string_view text) {
  std::string_view digits = text;
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': case 'K': unit = 1 << 10; break;
      case 'm': case 'M': unit = 1 << 20; break;
      case 'g': case 'G': unit = 1 << 30; break;
      default: break;
    }
    if (unit != 1) digits.remove_suffix(1);
  }
  auto v = strings::toInt(digits);
  if (!v || *v <= 0 || *v > INT64_MAX / unit) return Error::make("memory '{}': expected a size like 64m", text);
  return *v * unit;
}

Result<std::string> bundleConfigJson(const ImageConfig& config, const oci::User& user,
                                     const RunOverrides& overrides) {
  TRY_ASSIGN(auto args, processArgs(config, overrides.args));
  boost::json::value spec = boost::json::parse(oci::defaultSpecJson(false, 0, 0));
  auto& process = spec.at("process").as_object();
  process["terminal"] = overrides.terminal;
  process["args"] = boost::json::value_from(args);
  process["env"] = boost::json::value_from(processEnv(config, overrides.env));
  std::string cwd = config.workingDir.empty() ? "/" : config.workingDir;
  process["cwd"] = cwd.front() == '/' ? cwd : "/" + cwd;
  boost::json::object u{{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additionalGids.empty()) u["additionalGids"] = boost::json::value_from(user.additionalGids);
  process["user"] = u;
  spec.at("root").as_object()["readonly"] = false;
  if (!overrides.hostname.empty()) spec.at("hostname") = overrides.hostname;
  boost::json::object annotations;
  for (const auto& [k, v] : config.labels) annotations[k] = v;
  if (!config.stopSignal.empty()) annotations["org.opencontainers.image.stopSignal"] = config.stopSignal;
  if (!annotations.empty()) spec.as_object()["annotations"] = annotations;
  auto& resources = spec.at("linux").as_object()["resources"].as_object();
  if (overrides.memoryBytes) resources["memory"] = {{"limit", *overrides.memoryBytes}};
  if (overrides.cpus) {
    if (*overrides.cpus <= 0) return Error::make("cpus '{}': must be positive", *overrides.cpus);
    resources["cpu"] = {{"quota", static_cast<int64_t>(*overrides.cpus * 100000)}, {"period", 100000}};
  }
  return oci::prettyJson(spec) + "\n";
}

}  // namespace nucleo::images
