#pragma once
// Waiting on a container process in the foreground, as `run` and `exec` do:
// signals the runtime receives are forwarded to it, and with a terminal the
// pty is copied to and from our stdio (raw mode, window size kept in sync).

#include <sys/types.h>

#include "base/result.hpp"

namespace nucleo::containerizer {

// Blocks the signals `waitForeground` forwards; call before the clone so that
// none is lost in between. The container init unblocks them for itself.
void blockForwardedSignals();

// Waits for `pid` (our child) to exit; returns its status in shell form
// (exit code, or 128+N for signal N). `ptyMaster` is -1 without a terminal.
Result<int> waitForeground(pid_t pid, int ptyMaster);

}  // namespace nucleo::containerizer
