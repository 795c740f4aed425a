// exec, ps, spec and features.
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <set>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cli/commands.hpp"
#include "cli/features.hpp"
#include "oci/state.hpp"

namespace nucleo::cli {

void Commands::addExec(CLI::App& app) {
  auto* exec = app.add_subcommand("exec", "run a new process inside a running container");
  exec->add_option("-p,--process", processFile_, "process.json (the OCI process object)");
  exec->add_flag("-t,--tty", exec_.tty, "allocate a pseudo-terminal");
  exec->add_flag("-d,--detach", exec_.detach, "do not wait for the process");
  exec->add_option("-e,--env", exec_.env, "KEY=VALUE, repeatable")->allow_extra_args(false);
  exec->add_option("--cwd", exec_.cwd, "working directory inside the container");
  exec->add_option("-u,--user", exec_.user, "UID[:GID]");
  exec->add_option("-c,--cap", exec_.capabilities, "add a capability, repeatable")->allow_extra_args(false);
  exec->add_flag("--no-new-privs", exec_.noNewPrivs, "set no_new_privs");
  exec->add_option("--pid-file", exec_.pidFile);
  exec->add_option("--console-socket", exec_.consoleSocket);
  exec->add_option("--preserve-fds", exec_.preserveFds);
  exec->add_option("id", exec_.id, "container id")->required();
  // Everything after the id is the command, whatever it looks like
  // ("sh -c ..."): no option of ours is parsed past it.
  exec->prefix_command();
  exec->callback([this, exec] {
    sealed_ = true;
    for (const auto& extra : exec->remaining()) exec_.args.push_back(extra);
    action_ = [this] {
      if (!processFile_.empty()) {
        auto text = fs::readFile(processFile_);
        if (!text) return report(std::move(text).error().context("--process"));
        auto process = oci::parseProcess(*text);
        if (!process) return report(std::move(process).error().context("{}", processFile_));
        exec_.process = std::move(*process);
      }
      auto code = runtime().exec(exec_);
      if (!code) return report(std::move(code).error());
      return *code;
    };
  });
}

int Commands::runPs() {
  auto pids = runtime().pids(id_);
  if (!pids) return report(std::move(pids).error());
  if (format_ == "json") {
    boost::json::array out;
    for (pid_t p : *pids) out.push_back(p);
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return 0;
  }
  // As runc: ps(1)'s own table, keeping the header and the container's rows.
  std::string command = "ps " + (psArgs_.empty() ? std::string("-ef") : strings::join(psArgs_, " "));
  FILE* ps = ::popen(command.c_str(), "r");
  if (!ps) return report(Error::fromErrno("run ps"));
  std::set<pid_t> wanted(pids->begin(), pids->end());
  char line[4096];
  int pidColumn = -1;
  bool header = true;
  while (std::fgets(line, sizeof line, ps)) {
    auto fields = strings::split(strings::trim(line), ' ', true);
    if (header) {
      for (size_t i = 0; i < fields.size(); ++i)
        if (fields[i] == "PID") pidColumn = static_cast<int>(i);
      std::fputs(line, stdout);
      header = false;
      continue;
    }
    if (pidColumn < 0 || static_cast<size_t>(pidColumn) >= fields.size()) continue;
    auto pid = strings::toInt(fields[static_cast<size_t>(pidColumn)]);
    if (pid && wanted.count(static_cast<pid_t>(*pid))) std::fputs(line, stdout);
  }
  int status = ::pclose(ps);
  if (pidColumn < 0) return report(Error::make("ps: no PID column in the output of '{}'", command));
  return WIFEXITED(status) ? 0 : 1;
}

void Commands::addMisc(CLI::App& app) {
  auto* spec = app.add_subcommand("spec", "write a default config.json");
  spec->add_option("-b,--bundle", specBundle_, "directory to write config.json in");
  spec->add_flag("--rootless", rootlessSpec_, "a spec for a rootless container");
  spec->callback([this] {
    action_ = [this] {
      std::string path = (specBundle_.empty() ? std::string(".") : specBundle_) + "/config.json";
      if (fs::exists(path)) return report(Error::make("file '{}' already exists", path));
      std::string json = oci::defaultSpecJson(rootlessSpec_, ::getuid(), ::getgid());
      return report(fs::writeFileAtomic(path, json, 0644));
    };
  });
  auto* features = app.add_subcommand("features", "print what this runtime supports (JSON)");
  features->callback([this] {
    action_ = [] {
      std::printf("%s\n", featuresJson().c_str());
      return 0;
    };
  });
}

}  // namespace nucleo::cli
