#include "oci/spec.hpp"

#include <sched.h>

#include <set>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "oci/json_reader.hpp"

namespace nucleo::oci {
namespace {

Result<Mount> parseMount(const JsonField& f) {
  Mount m;
  TRY_ASSIGN(m.destination, f.member("destination")->string());
  if (m.destination.empty()) return f.error("destination is required");
  TRY_ASSIGN(m.type, f.member("type")->string());
  TRY_ASSIGN(m.source, f.member("source")->string());
  TRY_ASSIGN(m.options, f.member("options")->strings());
  TRY_ASSIGN(auto uidMappings, f.member("uidMappings")->elements());
  TRY_ASSIGN(auto gidMappings, f.member("gidMappings")->elements());
  if (!uidMappings.empty() || !gidMappings.empty())
    return f.error("idmapped mounts (uidMappings/gidMappings) are not supported");
  return m;
}

Result<User> parseUser(const JsonField& f) {
  User u;
  TRY_ASSIGN(auto uid, f.member("uid")->uint32());
  TRY_ASSIGN(auto gid, f.member("gid")->uint32());
  u.uid = uid.value_or(0);
  u.gid = gid.value_or(0);
  TRY_ASSIGN(u.umask, f.member("umask")->uint32());
  TRY_ASSIGN(auto gids, f.member("additionalGids")->elements());
  for (const auto& g : gids) {
    TRY_ASSIGN(auto v, g.uint32());
    if (!v) return g.error("expected a gid");
    u.additionalGids.push_back(*v);
  }
  TRY_ASSIGN(u.username, f.member("username")->string());
  return u;
}

Result<Capabilities> parseCapabilities(const JsonField& f) {
  Capabilities c;
  TRY_ASSIGN(c.bounding, f.member("bounding")->strings());
  TRY_ASSIGN(c.effective, f.member("effective")->strings());
  TRY_ASSIGN(c.inheritable, f.member("inheritable")->strings());
  TRY_ASSIGN(c.permitted, f.member("permitted")->strings());
  TRY_ASSIGN(c.ambient, f.member("ambient")->strings());
  return c;
}

Result<Rlimit> parseRlimit(const JsonField& f) {
  Rlimit r;
  TRY_ASSIGN(r.type, f.member("type")->string());
  if (r.type.empty()) return f.error("type is required");
  TRY_ASSIGN(auto soft, f.member("soft")->uint64());
  TRY_ASSIGN(auto hard, f.member("hard")->uint64());
  if (!soft || !hard) return f.error("soft and hard are required");
  r.soft = *soft;
  r.hard = *hard;
  if (r.soft > r.hard) return f.error("soft limit exceeds hard limit");
  return r;
}

// process.scheduler, process.ioPriority and process.execCPUAffinity (1.2).
Status parseScheduling(const JsonField& f, Process& p) {
  TRY_ASSIGN(JsonField sched, f.member("scheduler"));
  if (sched.present()) {
    Scheduler s;
    TRY_ASSIGN(s.policy, sched.member("policy")->string());
    if (s.policy.empty()) return sched.error("policy is required");
    TRY_ASSIGN(auto nice, sched.member("nice")->int64());
    TRY_ASSIGN(auto priority, sched.member("priority")->int64());
    if (nice && (*nice < -20 || *nice > 19)) return sched.error("nice must be between -20 and 19");
    s.nice = static_cast<int>(nice.value_or(0));
    s.priority = static_cast<int>(priority.value_or(0));
    TRY_ASSIGN(s.flags, sched.member("flags")->strings());
    TRY_ASSIGN(auto runtime, sched.member("runtime")->uint64());
    TRY_ASSIGN(auto deadline, sched.member("deadline")->uint64());
    TRY_ASSIGN(auto period, sched.member("period")->uint64());
    s.runtime = runtime.value_or(0);
    s.deadline = deadline.value_or(0);
    s.period = period.value_or(0);
    p.scheduler = std::move(s);
  }
  TRY_ASSIGN(JsonField io, f.member("ioPriority"));
  if (io.present()) {
    IoPriority i;
    TRY_ASSIGN(i.ioClass, io.member("class")->string());
    TRY_ASSIGN(auto priority, io.member("priority")->int64());
    if (priority && (*priority < 0 || *priority > 7)) return io.error("priority must be between 0 and 7");
    i.priority = static_cast<int>(priority.value_or(0));
    p.ioPriority = std::move(i);
  }
  TRY_ASSIGN(JsonField affinity, f.member("execCPUAffinity"));
  TRY_ASSIGN(p.cpuAffinityInitial, affinity.member("initial")->string());
  TRY_ASSIGN(p.cpuAffinityFinal, affinity.member("final")->string());
  return ok();
}

Result<Process> parseProcessField(const JsonField& f) {
  Process p;
  TRY_ASSIGN(p.terminal, f.member("terminal")->boolean());
  TRY_ASSIGN(JsonField size, f.member("consoleSize"));
  if (size.present()) {
    TRY_ASSIGN(auto h, size.member("height")->uint32());
    TRY_ASSIGN(auto w, size.member("width")->uint32());
    p.consoleSize = std::pair<unsigned, unsigned>(h.value_or(0), w.value_or(0));
  }
  TRY_ASSIGN(p.user, parseUser(*f.member("user")));
  TRY_ASSIGN(p.args, f.member("args")->strings());
  if (p.args.empty()) return f.error("args must name the program to run");
  TRY_ASSIGN(p.env, f.member("env")->strings());
  for (size_t i = 0; i < p.env.size(); ++i)
    if (p.env[i].find('=') == std::string::npos)
      return Error::make("{}.env[{}]: \"{}\" is not KEY=VALUE", f.path(), i, p.env[i]);
  TRY_ASSIGN(p.cwd, f.member("cwd")->string());
  if (p.cwd.empty() || p.cwd[0] != '/')
    return Error::make("{}.cwd: \"{}\" must be an absolute path", f.path(), p.cwd);
  TRY_ASSIGN(JsonField caps, f.member("capabilities"));
  if (caps.present()) {
    TRY_ASSIGN(p.capabilities, parseCapabilities(caps));
  }
  TRY_ASSIGN(auto rlimits, f.member("rlimits")->elements());
  std::set<std::string> seen;
  for (const auto& r : rlimits) {
    TRY_ASSIGN(Rlimit limit, parseRlimit(r));
    if (!seen.insert(limit.type).second) return r.error("duplicate rlimit " + limit.type);
    p.rlimits.push_back(limit);
  }
  TRY_ASSIGN(p.noNewPrivileges, f.member("noNewPrivileges")->boolean());
  TRY_ASSIGN(p.apparmorProfile, f.member("apparmorProfile")->string());
  TRY_ASSIGN(p.selinuxLabel, f.member("selinuxLabel")->string());
  TRY_ASSIGN(JsonField oom, f.member("oomScoreAdj"));
  if (oom.present()) {
    TRY_ASSIGN(auto v, oom.int64());
    if (*v < -1000 || *v > 1000) return oom.error("must be between -1000 and 1000");
    p.oomScoreAdj = static_cast<int>(*v);
  }
  TRY(parseScheduling(f, p));
  return p;
}

Result<std::vector<Hook>> parseHookList(const JsonField& f) {
  std::vector<Hook> hooks;
  TRY_ASSIGN(auto items, f.elements());
  for (const auto& item : items) {
    Hook h;
    TRY_ASSIGN(h.path, item.member("path")->string());
    if (h.path.empty() || h.path[0] != '/')
      return item.error("path must be absolute");
    TRY_ASSIGN(h.args, item.member("args")->strings());
    TRY_ASSIGN(h.env, item.member("env")->strings());
    TRY_ASSIGN(JsonField timeout, item.member("timeout"));
    if (timeout.present()) {
      TRY_ASSIGN(auto t, timeout.int64());
      if (*t <= 0) return timeout.error("must be greater than zero");
      h.timeout = static_cast<int>(*t);
    }
    hooks.push_back(std::move(h));
  }
  return hooks;
}

Result<Hooks> parseHooks(const JsonField& f) {
  Hooks h;
  TRY_ASSIGN(h.prestart, parseHookList(*f.member("prestart")));
  TRY_ASSIGN(h.createRuntime, parseHookList(*f.member("createRuntime")));
  TRY_ASSIGN(h.createContainer, parseHookList(*f.member("createContainer")));
  TRY_ASSIGN(h.startContainer, parseHookList(*f.member("startContainer")));
  TRY_ASSIGN(h.poststart, parseHookList(*f.member("poststart")));
  TRY_ASSIGN(h.poststop, parseHookList(*f.member("poststop")));
  return h;
}

}  // namespace

Result<Resources> parseResources(const JsonField& f);
Result<Seccomp> parseSeccomp(const JsonField& f);
Result<Linux> parseLinux(const JsonField& f);

int namespaceCloneFlag(const std::string& type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

bool Linux::hasNamespace(const std::string& type) const {
  return findNamespace(type) != nullptr;
}

const Namespace* Linux::findNamespace(const std::string& type) const {
  for (const auto& ns : namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

static Status checkVersion(const std::string& version) {
  auto parts = strings::split(version, '.');
  if (parts.size() < 2 || parts[0] != "1")
    return Error::make("ociVersion: \"{}\" is not a supported runtime-spec version (1.x)", version);
  return ok();
}

static Status checkSpec(const Spec& spec) {
  TRY(checkVersion(spec.ociVersion));
  if (spec.rootPath.empty()) return Error::make("root.path: required");
  if (!spec.hostname.empty() && !spec.linux.hasNamespace("uts"))
    return Error::make("hostname: setting \"{}\" requires a new uts namespace", spec.hostname);
  if (!spec.domainname.empty() && !spec.linux.hasNamespace("uts"))
    return Error::make("domainname: setting \"{}\" requires a new uts namespace", spec.domainname);
  for (size_t i = 0; i < spec.mounts.size(); ++i)
    if (spec.mounts[i].destination[0] != '/')
      return Error::make("mounts[{}].destination: \"{}\" must be an absolute path", i,
                         spec.mounts[i].destination);
  const Namespace* user = spec.linux.findNamespace("user");
  if (user && user->path.empty() &&
      (spec.linux.uidMappings.empty() || spec.linux.gidMappings.empty()))
    return Error::make("linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
  if (!user && (!spec.linux.uidMappings.empty() || !spec.linux.gidMappings.empty()))
    return Error::make("linux.uidMappings: mappings given without a user namespace");
  if (!spec.linux.timeOffsets.empty() && !spec.linux.hasNamespace("time"))
    return Error::make("linux.timeOffsets: requires a new time namespace");
  return ok();
}

static Result<Spec> parseDocument(const JsonField& root) {
  Spec spec;
  TRY_ASSIGN(spec.ociVersion, root.member("ociVersion")->string());
  if (spec.ociVersion.empty()) return Error::make("ociVersion: required");
  TRY_ASSIGN(JsonField rootField, root.member("root"));
  TRY_ASSIGN(spec.rootPath, rootField.member("path")->string());
  TRY_ASSIGN(spec.rootReadonly, rootField.member("readonly")->boolean());
  TRY_ASSIGN(JsonField process, root.member("process"));
  if (process.present()) {
    TRY_ASSIGN(spec.process, parseProcessField(process));
  }
  TRY_ASSIGN(spec.hostname, root.member("hostname")->string());
  TRY_ASSIGN(spec.domainname, root.member("domainname")->string());
  TRY_ASSIGN(auto mounts, root.member("mounts")->elements());
  for (const auto& m : mounts) {
    TRY_ASSIGN(Mount mount, parseMount(m));
    spec.mounts.push_back(std::move(mount));
  }
  TRY_ASSIGN(spec.hooks, parseHooks(*root.member("hooks")));
  TRY_ASSIGN(spec.annotations, root.member("annotations")->stringMap());
  TRY_ASSIGN(spec.linux, parseLinux(*root.member("linux")));
  TRY(checkSpec(spec));
  return spec;
}

Result<Spec> parseSpec(std::string_view json) {
  TRY_ASSIGN(boost::json::value doc, parseJson(json, "config.json"));
  if (!doc.is_object()) return Error::make("config.json: expected a JSON object");
  return parseDocument(JsonField(&doc, ""));
}

Result<Spec> loadSpec(const std::string& bundle) {
  std::string path = bundle + "/config.json";
  auto text = fs::readFile(path);
  if (!text) return std::move(text).error().context("bundle '{}'", bundle);
  auto spec = parseSpec(*text);
  if (!spec) return std::move(spec).error().context("{}", path);
  return spec;
}

Result<Process> parseProcess(std::string_view json) {
  TRY_ASSIGN(boost::json::value doc, parseJson(json, "process.json"));
  if (!doc.is_object()) return Error::make("process.json: expected a JSON object");
  return parseProcessField(JsonField(&doc, "process"));
}

}  // namespace nucleo::oci
