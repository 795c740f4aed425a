#pragma once
// `nucleo features`: the runtime-spec "features" document (as `runc
// features`), plus the cgroup version each controller uses on this host.

#include <string>

namespace nucleo::cli {

std::string featuresJson();

}  // namespace nucleo::cli
