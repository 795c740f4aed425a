#include "network/network.hpp"

#include <sched.h>

#include <boost/json.hpp>

#include "base/strings.hpp"
#include "linux/process.hpp"
#include "network/internal.hpp"

namespace nucleo::network {
namespace {

namespace json = boost::json;

Status loopbackUp(const std::string& netnsPath) {
  TRY_ASSIGN(UniqueFd netns, os::openNamespace(netnsPath, CLONE_NEWNET));
  TRY_ASSIGN(auto s, os::netlink::Socket::openIn(netns));
  TRY_ASSIGN(os::net::LinkInfo lo, os::net::linkByName(s, "lo"));
  return os::net::setUp(s, lo, true);
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

std::vector<std::string> stringsOf(const json::object& o, const char* key) {
  std::vector<std::string> out;
  if (auto* a = o.if_contains(key); a && a->is_array())
    for (const auto& s : a->as_array())
      if (s.is_string()) out.emplace_back(s.as_string().c_str());
  return out;
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string().c_str()) : std::string();
}

}  // namespace

const char* modeName(Mode mode) {
  switch (mode) {
    case Mode::None: return "none";
    case Mode::Host: return "host";
    case Mode::Bridge: return "bridge";
    case Mode::Cni: return "cni";
  }
  return "?";
}

Result<PortMapping> parsePortMapping(const std::string& text) {
  PortMapping p;
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    p.protocol = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (p.protocol != "tcp" && p.protocol != "udp")
      return Error{EINVAL, fmt::format("port mapping '{}': protocol must be tcp or udp", text)};
  }
  auto colon = rest.find(':');
  auto host = colon == std::string_view::npos ? std::nullopt : strings::toUint(rest.substr(0, colon));
  auto ctr = colon == std::string_view::npos ? std::nullopt : strings::toUint(rest.substr(colon + 1));
  if (!host || !ctr || *host == 0 || *host > 65535 || *ctr == 0 || *ctr > 65535)
    return Error{EINVAL, fmt::format("port mapping '{}': use HOSTPORT:CONTAINERPORT[/tcp|udp] "
                                     "with ports 1-65535", text)};
  p.hostPort = static_cast<uint16_t>(*host);
  p.containerPort = static_cast<uint16_t>(*ctr);
  return p;
}

Result<Request> parseMode(const std::string& text) {
  Request r;
  if (text == "none") r.mode = Mode::None;
  else if (text == "host") r.mode = Mode::Host;
  else if (text == "bridge") r.mode = Mode::Bridge;
  else if (strings::startsWith(text, "cni:") && text.size() > 4) {
    r.mode = Mode::Cni;
    r.cniNetwork = text.substr(4);
  } else {
    return Error{EINVAL, fmt::format("unknown network '{}': use none, host, bridge or cni:NAME", text)};
  }
  return r;
}

std::string Attachment::toJson() const {
  json::array portList;
  for (const auto& p : ports)
    portList.push_back({{"hostPort", p.hostPort}, {"containerPort", p.containerPort},
                        {"protocol", p.protocol}});
  json::object o{{"mode", modeName(mode)}, {"containerId", containerId}, {"ifName", ifName},
                 {"ips", strings(ips)}, {"ports", portList}};
  if (mode == Mode::Bridge) {
    o["bridge"] = bridge;
    o["hostVeth"] = hostVeth;
    o["table"] = table;
    o["stateDir"] = stateDir;
  } else if (mode == Mode::Cni) {
    o["cniNetwork"] = cniNetwork;
    o["cniConfig"] = cniConfig;
    o["cniResult"] = cniResult;
    o["cniPluginDirs"] = strings(cniPluginDirs);
  }
  return json::serialize(o);
}

Result<Attachment> Attachment::fromJson(const std::string& text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return Error{EINVAL, "network attachment: not a JSON object"};
  const auto& o = v.as_object();
  std::string mode = str(o, "mode");
  auto parsed = parseMode(mode == "cni" ? "cni:" + str(o, "cniNetwork") : mode);
  if (!parsed) return std::move(parsed).error().context("network attachment");
  Attachment a;
  a.mode = parsed->mode;
  a.containerId = str(o, "containerId");
  a.ifName = str(o, "ifName");
  a.ips = stringsOf(o, "ips");
  if (auto* ps = o.if_contains("ports"); ps && ps->is_array())
    for (const auto& p : ps->as_array()) {
      if (!p.is_object()) continue;
      const auto& po = p.as_object();
      PortMapping m;
      if (auto* h = po.if_contains("hostPort"); h && h->is_number()) m.hostPort = h->to_number<uint16_t>();
      if (auto* c = po.if_contains("containerPort"); c && c->is_number()) m.containerPort = c->to_number<uint16_t>();
      m.protocol = str(po, "protocol");
      a.ports.push_back(m);
    }
  a.bridge = str(o, "bridge");
  a.hostVeth = str(o, "hostVeth");
  a.table = str(o, "table");
  a.stateDir = str(o, "stateDir");
  a.cniNetwork = str(o, "cniNetwork");
  a.cniConfig = str(o, "cniConfig");
  a.cniResult = str(o, "cniResult");
  a.cniPluginDirs = stringsOf(o, "cniPluginDirs");
  return a;
}

Result<Attachment> attach(const std::string& containerId, const std::string& netnsPath,
                          const Request& request) {
  if (!request.ports.empty() && (request.mode == Mode::None || request.mode == Mode::Host))
    return Error{EINVAL, fmt::format("network {}: ports can be published only with bridge or cni",
                                     modeName(request.mode))};
  try {
    switch (request.mode) {
      case Mode::Host: {
        Attachment a;
        a.mode = Mode::Host;
        a.containerId = containerId;
        return a;
      }
      case Mode::None: {
        TRY(loopbackUp(netnsPath).context("network none: loopback"));
        Attachment a;
        a.containerId = containerId;
        a.ifName = "lo";
        return a;
      }
      case Mode::Bridge: return internal::attachBridge(containerId, netnsPath, request);
      case Mode::Cni: return internal::attachCni(containerId, netnsPath, request);
    }
  } catch (const std::exception& e) {
    return Error{EINVAL, fmt::format("network {}: {}", modeName(request.mode), e.what())};
  }
  return Error{EINVAL, "unknown network mode"};
}

Status detach(const Attachment& a, const std::string& netnsPath) {
  try {
    if (a.mode == Mode::Bridge) return internal::detachBridge(a);
    if (a.mode == Mode::Cni) return internal::detachCni(a, netnsPath);
  } catch (const std::exception& e) {
    return Error{EINVAL, fmt::format("network {}: {}", modeName(a.mode), e.what())};
  }
  return ok();
}

Result<std::vector<Lease>> reclaim(const BridgeConfig& config,
                                   const std::function<bool(const Lease&)>& alive) {
  return internal::reclaimBridge(config, alive);
}

Status check(const Attachment& a, const std::string& netnsPath) {
  try {
    if (a.mode == Mode::Cni) return internal::checkCni(a, netnsPath);
  } catch (const std::exception& e) {
    return Error{EINVAL, fmt::format("network cni: {}", e.what())};
  }
  return ok();
}

}  // namespace nucleo::network
