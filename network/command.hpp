#pragma once
// Runs a helper program (nft, CNI plugins) with a given stdin, environment
// and captured output, without a shell.

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace nucleo::network {

struct CommandResult {
  int exitCode = 0;  // 128+N when killed by signal N
  std::string out, err;
};

// Spawns argv[0] (an absolute path) with `env` (or our environment when
// nullopt), feeds `input` on stdin and reads stdout and stderr to the end.
// Errors only when the program cannot be started; a failing program is a
// CommandResult with its exit code.
Result<CommandResult> runCommand(const std::vector<std::string>& argv, const std::string& input,
                                 const std::optional<std::vector<std::string>>& env = std::nullopt);

// The first of `dirs` holding an executable `name`, or nullopt.
std::optional<std::string> findProgram(const std::string& name, const std::vector<std::string>& dirs);

}  // namespace nucleo::network
