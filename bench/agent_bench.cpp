// nucleo-bench-agent: N concurrent sleeping containers on one nucleo-agent
// (with nucleo-master on loopback): the agent's RSS, the supervisors' RSS per
// container, and the time from the scheduler's ACCEPT to TASK_RUNNING (median,
// p99), launching one task at a time while the others keep running.
//
//   nucleo-bench-agent [--containers 200] [--host-fs] [--keep]
// Needs root (exits 77 without it). Runs in its own mount namespace. Tasks run
// busybox from the build's test images, imported before the first launch (a
// cached image); --host-fs runs them on the host's filesystem instead.

#include <sched.h>
#include <sys/mount.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "base/fs.hpp"
#include "bench/bench_util.hpp"
#include "integration-tests/agent/scheduler_client.hpp"

using namespace nucleo::agent::e2e;
using nucleo::bench::percentile;

namespace {

// VmRSS of a process in KiB; 0 when gone.
uint64_t rssKb(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

// Every process whose comm is nucleo-supervisor (truncated to 15 bytes).
std::vector<pid_t> supervisors() {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "comm");
    std::string comm;
    std::getline(in, comm);
    if (comm == "nucleo-supervis") out.push_back(std::stoi(name));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 200;
  bool keep = false, hostFs = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--host-fs") hostFs = true;
    if (std::string(argv[i]) == "--containers" && i + 1 < argc) count = std::atoi(argv[++i]);
    if (std::string(argv[i]) == "--keep") keep = true;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "nucleo-bench-agent: needs root\n");
    return 77;
  }
  if (::unshare(CLONE_NEWNS) != 0 || ::mount("", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("mount namespace");
    return 1;
  }
  char tmpl[] = "/tmp/nucleo-bench-agent-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  uint16_t masterPort = freePort(), agentPort = freePort();
  std::string cgroup = fmt::format("/nucleo-bench-agent-{}", ::getpid());
  auto master = std::make_unique<Process>(
      std::vector<std::string>{NUCLEO_MASTER_BIN, "--port", std::to_string(masterPort),
                               "--allocation-interval", "10ms"},
      dir + "/master.log");
  std::vector<std::string> agentArgs = {
      NUCLEO_AGENT_BIN, "--master", "127.0.0.1:" + std::to_string(masterPort), "--port",
      std::to_string(agentPort), "--work-dir", dir + "/agent", "--resources",
      fmt::format("cpus:{};mem:{}", count, count * 64 + 1024), "--runtime", NUCLEO_BIN,
      "--supervisor", NUCLEO_SUPERVISOR_BIN, "--cgroup-parent", cgroup};
  if (!hostFs) {  // busybox from the build's test images, imported once (the cached case)
    std::string import = fmt::format("{} image --store {}/agent/images import {}/busybox-oci "
                                     "busybox:latest >/dev/null", NUCLEO_BIN, dir, NUCLEO_TEST_IMAGES);
    if (std::system(import.c_str()) != 0) {
      std::fprintf(stderr, "nucleo-bench-agent: %s failed\n", import.c_str());
      return 1;
    }
  }
  auto agent = std::make_unique<Process>(agentArgs, dir + "/agent.log");
  std::this_thread::sleep_for(1s);
  Scheduler scheduler(masterPort);
  if (!scheduler.subscribe()) {
    std::fprintf(stderr, "nucleo-bench-agent: could not subscribe; logs in %s\n", dir.c_str());
    return 1;
  }
  std::vector<double> launchMs, startingMs;
  int failed = 0;
  for (int i = 0; i < count; ++i) {
    std::string id = fmt::format("sleep-{}", i);
    auto task = commandTask(id, "sleep 3600");
    if (!hostFs) {
      auto* image = task.mutable_container()->mutable_mesos()->mutable_image();
      task.mutable_container()->set_type(mesos::v1::ContainerInfo::MESOS);
      image->set_type(mesos::v1::Image::DOCKER);
      image->mutable_docker()->set_name("busybox:latest");
    }
    auto start = std::chrono::steady_clock::now();
    if (!scheduler.launch({task}, &start) || !scheduler.waitForStateOrEnd(id, mesos::v1::TASK_RUNNING, 30s)) {
      auto updates = scheduler.updatesOf(id);
      std::fprintf(stderr, "task %s: no TASK_RUNNING (%zu updates%s%s)\n", id.c_str(),
                   updates.size(), updates.empty() ? "" : ", last: ",
                   updates.empty() ? "" : updates.back().message().c_str());
      ++failed;
      continue;
    }
    auto running = scheduler.seenAt(id, mesos::v1::TASK_RUNNING);
    launchMs.push_back(std::chrono::duration<double, std::milli>(*running - start).count());
    if (auto starting = scheduler.seenAt(id, mesos::v1::TASK_STARTING))
      startingMs.push_back(std::chrono::duration<double, std::milli>(*starting - start).count());
  }
  std::this_thread::sleep_for(1s);
  uint64_t agentKb = rssKb(agent->pid());
  auto sups = supervisors();
  uint64_t supKb = 0;
  for (pid_t p : sups) supKb += rssKb(p);
  std::printf("containers %d (failed %d), supervisors found %zu\n", count - failed, failed,
              sups.size());
  std::printf("agent RSS            %8.1f MiB\n", static_cast<double>(agentKb) / 1024);
  std::printf("supervisor RSS each  %8.2f MiB (mean over %zu)\n",
              sups.empty() ? 0.0 : static_cast<double>(supKb) / 1024 / static_cast<double>(sups.size()),
              sups.size());
  std::printf("ACCEPT->TASK_STARTING median %.1f ms, p99 %.1f ms (container launched)\n",
              percentile(startingMs, 0.5), percentile(startingMs, 0.99));
  std::printf("ACCEPT->TASK_RUNNING median %.1f ms, p99 %.1f ms, max %.1f ms\n",
              percentile(launchMs, 0.5), percentile(launchMs, 0.99), percentile(launchMs, 1.0));
  // Clean up: an agent with --recover cleanup destroys every container.
  agent->kill(SIGKILL);
  agentArgs.insert(agentArgs.end(), {"--recover", "cleanup"});
  agentArgs[2] = "127.0.0.1:1";
  auto cleanup = std::make_unique<Process>(agentArgs, dir + "/cleanup.log");
  for (int i = 0; i < 600 && !supervisors().empty(); ++i) std::this_thread::sleep_for(100ms);
  cleanup->kill(SIGTERM);
  master.reset();
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                        "unified", ""})
    ::rmdir(fmt::format("/sys/fs/cgroup/{}{}", c, cgroup).c_str());
  if (keep) std::printf("logs in %s\n", dir.c_str());
  else (void)nucleo::fs::removeAll(dir);
  return failed == 0 ? 0 : 1;
}
