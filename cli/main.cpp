// nucleo: the OCI runtime command line, with runc's commands, flags and exit
// codes. Flags are parsed here; the work happens in containerizer::Runtime.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>
#include <iostream>

#include "base/logging.hpp"
#include "cli/commands.hpp"
#include "base/fs.hpp"
#include "linux/protected_exe.hpp"

namespace {
// `nucleo cluster ...` is nucleo-cluster, a program of its own beside this
// one: the cluster client's HTTP and protobuf code stays out of the runtime.
int runClusterCli(int argc, char** argv) {
  char resolved[4096];
  ssize_t length = ::readlink("/proc/self/exe", resolved, sizeof resolved - 1);
  std::string dir = length > 0 ? std::string(resolved, static_cast<size_t>(length)) : std::string(argv[0]);
  dir = dir.substr(0, dir.rfind('/') + 1);
  std::string binary = dir + "nucleo-cluster";
  std::vector<char*> args{binary.data()};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  ::execv(binary.c_str(), args.data());
  ::execvp("nucleo-cluster", args.data());
  std::fprintf(stderr, "nucleo: cluster: cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
  return 127;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace nucleo;
  if (argc > 1 && std::string_view(argv[1]) == "cluster") return runClusterCli(argc, argv);
  cli::Globals globals;
  CLI::App app{"nucleo: an OCI container runtime", "nucleo"};
  app.set_version_flag("-v,--version", cli::versionText());
  app.require_subcommand(1);
  app.add_option("--root", globals.root, "state directory")->capture_default_str();
  app.add_option("--log", globals.log, "log file (default stderr)");
  app.add_option("--log-format", globals.logFormat, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", globals.debug, "debug logging");
  app.add_flag("--systemd-cgroup", globals.systemdCgroup, "use the systemd cgroup driver");
  app.add_option("--rootless", globals.rootless, "true, false or auto (accepted, detected)");
  app.add_option("--criu", globals.criu, "ignored: checkpoint/restore is not supported");
  app.add_option("--cgroup-parent", globals.cgroupParent,
                 "cgroup under which containers' cgroups are made (unless cgroupsPath is absolute)")
      ->envname("NUCLEO_CGROUP_PARENT")
      ->capture_default_str();

  cli::Commands commands(globals);
  commands.registerFor(app, argc, argv);
  if (!commands.unknownCommand().empty()) {
    std::fprintf(stderr, "nucleo: unknown command \"%s\" (nucleo --help lists them)\n",
                 commands.unknownCommand().c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "nucleo: %s\n", e.what());
    return 2;
  }
  logging::setup(globals.log,
                 globals.logFormat == "json" ? logging::Format::Json : logging::Format::Text,
                 globals.debug);
  if (commands.needsSealedSelf()) {
    // CVE-2019-5736: processes that enter a container run from a sealed copy.
    std::string empty = globals.root + "/.empty";
    (void)fs::makeDirs(empty);
    if (auto sealed = os::ensureProtectedSelf(argv, empty); !sealed) {
      std::fprintf(stderr, "nucleo: %s\n", sealed.error().message.c_str());
      return 1;
    }
  }
  return commands.run();
}
