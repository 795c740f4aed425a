#pragma once
// Steps shared by the container init and `exec`: the last things done in a
// container process before execve. None of them logs.

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "isolator/plan.hpp"
#include "linux/seccomp.hpp"

namespace nucleo::containerizer {

// A pty whose master goes to `consoleFd` (SCM_RIGHTS) and whose slave becomes
// stdio, controlling terminal and /dev/console.
Status setupConsole(const isolator::ProcessPlan& process, int consoleFd);

// execvp's lookup in the process's PATH; an Error names the program.
Result<std::string> resolveExecutable(const isolator::ProcessPlan& process);

// oomScoreAdj and rlimits, while the process still has its privileges.
Status applyProcessLimits(const isolator::ProcessPlan& process);

// chdir into the process cwd and check it lies inside the container root.
Status enterCwd(const std::string& cwd);

// no_new_privs, user and capabilities, and seccomp, in the order that lets a
// filter load without no_new_privs.
Status applyPrivileges(const isolator::ProcessPlan& process,
                       const std::optional<os::SeccompProgram>& seccomp);

std::vector<char*> pointers(std::vector<std::string>& strings);

}  // namespace nucleo::containerizer
