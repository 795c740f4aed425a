// `nucleo update` and `nucleo events`: runc's flags and JSON.

#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <climits>
#include <cstdio>
#include <memory>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cli/commands.hpp"
#include "isolator/cgroups.hpp"

namespace nucleo::cli {
namespace {

namespace json = boost::json;

struct UpdateFlags {
  std::string id, resources;
  std::string memory, memorySwap, memoryReservation;
  std::optional<int64_t> cpuQuota, pidsLimit;
  std::optional<uint64_t> cpuPeriod, cpuShares;
  std::optional<uint16_t> blkioWeight;
  std::string cpusetCpus, cpusetMems;
};

struct EventsFlags {
  std::string id, interval = "5s";
  bool stats = false;
};

// "512m", "1g", "1048576", "-1", as runc's units.RAMInBytes takes them.
Result<int64_t> parseBytes(const char* flag, const std::string& text) {
  std::string s(strings::trim(text));
  if (s == "-1") return -1;
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  std::optional<int64_t> number = strings::toInt(s.substr(0, digits));
  std::string unit = s.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  int shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30
                                             : unit == "t" ? 40 : -1;
  if (digits == 0 || !number || shift < 0 || *number > (INT64_MAX >> shift))
    return Error::make("{}: '{}' is not a size (bytes, or a number with k, m, g, t)", flag,
                       text);
  return *number << shift;
}

Result<std::chrono::milliseconds> parseInterval(const std::string& text) {
  std::string s(strings::trim(text));
  size_t digits = s.find_first_not_of("0123456789");
  std::optional<uint64_t> n = strings::toUint(s.substr(0, digits));
  std::string unit = digits == std::string::npos ? "s" : s.substr(digits);
  uint64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0;
  if (!n || *n == 0 || scale == 0)
    return Error::make("--interval: '{}' is not a duration like 5s or 500ms", text);
  return std::chrono::milliseconds(*n * scale);
}

Result<oci::Resources> updateResources(const UpdateFlags& f) {
  oci::Resources r;
  if (!f.resources.empty()) {
    Result<std::string> text = f.resources == "-"
                                   ? fs::readFile("/dev/stdin")
                                   : fs::readFile(f.resources);
    if (!text) return std::move(text).error().context("-r '{}'", f.resources);
    TRY_ASSIGN(r, oci::parseResourcesJson(*text).context("-r '{}'", f.resources));
  }
  // Flags override the file, field by field.
  if (!f.memory.empty()) {
    TRY_ASSIGN(r.memoryLimit, parseBytes("--memory", f.memory));
  }
  if (!f.memorySwap.empty()) {
    TRY_ASSIGN(r.memorySwap, parseBytes("--memory-swap", f.memorySwap));
  }
  if (!f.memoryReservation.empty()) {
    TRY_ASSIGN(r.memoryReservation, parseBytes("--memory-reservation", f.memoryReservation));
  }
  if (f.cpuQuota) r.cpuQuota = f.cpuQuota;
  if (f.cpuPeriod) r.cpuPeriod = f.cpuPeriod;
  if (f.cpuShares) r.cpuShares = f.cpuShares;
  if (!f.cpusetCpus.empty()) r.cpus = f.cpusetCpus;
  if (!f.cpusetMems.empty()) r.mems = f.cpusetMems;
  if (f.pidsLimit) r.pidsLimit = f.pidsLimit;
  if (f.blkioWeight) {
    if (!r.blockIO) r.blockIO.emplace();
    r.blockIO->weight = f.blkioWeight;
  }
  if (r.memoryLimit && r.memorySwap && *r.memorySwap > 0 && *r.memoryLimit > 0 &&
      *r.memorySwap < *r.memoryLimit)
    return Error::make("--memory-swap {} is below --memory {} (it is memory+swap)",
                       *r.memorySwap, *r.memoryLimit);
  return r;
}

json::object psiJson(const os::Psi& p) {
  auto line = [](const os::PsiLine& l) {
    return json::object{{"avg10", l.avg10}, {"avg60", l.avg60}, {"avg300", l.avg300},
                        {"total", l.total}};
  };
  return {{"some", line(p.some)}, {"full", line(p.full)}};
}

json::object memoryEntry(const os::MemoryEntry& e) {
  return {{"limit", e.limit}, {"usage", e.usage}, {"max", e.max}, {"failcnt", e.failcnt}};
}

json::array blkioJson(const std::vector<os::BlkioEntry>& entries) {
  json::array out;
  for (const auto& e : entries)
    out.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return out;
}

}  // namespace

// The "data" object of runc's stats event (libcontainer/types.Stats).
json::object statsJson(const os::CgroupStats& s) {
  json::object data;
  if (s.cpu) {
    json::object cpu{
        {"usage",
         {{"total", s.cpu->totalNs},
          {"percpu", json::value_from(s.cpu->perCpuNs)},
          {"kernel", s.cpu->kernelNs},
          {"user", s.cpu->userNs}}},
        {"throttling",
         {{"periods", s.cpu->periods},
          {"throttled_periods", s.cpu->throttledPeriods},
          {"throttled_time", s.cpu->throttledTimeNs}}}};
    if (s.cpuPressure) cpu["psi"] = psiJson(*s.cpuPressure);
    data["cpu"] = std::move(cpu);
  }
  if (s.memory) {
    json::object raw;
    for (const auto& [k, v] : s.memory->raw) raw[k] = v;
    json::object memory{{"cache", s.memory->cache},
                        {"usage", memoryEntry(s.memory->usage)},
                        {"swap", memoryEntry(s.memory->swap)},
                        {"raw", std::move(raw)},
                        {"oom_events", s.memory->oomEvents},
                        {"oom_kill_events", s.memory->oomKillEvents}};
    if (s.memoryPressure) memory["psi"] = psiJson(*s.memoryPressure);
    data["memory"] = std::move(memory);
  }
  if (s.pids) data["pids"] = {{"current", s.pids->current}, {"limit", s.pids->limit}};
  json::object blkio;
  if (s.blkio) {
    blkio["ioServiceBytesRecursive"] = blkioJson(s.blkio->serviceBytes);
    blkio["ioServicedRecursive"] = blkioJson(s.blkio->serviced);
  }
  if (s.ioPressure) blkio["psi"] = psiJson(*s.ioPressure);
  data["blkio"] = std::move(blkio);
  json::object hugetlb;
  for (const auto& [size, h] : s.hugetlb)
    hugetlb[size] = {{"usage", h.usage}, {"max", h.max}, {"failcnt", h.failcnt}};
  data["hugetlb"] = std::move(hugetlb);
  return data;
}

void Commands::addCgroup(CLI::App& app) {
  auto update = std::make_shared<UpdateFlags>();
  auto* cmd = app.add_subcommand("update", "change the resource limits of a container");
  cmd->add_option("-r,--resources", update->resources,
                  "linux.resources JSON file ('-' reads stdin)");
  cmd->add_option("--memory", update->memory, "memory limit (bytes, or 512m, 1g; -1 none)");
  cmd->add_option("--memory-swap", update->memorySwap, "memory+swap limit (-1 none)");
  cmd->add_option("--memory-reservation", update->memoryReservation, "soft memory limit");
  cmd->add_option("--cpu-quota", update->cpuQuota, "CFS quota in microseconds (-1 none)");
  cmd->add_option("--cpu-period", update->cpuPeriod, "CFS period in microseconds");
  cmd->add_option("--cpu-share,--cpu-shares", update->cpuShares, "CPU shares");
  cmd->add_option("--cpuset-cpus", update->cpusetCpus, "CPUs to run on (0-3,5)");
  cmd->add_option("--cpuset-mems", update->cpusetMems, "memory nodes (0-1)");
  cmd->add_option("--pids-limit", update->pidsLimit, "maximum number of tasks (<= 0 none)");
  cmd->add_option("--blkio-weight", update->blkioWeight, "block I/O weight (10-1000)");
  cmd->add_option("id", update->id, "container id")->required();
  cmd->callback([this, update] {
    action_ = [this, update] {
      Result<oci::Resources> resources = updateResources(*update);
      if (!resources) return report(std::move(resources).error());
      return report(runtime().update(update->id, isolator::planCgroupLimits(*resources)));
    };
  });

  auto events = std::make_shared<EventsFlags>();
  auto* ev = app.add_subcommand("events", "print container statistics and OOM events as JSON");
  ev->add_flag("--stats", events->stats, "print the statistics once and exit");
  ev->add_option("--interval", events->interval, "time between statistics (default 5s)");
  ev->add_option("id", events->id, "container id")->required();
  ev->callback([this, events] {
    action_ = [this, events] {
      auto print = [&](const containerizer::ContainerEvent& e) {
        json::object out{{"type", e.type}, {"id", events->id}};
        if (e.stats) out["data"] = statsJson(*e.stats);
        std::printf("%s\n", json::serialize(out).c_str());
        std::fflush(stdout);
        return true;
      };
      if (events->stats) {
        auto stats = runtime().stats(events->id);
        if (!stats) return report(std::move(stats).error());
        return print({"stats", std::move(*stats)}) ? 0 : 1;
      }
      auto interval = parseInterval(events->interval);
      if (!interval) return report(std::move(interval).error());
      return report(runtime().events(events->id, *interval, print));
    };
  });
}

}  // namespace nucleo::cli
