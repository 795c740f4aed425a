#pragma once
// The parent <-> container-init channel: a SOCK_SEQPACKET pair carrying small
// fixed messages, so one read is one message, and an init that dies shows up
// as end-of-file rather than a hang. Errors from the init travel back whole
// (crun's read_error_from_sync_socket).

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace nucleo::containerizer {

enum class SyncType : uint32_t {
  Go = 1,              // parent: id maps written, carry on
  CgroupReady,         // parent: the init sits in its cgroup (it may arrive any time after Go)
  CreateRuntimeHooks,  // init: namespaces ready, run createRuntime/prestart hooks
  HooksDone,           // parent: hooks ran
  Ready,               // init: waiting for start
  Start,               // parent (`run`): exec now
  Error,               // init: setup failed; code/text say why
  InitPid,             // intermediate child: the init it forked has host pid `code`
};

struct SyncMessage {
  SyncType type{};
  int32_t code = 0;
  char text[500] = {};
};

Status syncSend(int fd, SyncType type, int code = 0, std::string_view text = {});
// Reads one message; end-of-file gives an Error ("container init exited").
Result<SyncMessage> syncRecv(int fd);
// Reads one message and turns an init's Error message into an Error, and any
// type but `expected` into a protocol error.
Status syncExpect(int fd, SyncType expected);

// Sends/receives one fd over a unix socket (SCM_RIGHTS), as the console
// socket protocol of runc does.
Status sendFd(int socket, int fd, std::string_view name);
Result<int> receiveFd(int socket);

// Connects to a console socket path (runc's --console-socket protocol).
Result<UniqueFd> connectConsole(const std::string& path);

}  // namespace nucleo::containerizer
