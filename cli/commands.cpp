#include "cli/commands.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <set>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cli/features.hpp"
#include "linux/process.hpp"
#include "oci/json_pretty.hpp"
#include "oci/state.hpp"

namespace nucleo::cli {

std::string versionText() {
  return fmt::format("nucleo version {}\nspec: {}", NUCLEO_VERSION, oci::SPEC_VERSION);
}

int Commands::report(const nucleo::Status& status) {
  if (status) return 0;
  std::fprintf(stderr, "nucleo: %s\n", status.error().message.c_str());
  return 1;
}

int Commands::runBundle() {
  if (create_.id.empty()) return report(Error::make("run: a container id is required"));
  auto code = runtime().run(create_, detach_);
  if (!code) return report(std::move(code).error());
  return *code;
}

containerizer::Runtime Commands::runtime() const {
  return containerizer::Runtime(globals_.root, globals_.cgroupParent);
}

int Commands::run() {
  if (globals_.systemdCgroup)
    return report(Error::make("--systemd-cgroup: the systemd cgroup driver is not supported"));
  return action_();
}

// The subcommand named on the command line: the first word that is neither a
// global flag nor a global flag's value.
static std::string subcommandOf(int argc, char** argv) {
  static const std::set<std::string> takesValue = {"--root",    "--log",  "--log-format",
                                                   "--rootless", "--criu", "--cgroup-parent"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] != '-') return arg;
    if (takesValue.count(arg)) ++i;
  }
  return "";
}

void Commands::registerFor(CLI::App& app, int argc, char** argv) {
  // Building CLI11's option tables is a third of a container start's user
  // CPU: only the group of the command being run is registered (all of them
  // for help and for unknown words, so errors and usage stay complete).
  std::string command = subcommandOf(argc, argv);
  static const std::set<std::string> lifecycle = {"create", "start", "kill", "delete",
                                                  "pause",  "resume"};
  static const std::set<std::string> inspection = {"state", "list", "ls", "ps"};
  if (lifecycle.count(command)) return addLifecycle(app);
  if (inspection.count(command)) return addInspection(app);
  if (command == "exec") return addExec(app);
  if (command == "spec" || command == "features") return addMisc(app);
  if (command == "update" || command == "events") return addCgroup(app);
  if (command == "run" || command == "image") {
    addLifecycle(app);
    return addImages(app);
  }
  addLifecycle(app);
  addInspection(app);
  addExec(app);
  addMisc(app);
  addImages(app);
  addCgroup(app);
  if (!command.empty()) {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
      known = known || sub->check_name(command);
    if (!known) unknownCommand_ = command;
  }
}

// Network flags of create and run (containerizer/container_network.hpp).
static void addNetworkFlags(CLI::App* cmd, containerizer::NetworkOptions& n) {
  cmd->add_option("--network", n.mode, "none, host, bridge or cni:NAME (default: from config.json)");
  cmd->add_option("-p,--publish", n.publish, "HOSTPORT:CONTAINERPORT[/tcp|udp], repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--ip", n.ip, "with --network bridge: this address");
  cmd->add_option("--bridge", n.bridge.name, "bridge name")->capture_default_str();
  cmd->add_option_function<std::string>("--subnet", [&n](const std::string& v) {
    auto net = os::net::Ipv4Net::parse(v);
    if (!net) throw CLI::ValidationError("--subnet", net.error().message);
    n.bridge.subnet = *net;
  }, "bridge subnet when the bridge is made (default: a free one of 10.88.0.0/16...)");
  cmd->add_option("--nft-table", n.bridge.table, "nftables table (family inet)")->capture_default_str();
  cmd->add_option("--network-state", n.bridge.stateDir, "leases and published ports")
      ->capture_default_str();
  cmd->add_option("--cni-config-dir", n.cni.configDir)->capture_default_str();
  cmd->add_option_function<std::string>("--cni-plugin-dir", [&n](const std::string& v) {
    n.cni.pluginDirs = strings::split(v, ':', true);
  }, "CNI plugin directories, colon-separated (default /usr/lib/cni:/opt/cni/bin)");
}

static void addCreateFlags(CLI::App* cmd, containerizer::CreateOptions& o) {
  cmd->add_option("-b,--bundle", o.bundle, "bundle directory (default: current directory)");
  cmd->add_option("--pid-file", o.pidFile, "file to write the init's pid to");
  cmd->add_option("--console-socket", o.consoleSocket, "unix socket to send the pty master to");
  cmd->add_flag("--no-pivot", o.noPivot, "use chroot instead of pivot_root");
  cmd->add_flag("--no-new-keyring", o.noNewKeyring, "accepted: no session keyring is made");
  cmd->add_option("--preserve-fds", o.preserveFds, "pass N extra fds (3..3+N-1)");
  addNetworkFlags(cmd, o.network);
  cmd->add_option("id", o.id, "container id")->required();
}

void Commands::addLifecycle(CLI::App& app) {
  auto* create = app.add_subcommand("create", "create a container (its process waits for start)");
  addCreateFlags(create, create_);
  create->callback([this] {
    sealed_ = true;
    action_ = [this] { return report(runtime().create(create_)); };
  });

  auto* run = app.add_subcommand("run", "create and start a container, wait for it, delete it");
  addCreateFlags(run, create_);
  run->add_flag("-d,--detach", detach_, "return once the process runs");
  // cli/image_commands.cpp adds --image and replaces this callback with one
  // that picks runImage() or runBundle().
  run->callback([this] {
    sealed_ = true;
    action_ = [this] { return runBundle(); };
  });

  auto* start = app.add_subcommand("start", "start a created container");
  start->add_option("id", id_)->required();
  start->callback([this] { action_ = [this] { return report(runtime().start(id_)); }; });

  auto* kill = app.add_subcommand("kill", "send a signal to the container's init");
  kill->add_flag("-a,--all", all_, "signal every process of the container");
  kill->add_option("id", id_)->required();
  kill->add_option("signal", signal_, "signal name or number (default SIGTERM)");
  kill->callback([this] {
    action_ = [this] {
      auto sig = os::parseSignal(signal_);
      if (!sig) return report(std::move(sig).error());
      return report(runtime().kill(id_, *sig, all_));
    };
  });

  auto* del = app.add_subcommand("delete", "delete a stopped container (--force: any)");
  del->add_flag("-f,--force", force_, "kill the container first if it still runs");
  del->add_option("id", id_)->required();
  del->callback([this] { action_ = [this] { return report(runtime().remove(id_, force_)); }; });

  auto* pause = app.add_subcommand("pause", "freeze every process of the container");
  pause->add_option("id", id_)->required();
  pause->callback([this] { action_ = [this] { return report(runtime().pause(id_)); }; });
  auto* resume = app.add_subcommand("resume", "thaw a paused container");
  resume->add_option("id", id_)->required();
  resume->callback([this] { action_ = [this] { return report(runtime().resume(id_)); }; });
}

static std::string listTable(const std::vector<containerizer::ContainerSummary>& all) {
  std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  for (const auto& c : all) {
    bool stopped = c.status == containerizer::ContainerStatus::Stopped;
    rows.push_back({c.record.id, stopped ? "0" : std::to_string(c.record.pid),
                    containerizer::statusName(c.status), c.record.bundle, c.record.created,
                    c.record.owner});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i)
      out += i + 1 < r.size() ? fmt::format("{:<{}}", r[i], widths[i] + 3) : r[i];
    out += "\n";
  }
  return out;
}

void Commands::addInspection(CLI::App& app) {
  auto* state = app.add_subcommand("state", "print the container's state JSON");
  state->add_option("id", id_)->required();
  state->callback([this] {
    action_ = [this] {
      auto s = runtime().state(id_);
      if (!s) return report(std::move(s).error());
      std::printf("%s\n", oci::toJson(*s).c_str());
      return 0;
    };
  });

  auto* list = app.add_subcommand("list", "list containers");
  list->alias("ls");
  list->add_flag("-q,--quiet", quiet_, "only ids");
  list->add_option("-f,--format", format_)->check(CLI::IsMember({"table", "json"}));
  list->callback([this] {
    action_ = [this] {
      auto all = runtime().list();
      if (!all) return report(std::move(all).error());
      if (quiet_) {
        for (const auto& c : *all) std::printf("%s\n", c.record.id.c_str());
      } else if (format_ == "json") {
        boost::json::array out;
        for (const auto& c : *all)
          out.push_back({{"ociVersion", oci::SPEC_VERSION}, {"id", c.record.id},
                         {"pid", c.status == containerizer::ContainerStatus::Stopped ? 0 : c.record.pid},
                         {"status", containerizer::statusName(c.status)},
                         {"bundle", c.record.bundle}, {"rootfs", c.record.rootfs},
                         {"created", c.record.created}, {"owner", c.record.owner}});
        std::printf("%s\n", boost::json::serialize(out).c_str());
      } else {
        std::fputs(listTable(*all).c_str(), stdout);
      }
      return 0;
    };
  });

  auto* ps = app.add_subcommand("ps", "list the processes of a container");
  ps->add_option("-f,--format", format_)->check(CLI::IsMember({"table", "json"}));
  ps->add_option("id", id_)->required();
  ps->add_option("ps-args", psArgs_, "arguments for ps(1) (default -ef)");
  ps->callback([this] { action_ = [this] { return runPs(); }; });
}

}  // namespace nucleo::cli
