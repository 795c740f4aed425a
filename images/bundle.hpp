#pragma once
// From an image config to a runnable OCI bundle: the process (Entrypoint +
// Cmd, Env, WorkingDir, User resolved through the image's /etc/passwd and
// /etc/group), StopSignal and Labels as annotations, resource limits.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "images/manifest.hpp"
#include "oci/spec.hpp"

namespace nucleo::images {

// What `nucleo run --image` and `image bundle` may change.
struct RunOverrides {
  std::vector<std::string> args;  // replaces Cmd (Entrypoint stays), as docker
  std::vector<std::string> env;   // KEY=VALUE replaces KEY; "KEY" copies the host's
  std::optional<int64_t> memoryBytes;
  std::optional<double> cpus;
  std::string hostname;
  bool terminal = false;
};

// Entrypoint followed by the override args or else Cmd. Error when empty.
Result<std::vector<std::string>> processArgs(const ImageConfig& config,
                                             const std::vector<std::string>& args);

// Image Env with `extra` applied, PATH defaulted when the image sets none.
std::vector<std::string> processEnv(const ImageConfig& config,
                                    const std::vector<std::string>& extra);

// Resolves "user", "uid", "user:group", "uid:gid" (empty = root) against the
// text of /etc/passwd and /etc/group, as runc's libcontainer/user does: a
// numeric uid not in passwd gets gid 0; supplementary groups come from
// /etc/group unless a group was named. Unknown names are an Error.
Result<oci::User> resolveUser(std::string_view spec, std::string_view passwd,
                              std::string_view group);

// The same, reading etc/passwd and etc/group inside `rootfs` (confined to it).
Result<oci::User> resolveUserInRootfs(std::string_view spec, const std::string& rootfs);

// The config.json text for a bundle whose rootfs (writable) is "rootfs".
Result<std::string> bundleConfigJson(const ImageConfig& config, const oci::User& user,
                                     const RunOverrides& overrides);

// Parses "512m", "1g", "1048576" (bytes; k/m/g are powers of 1024).
Result<int64_t> parseMemory(std::string_view text);

}  // namespace nucleo::images
