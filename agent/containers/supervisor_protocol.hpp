#pragma once
// What nucleo-supervisor and Containers agree on: the files in a container's
// directory and the report line. Header-only and dependency-free, because the
// supervisor links nothing but libc (it must stay under 1 MiB of RSS).
//
// <workDir>/containers/<id>/
//   bundle/            config.json and rootfs/ (the OCI bundle)
//   meta               written by Containers before the supervisor starts:
//                      "cgroup <path>\nmount <image-store id or ->\n"
//   supervisor         "<pid> <start time>\n" (field 22 of /proc/pid/stat),
//                      written by the supervisor as soon as it has detached
//   init.pid           the container's init, as `nucleo create --pid-file`
//   kill               "<grace ms>\n", written by Containers::kill before it
//                      sends SIGUSR1 to the supervisor
//   exit               "status <wait status>\noom <0|1>\nkilled <0|1>\n
//                      message <text>\n", written atomically when it is over
//
// The supervisor reports on fd 3: "ok <init pid>\n" or "error <message>\n".

namespace nucleo::agent::supervisor {

inline constexpr const char* META_FILE = "meta";
inline constexpr const char* SUPERVISOR_FILE = "supervisor";
inline constexpr const char* INIT_PID_FILE = "init.pid";
inline constexpr const char* KILL_FILE = "kill";
inline constexpr const char* EXIT_FILE = "exit";
inline constexpr const char* BUNDLE_DIR = "bundle";

// The report fd the spawner passes to the supervisor.
inline constexpr int REPORT_FD = 3;

// SIGUSR1 asks the supervisor to read KILL_FILE and kill the container.
// SIGTERM to the supervisor kills the container with DEFAULT_GRACE_MS.
inline constexpr long DEFAULT_GRACE_MS = 3000;

}  // namespace nucleo::agent::supervisor
