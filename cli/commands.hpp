#pragma once
// The subcommands: each registers its flags with CLI11 and runs against the
// runtime. Errors are printed as one line, "nucleo: <message>", exit 1.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "containerizer/runtime.hpp"

namespace nucleo::cli {

struct Globals {
  std::string root = "/run/nucleo";
  std::string log;
  std::string logFormat = "text";
  std::string rootless = "auto";
  std::string criu;
  std::string cgroupParent = "/nucleo";
  bool debug = false;
  bool systemdCgroup = false;
};

std::string versionText();

class Commands {
 public:
  explicit Commands(Globals& globals) : globals_(globals) {}
  // Registers the subcommands (only the one argv names, when it names one).
  void registerFor(CLI::App& app, int argc, char** argv);
  bool needsSealedSelf() const { return sealed_; }
  // A word in the subcommand's place that names no subcommand, or "".
  const std::string& unknownCommand() const { return unknownCommand_; }
  int run();

 private:
  void addLifecycle(CLI::App& app);
  void addInspection(CLI::App& app);
  void addExec(CLI::App& app);
  void addMisc(CLI::App& app);
  void addImages(CLI::App& app);  // cli/image_commands.cpp
  int runImage();
  int runBundle();
  void addCgroup(CLI::App& app);  // update, events: cgroup_commands.cpp
  int report(const nucleo::Status& status);
  int runPs();
  containerizer::Runtime runtime() const;

  Globals& globals_;
  std::function<int()> action_;
  bool sealed_ = false;
  std::string unknownCommand_;

  containerizer::CreateOptions create_;
  containerizer::ExecOptions exec_;
  std::string id_, signal_ = "SIGTERM", format_ = "table", processFile_;
  bool detach_ = false, force_ = false, all_ = false, quiet_ = false, rootlessSpec_ = false;
  std::string specBundle_;
  std::vector<std::string> psArgs_;
};

}  // namespace nucleo::cli
