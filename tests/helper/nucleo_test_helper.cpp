// nucleo-test-helper: runs inside a container and prints one JSON object on
// stdout describing what the process sees (ids, caps, namespaces, mounts...).
// Statically linked and free of nucleo libraries so that it runs in any
// rootfs. Usage:
//   nucleo-test-helper [--env] [--no-report] [--try-syscall NAME]...
//                      [--writable PATH...] [--readable PATH...]
//                      [--sleep SECS] [--signal-self N] [--exit N]
// The report comes first, then sleep, then signal-self, then exit.

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

// Minimal JSON writer: enough structure tracking to place commas.
class Json {
 public:
  void beginObject() { value(); out_ += '{'; first_.push_back(true); }
  void endObject() { out_ += '}'; first_.pop_back(); }
  void beginArray() { value(); out_ += '['; first_.push_back(true); }
  void endArray() { out_ += ']'; first_.pop_back(); }
  void key(const std::string& k) {
    comma();
    quote(k);
    out_ += ':';
    afterKey_ = true;
  }
  void str(const std::string& s) { value(); quote(s); }
  void num(long long n) { value(); out_ += std::to_string(n); }
  void unum(unsigned long long n) { value(); out_ += std::to_string(n); }
  void boolean(bool b) { value(); out_ += b ? "true" : "false"; }
  void null() { value(); out_ += "null"; }
  const std::string& text() const { return out_; }

 private:
  void comma() {
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void value() {
    if (afterKey_) {
      afterKey_ = false;
      return;
    }
    comma();
  }
  void quote(const std::string& s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool afterKey_ = false;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeOctal(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string readLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

std::string statusField(const std::string& status, const std::string& name) {
  for (const auto& line : lines(status)) {
    if (line.rfind(name + ":", 0) == 0) {
      auto w = words(line.substr(name.size() + 1));
      return w.empty() ? "" : w[0];
    }
  }
  return "";
}

void errnoFields(Json& j, int err) {
  j.key("errno");
  j.num(err);
  j.key("error");
  j.str(err == 0 ? "" : strerrorname_np(err) ? strerrorname_np(err) : "?");
}

void ids(Json& j) {
  j.key("pid"); j.num(::getpid());
  j.key("ppid"); j.num(::getppid());
  j.key("uid"); j.num(::getuid());
  j.key("gid"); j.num(::getgid());
  j.key("euid"); j.num(::geteuid());
  j.key("egid"); j.num(::getegid());
  gid_t groups[256];
  int n = ::getgroups(256, groups);
  j.key("groups");
  j.beginArray();
  for (int i = 0; i < n; ++i) j.num(groups[i]);
  j.endArray();
  struct utsname u {};
  ::uname(&u);
  j.key("hostname"); j.str(u.nodename);
  j.key("domainname"); j.str(u.domainname);
  char cwd[4096];
  j.key("cwd");
  if (::getcwd(cwd, sizeof cwd)) j.str(cwd); else j.null();
}

void status(Json& j) {
  std::string st = readFile("/proc/self/status");
  j.key("umask"); j.str(statusField(st, "Umask"));
  j.key("caps");
  j.beginObject();
  for (const char* c : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    j.key(c);
    j.str(statusField(st, c));
  }
  j.endObject();
  j.key("no_new_privs"); j.num(std::atoi(statusField(st, "NoNewPrivs").c_str()));
  j.key("seccomp"); j.num(std::atoi(statusField(st, "Seccomp").c_str()));
  std::string adj = readFile("/proc/self/oom_score_adj");
  j.key("oom_score_adj"); j.num(std::atoi(adj.c_str()));
}

void rlimits(Json& j) {
  j.key("rlimits");
  j.beginObject();
  struct Named { const char* name; int resource; };
  for (Named r : {Named{"nofile", RLIMIT_NOFILE}, Named{"nproc", RLIMIT_NPROC},
                  Named{"core", RLIMIT_CORE}}) {
    struct rlimit l {};
    ::getrlimit(r.resource, &l);
    j.key(r.name);
    j.beginObject();
    j.key("soft"); j.unum(l.rlim_cur);
    j.key("hard"); j.unum(l.rlim_max);
    j.endObject();
  }
  j.endObject();
}

void cgroups(Json& j) {
  j.key("cgroup");
  j.beginArray();
  for (const auto& line : lines(readFile("/proc/self/cgroup"))) j.str(line);
  j.endArray();
}

void namespaces(Json& j) {
  j.key("ns");
  j.beginObject();
  for (const char* ns : {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                         "time", "user", "uts"}) {
    j.key(ns);
    std::string target = readLink(std::string("/proc/self/ns/") + ns);
    auto open = target.find('[');
    if (open == std::string::npos) {
      j.null();
    } else {
      j.unum(std::strtoull(target.c_str() + open + 1, nullptr, 10));
    }
  }
  j.endObject();
}

// mountinfo: id parent maj:min root mountpoint opts [optional...] - fstype source superopts
void mounts(Json& j) {
  j.key("mounts");
  j.beginArray();
  for (const auto& line : lines(readFile("/proc/self/mountinfo"))) {
    auto w = words(line);
    size_t dash = 6;
    while (dash < w.size() && w[dash] != "-") ++dash;
    if (w.size() < 7 || dash >= w.size()) continue;
    j.beginObject();
    j.key("mount_point"); j.str(unescapeOctal(w[4]));
    j.key("root"); j.str(unescapeOctal(w[3]));
    j.key("options"); j.str(w[5]);
    j.key("fstype"); j.str(dash + 1 < w.size() ? w[dash + 1] : "");
    j.key("source"); j.str(dash + 2 < w.size() ? unescapeOctal(w[dash + 2]) : "");
    j.key("super_options"); j.str(dash + 3 < w.size() ? w[dash + 3] : "");
    j.endObject();
  }
  j.endArray();
}

void fds(Json& j) {
  j.key("fds");
  j.beginObject();
  DIR* dir = ::opendir("/proc/self/fd");
  int self = dir ? ::dirfd(dir) : -1;
  while (dirent* e = dir ? ::readdir(dir) : nullptr) {
    if (e->d_name[0] == '.') continue;
    if (std::atoi(e->d_name) == self) continue;
    j.key(e->d_name);
    j.str(readLink(std::string("/proc/self/fd/") + e->d_name));
  }
  if (dir) ::closedir(dir);
  j.endObject();
}

void env(Json& j) {
  j.key("env");
  j.beginArray();
  for (char** e = environ; e && *e; ++e) j.str(*e);
  j.endArray();
}

void access(Json& j, const char* name, const std::vector<std::string>& paths,
            int mode) {
  j.key(name);
  j.beginObject();
  for (const auto& p : paths) {
    int rc = ::access(p.c_str(), mode);
    int err = rc == 0 ? 0 : errno;
    j.key(p);
    j.beginObject();
    j.key("ok"); j.boolean(rc == 0);
    errnoFields(j, err);
    j.endObject();
  }
  j.endObject();
}

// Probes chosen so that success changes nothing and the kernel's permission
// check (caps, seccomp, read-only fs) runs before argument validation.
int trySyscall(const std::string& name, bool* known) {
  *known = true;
  long rc = -1;
  if (name == "mkdir") {
    rc = ::syscall(SYS_mkdir, "/.nucleo-try-mkdir", 0700);
    if (rc == 0) ::rmdir("/.nucleo-try-mkdir");
  } else if (name == "chmod") {
    struct stat st {};
    ::stat("/", &st);
    rc = ::syscall(SYS_chmod, "/", st.st_mode & 07777);
  } else if (name == "getcwd") {
    char buf[4096];
    rc = ::syscall(SYS_getcwd, buf, sizeof buf);
  } else if (name == "unshare") {
    // A no-op flag set still passes through seccomp filters.
    rc = ::syscall(SYS_unshare, CLONE_NEWUTS);
  } else if (name == "personality") {
    rc = ::syscall(SYS_personality, 0xffffffffUL);
  } else if (name == "mount") {
    // ENODEV when allowed: the fstype does not exist.
    rc = ::syscall(SYS_mount, "none", "/", "nucleo-no-such-fs", 0UL, nullptr);
  } else if (name == "ptrace") {
    // ESRCH when allowed: pid 0 is never traceable.
    rc = ::syscall(SYS_ptrace, PTRACE_PEEKUSER, 0, 0, 0);
  } else if (name == "keyctl") {
    // EOPNOTSUPP when allowed: -1 is not an operation.
    rc = ::syscall(SYS_keyctl, -1L, 0L, 0L, 0L, 0L);
  } else {
    *known = false;
  }
  return rc >= 0 ? 0 : errno;
}

void syscalls(Json& j, const std::vector<std::string>& names) {
  j.key("syscalls");
  j.beginObject();
  for (const auto& name : names) {
    bool known = false;
    int err = trySyscall(name, &known);
    j.key(name);
    j.beginObject();
    j.key("known"); j.boolean(known);
    errnoFields(j, known ? err : ENOSYS);
    j.endObject();
  }
  j.endObject();
}

struct Options {
  bool env = false;
  bool report = true;
  std::vector<std::string> syscalls;
  std::vector<std::string> writable;
  std::vector<std::string> readable;
  int sleepSecs = 0;
  int signal = 0;
  int exitCode = 0;
};

bool parse(int argc, char** argv, Options* o) {
  auto paths = [&](int* i, std::vector<std::string>* out) {
    while (*i + 1 < argc && std::strncmp(argv[*i + 1], "--", 2) != 0)
      out->push_back(argv[++*i]);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool hasNext = i + 1 < argc;
    if (a == "--env") o->env = true;
    else if (a == "--no-report") o->report = false;
    else if (a == "--try-syscall" && hasNext) o->syscalls.push_back(argv[++i]);
    else if (a == "--writable") paths(&i, &o->writable);
    else if (a == "--readable") paths(&i, &o->readable);
    else if (a == "--sleep" && hasNext) o->sleepSecs = std::atoi(argv[++i]);
    else if (a == "--signal-self" && hasNext) o->signal = std::atoi(argv[++i]);
    else if (a == "--exit" && hasNext) o->exitCode = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "nucleo-test-helper: bad argument '%s'\n", a.c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) return 125;
  if (o.report) {
    Json j;
    j.beginObject();
    ids(j);
    status(j);
    rlimits(j);
    cgroups(j);
    namespaces(j);
    mounts(j);
    fds(j);
    if (o.env) env(j);
    access(j, "writable", o.writable, W_OK);
    access(j, "readable", o.readable, R_OK);
    syscalls(j, o.syscalls);
    j.endObject();
    std::string text = j.text() + "\n";
    if (::write(STDOUT_FILENO, text.data(), text.size()) !=
        static_cast<ssize_t>(text.size())) {
      return 124;
    }
  }
  if (o.sleepSecs > 0) ::sleep(static_cast<unsigned>(o.sleepSecs));
  if (o.signal > 0) {
    // As pid 1 of a pid namespace the kernel drops signals without a handler,
    // so this only kills the helper when it is not the namespace's init.
    ::signal(o.signal, SIG_DFL);
    ::kill(::getpid(), o.signal);
  }
  return o.exitCode;
}
