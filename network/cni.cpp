// CNI: the plugins of a network configuration list, run as the CNI spec
// (1.0) says: ADD in order with each result passed on as prevResult, DEL in
// reverse order, CHECK with the cached result; parameters in CNI_* variables,
// the plugin's configuration on stdin, its result or error as JSON on stdout.
#include <dirent.h>

#include <algorithm>
#include <boost/json.hpp>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "network/command.hpp"
#include "network/internal.hpp"

extern char** environ;

namespace nucleo::network::internal {
namespace {

namespace json = boost::json;

struct NetworkList {
  json::object list;  // name, cniVersion, plugins
  std::string path;
};

std::optional<json::object> parseObject(const std::string& text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

std::string stringField(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string().c_str()) : std::string();
}

// A .conf file holds one plugin: it becomes a list of one.
std::optional<json::object> asList(json::object o, bool single) {
  if (single) {
    json::object list{{"cniVersion", o["cniVersion"]}, {"name", o["name"]}};
    list["plugins"] = json::array{o};
    return list;
  }
  auto* plugins = o.if_contains("plugins");
  if (!plugins || !plugins->is_array()) return std::nullopt;
  return o;
}

Result<NetworkList> loadList(const CniConfig& cfg, const std::string& name) {
  DIR* d = ::opendir(cfg.configDir.c_str());
  if (!d) return Error::fromErrno("CNI config dir '" + cfg.configDir + "'");
  std::vector<std::string> files;
  while (struct dirent* e = ::readdir(d)) {
    std::string f = e->d_name;
    if (f.ends_with(".conflist") || f.ends_with(".conf") || f.ends_with(".json")) files.push_back(f);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  std::vector<std::string> names;
  for (const auto& f : files) {
    std::string path = cfg.configDir + "/" + f;
    auto text = fs::readFile(path);
    if (!text) continue;
    auto o = parseObject(*text);
    if (!o) continue;
    auto list = asList(std::move(*o), !f.ends_with(".conflist"));
    if (!list) continue;
    std::string n = stringField(*list, "name");
    if (n == name) return NetworkList{std::move(*list), path};
    names.push_back(n);
  }
  return Error{ENOENT, fmt::format("CNI network '{}' not found in '{}' (found: {})", name,
                                   cfg.configDir, names.empty() ? "none" : strings::join(names, ", "))};
}

std::vector<std::string> pluginEnv(const std::string& command, const std::string& id,
                                   const std::string& netns, const std::string& ifName,
                                   const std::vector<std::string>& dirs) {
  std::vector<std::string> env;
  bool hasPath = false;
  for (char** e = environ; *e; ++e) {
    std::string_view kv = *e;
    if (strings::startsWith(kv, "CNI_")) continue;
    if (strings::startsWith(kv, "PATH=")) {
      hasPath = true;
      // Plugins such as portmap run iptables, which lives in sbin.
      env.push_back(std::string(kv) + ":/usr/sbin:/sbin");
      continue;
    }
    env.emplace_back(kv);
  }
  if (!hasPath) env.push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  env.push_back("CNI_COMMAND=" + command);
  env.push_back("CNI_CONTAINERID=" + id);
  env.push_back("CNI_NETNS=" + netns);
  env.push_back("CNI_IFNAME=" + ifName);
  env.push_back("CNI_PATH=" + strings::join(dirs, ":"));
  return env;
}

struct Invocation {
  std::string command, id, netns, ifName;
  std::vector<std::string> dirs;
  std::vector<PortMapping> ports;
};

// One plugin: its stdin is the plugin's object plus the list's name and
// version, prevResult, and the runtime config of the capabilities it asks for.
Result<json::value> runPlugin(const json::object& list, const json::object& plugin,
                              const json::value* prevResult, const Invocation& inv) {
  std::string type = stringField(plugin, "type");
  auto exe = findProgram(type, inv.dirs);
  if (!exe)
    return Error{ENOENT, fmt::format("CNI plugin '{}' not found in {}", type, strings::join(inv.dirs, ":"))};
  json::object conf = plugin;
  conf["name"] = list.at("name");
  conf["cniVersion"] = list.at("cniVersion");
  if (prevResult) conf["prevResult"] = *prevResult;
  auto* caps = plugin.if_contains("capabilities");
  if (caps && caps->is_object() && !inv.ports.empty()) {
    auto* pm = caps->as_object().if_contains("portMappings");
    if (pm && pm->is_bool() && pm->as_bool()) {
      json::array mappings;
      for (const auto& p : inv.ports)
        mappings.push_back({{"hostPort", p.hostPort}, {"containerPort", p.containerPort},
                            {"protocol", p.protocol}});
      conf["runtimeConfig"] = json::object{{"portMappings", mappings}};
    }
  }
  TRY_ASSIGN(CommandResult r, runCommand({*exe}, json::serialize(conf),
                                         pluginEnv(inv.command, inv.id, inv.netns, inv.ifName, inv.dirs)));
  if (r.exitCode != 0) {
    auto err = parseObject(r.out);
    std::string msg = err ? stringField(*err, "msg") : std::string(strings::trim(r.err));
    std::string details = err ? stringField(*err, "details") : "";
    return Error{EIO, fmt::format("CNI plugin '{}' {}: {}{}", type, inv.command, msg,
                                  details.empty() ? "" : ": " + details)};
  }
  if (strings::trim(r.out).empty()) return json::value(nullptr);
  json::error_code ec;
  auto v = json::parse(r.out, ec);
  if (ec) return Error{EIO, fmt::format("CNI plugin '{}' {}: result is not JSON", type, inv.command)};
  return v;
}

Status checkPlugins(const json::array& plugins, const std::vector<std::string>& dirs) {
  for (const auto& p : plugins) {
    if (!p.is_object()) return Error{EINVAL, "CNI network list: a plugin is not an object"};
    std::string type = stringField(p.as_object(), "type");
    if (!findProgram(type, dirs))
      return Error{ENOENT, fmt::format("CNI plugin '{}' not found in {}", type, strings::join(dirs, ":"))};
  }
  return ok();
}

Status runDel(const json::object& list, const json::value* cached, const Invocation& inv) {
  const auto& plugins = list.at("plugins").as_array();
  Status first;
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
    auto r = runPlugin(list, it->as_object(), cached, inv);
    if (!r && first) first = std::move(r).error();
  }
  return first;
}

}  // namespace

Result<Attachment> attachCni(const std::string& id, const std::string& netnsPath,
                             const Request& req) {
  TRY_ASSIGN(NetworkList nl, loadList(req.cni, req.cniNetwork));
  if (!nl.list.contains("cniVersion") || !nl.list.contains("name"))
    return Error{EINVAL, fmt::format("CNI network list '{}' lacks cniVersion or name", nl.path)};
  const auto& plugins = nl.list.at("plugins").as_array();
  TRY(checkPlugins(plugins, req.cni.pluginDirs));
  Invocation inv{"ADD", id, netnsPath, req.ifName, req.cni.pluginDirs, req.ports};
  json::value result(nullptr);
  for (const auto& p : plugins) {
    auto r = runPlugin(nl.list, p.as_object(), result.is_null() ? nullptr : &result, inv);
    if (!r) {
      // The spec: a failed ADD is followed by a DEL of the whole list.
      Invocation del = inv;
      del.command = "DEL";
      (void)runDel(nl.list, result.is_null() ? nullptr : &result, del);
      return std::move(r).error().context("network '{}'", req.cniNetwork);
    }
    if (!r->is_null()) result = std::move(*r);
  }
  Attachment att;
  att.mode = Mode::Cni;
  att.containerId = id;
  att.ifName = req.ifName;
  att.ports = req.ports;
  att.cniNetwork = req.cniNetwork;
  att.cniConfig = json::serialize(nl.list);
  att.cniResult = json::serialize(result);
  att.cniPluginDirs = req.cni.pluginDirs;
  if (result.is_object())
    if (auto* ips = result.as_object().if_contains("ips"); ips && ips->is_array())
      for (const auto& ip : ips->as_array())
        if (ip.is_object()) att.ips.push_back(stringField(ip.as_object(), "address"));
  return att;
}

Status detachCni(const Attachment& att, const std::string& netnsPath) {
  auto list = parseObject(att.cniConfig);
  if (!list || !list->contains("plugins") || !list->at("plugins").is_array())
    return Error{EINVAL, fmt::format("network '{}': stored CNI config is not a list", att.cniNetwork)};
  json::error_code ec;
  json::value cached = json::parse(att.cniResult, ec);
  bool haveResult = !ec && cached.is_object();
  Invocation inv{"DEL", att.containerId, netnsPath, att.ifName, att.cniPluginDirs, att.ports};
  return runDel(*list, haveResult ? &cached : nullptr, inv).context("network '{}'", att.cniNetwork);
}

Status checkCni(const Attachment& att, const std::string& netnsPath) {
  auto list = parseObject(att.cniConfig);
  if (!list || !list->contains("plugins"))
    return Error{EINVAL, fmt::format("network '{}': stored CNI config is not a list", att.cniNetwork)};
  json::error_code ec;
  json::value cached = json::parse(att.cniResult, ec);
  Invocation inv{"CHECK", att.containerId, netnsPath, att.ifName, att.cniPluginDirs, att.ports};
  for (const auto& p : list->at("plugins").as_array()) {
    auto r = runPlugin(*list, p.as_object(), ec ? nullptr : &cached, inv);
    if (!r) return std::move(r).error().context("network '{}'", att.cniNetwork);
  }
  return ok();
}

}  // namespace nucleo::network::internal
