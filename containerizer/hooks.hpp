#pragma once
// OCI hooks: each runs with the state JSON on stdin, its own args and env,
// and its timeout; the first failure stops the list and names the hook.

#include <string>
#include <vector>

#include "base/result.hpp"
#include "oci/spec.hpp"

namespace nucleo::containerizer {

// `phase` ("createRuntime", ...) prefixes errors: "createRuntime hook
// /usr/bin/x: exited with status 1".
Status runHooks(const std::vector<oci::Hook>& hooks, const std::string& stateJson,
                const char* phase);

}  // namespace nucleo::containerizer
