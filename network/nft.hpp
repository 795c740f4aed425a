#pragma once
// nftables rules for bridge networks, applied by the nft command with a
// generated script on stdin (`nft -f -`): one script is one kernel
// transaction, so a set of rules goes in whole or not at all. Everything lives
// in one table (`inet nucleo` unless configured): a postrouting chain per
// bridge for masquerading, and two port chains (prerouting for traffic from
// outside, output for the host itself) whose DNAT rules carry the container's
// tag in their comment, so that deleting a container removes exactly them.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "linux/net_link.hpp"

namespace nucleo::network {

struct DnatRule {
  std::string protocol;  // tcp or udp
  uint16_t hostPort = 0;
  os::net::Ipv4 address;
  uint16_t containerPort = 0;
};

// The comment that marks a container's rules: "c:<id>", or "c:<hash>" for ids
// too long for nft's 128-byte comments.
std::string ruleTag(const std::string& containerId);

// Idempotent: creates the table and chains, and (re)writes the bridge's
// masquerade rules (outbound, and 127.0.0.0/8 sources DNATed into the bridge).
std::string bridgeScript(const std::string& table, const std::string& bridge,
                         const os::net::Ipv4Net& subnet);
// Adds one DNAT rule per port to both port chains, tagged with `tag`.
std::string dnatScript(const std::string& table, const std::string& tag,
                       const std::vector<DnatRule>& rules);
// From `nft -a list table` output: (chain, handle) of every rule tagged `tag`.
std::vector<std::pair<std::string, int>> taggedRules(const std::string& listing,
                                                     const std::string& tag);

// Runs `nft -f -` with the script; errors carry nft's own message.
Status applyNft(const std::string& script);
// Deletes every rule tagged `tag` in `table`; a missing table is fine.
Status deleteTagged(const std::string& table, const std::string& tag);

}  // namespace nucleo::network
