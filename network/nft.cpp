#include "network/nft.hpp"

#include "base/sha256.hpp"
#include "base/strings.hpp"
#include "network/command.hpp"

namespace nucleo::network {
namespace {

const std::vector<std::string> SBIN_DIRS = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};

// Chain names from link names, which may hold characters nft's grammar
// does not take unquoted.
std::string chainName(const std::string& prefix, const std::string& bridge) {
  std::string out = prefix;
  for (char c : bridge) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

Result<std::string> nftPath() {
  auto p = findProgram("nft", SBIN_DIRS);
  if (!p) return Error{ENOENT, "the nft command (package nftables) is not installed"};
  return *p;
}

Result<CommandResult> runNft(const std::vector<std::string>& args, const std::string& input) {
  TRY_ASSIGN(std::string nft, nftPath());
  std::vector<std::string> argv = {nft};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, input);
}

}  // namespace

std::string ruleTag(const std::string& containerId) {
  if (containerId.size() <= 100) return "c:" + containerId;
  return "c:" + Sha256::hex(containerId).substr(0, 32);
}

std::string bridgeScript(const std::string& table, const std::string& bridge,
                         const os::net::Ipv4Net& subnet) {
  std::string post = chainName("post_", bridge);
  os::net::Ipv4Net net{subnet.network(), subnet.prefix};
  return fmt::format(
      "add table inet {t}\n"
      "add chain inet {t} {p} {{ type nat hook postrouting priority srcnat; policy accept; }}\n"
      "flush chain inet {t} {p}\n"
      "add rule inet {t} {p} ip saddr {n} oifname != \"{b}\" masquerade comment \"bridge {b}\"\n"
      "add rule inet {t} {p} ip saddr 127.0.0.0/8 oifname \"{b}\" masquerade comment \"bridge {b}\"\n"
      "add chain inet {t} ports_pre {{ type nat hook prerouting priority dstnat; policy accept; }}\n"
      "add chain inet {t} ports_out {{ type nat hook output priority -100; policy accept; }}\n",
      fmt::arg("t", table), fmt::arg("p", post), fmt::arg("n", net.str()), fmt::arg("b", bridge));
}

std::string dnatScript(const std::string& table, const std::string& tag,
                       const std::vector<DnatRule>& rules) {
  std::string out;
  for (const char* chain : {"ports_pre", "ports_out"})
    for (const auto& r : rules)
      out += fmt::format(
          "add rule inet {} {} fib daddr type local {} dport {} dnat ip to {}:{} comment \"{}\"\n",
          table, chain, r.protocol, r.hostPort, r.address.str(), r.containerPort, tag);
  return out;
}

std::vector<std::pair<std::string, int>> taggedRules(const std::string& listing,
                                                     const std::string& tag) {
  std::vector<std::pair<std::string, int>> out;
  std::string chain, needle = "comment \"" + tag + "\"";
  for (const auto& raw : strings::split(listing, '\n')) {
    std::string_view line = strings::trim(raw);
    if (strings::startsWith(line, "chain ")) {
      auto rest = line.substr(6);
      chain = std::string(rest.substr(0, rest.find(' ')));
      continue;
    }
    auto at = line.find(needle);
    auto handle = line.rfind("# handle ");
    if (at == std::string_view::npos || handle == std::string_view::npos || chain.empty()) continue;
    if (auto n = strings::toInt(line.substr(handle + 9)))
      out.emplace_back(chain, static_cast<int>(*n));
  }
  return out;
}

Status applyNft(const std::string& script) {
  TRY_ASSIGN(CommandResult r, runNft({"-f", "-"}, script));
  if (r.exitCode != 0)
    return Error{EINVAL, fmt::format("nft: {}", strings::trim(r.err.empty() ? r.out : r.err))};
  return ok();
}

Status deleteTagged(const std::string& table, const std::string& tag) {
  TRY_ASSIGN(CommandResult r, runNft({"-a", "list", "table", "inet", table}, ""));
  if (r.exitCode != 0) return ok();  // no table, no rules
  std::string script;
  for (const auto& [chain, handle] : taggedRules(r.out, tag))
    script += fmt::format("delete rule inet {} {} handle {}\n", table, chain, handle);
  if (script.empty()) return ok();
  return applyNft(script).context("delete rules of {}", tag);
}

}  // namespace nucleo::network
