#include "agent/files/sandbox_files.hpp"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "linux/mount.hpp"

namespace nucleo::agent {
namespace {

// Splits a client's path into components; "." and empty parts go, ".." is
// refused outright (RESOLVE_IN_ROOT would clamp it, but a client asking for
// it is confused or probing).
Result<std::vector<std::string>> components(const std::string& path) {
  std::vector<std::string> out;
  for (auto& part : strings::split(path, '/', true)) {
    if (part == ".") continue;
    if (part == "..") return Error{EINVAL, fmt::format("path '{}': '..' refused", path)};
    out.push_back(std::move(part));
  }
  return out;
}

std::string joinVirtual(const std::vector<std::string>& parts, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += (i == from && from > 0 ? "" : "/") + parts[i];
  if (from > 0) return out;
  return out.empty() ? "/" : out;
}

char typeChar(mode_t mode) {
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  if (S_ISCHR(mode)) return 'c';
  if (S_ISBLK(mode)) return 'b';
  if (S_ISFIFO(mode)) return 'p';
  if (S_ISSOCK(mode)) return 's';
  return '-';
}

// "drwxr-sr-t" as ls -l (and Mesos) prints it.
std::string modeString(mode_t mode) {
  std::string s(10, '-');
  s[0] = typeChar(mode);
  const char rwx[] = "rwx";
  for (int i = 0; i < 9; ++i)
    if (mode & (1u << (8 - i))) s[1 + i] = rwx[i % 3];
  auto special = [&](int pos, mode_t bit, char set, char unset) {
    if (mode & bit) s[pos] = s[pos] == 'x' ? set : unset;
  };
  special(3, S_ISUID, 's', 'S');
  special(6, S_ISGID, 's', 'S');
  special(9, S_ISVTX, 't', 'T');
  return s;
}

std::string userName(uid_t uid) {
  struct passwd pw, *out = nullptr;
  char buffer[1024];
  if (::getpwuid_r(uid, &pw, buffer, sizeof(buffer), &out) == 0 && out) return out->pw_name;
  return std::to_string(uid);
}

std::string groupName(gid_t gid) {
  struct group gr, *out = nullptr;
  char buffer[1024];
  if (::getgrgid_r(gid, &gr, buffer, sizeof(buffer), &out) == 0 && out) return out->gr_name;
  return std::to_string(gid);
}

FileEntry entryOf(const std::string& path, const struct stat& st) {
  FileEntry e;
  e.path = path;
  e.mode = modeString(st.st_mode);
  e.modeBits = static_cast<uint32_t>(st.st_mode);
  e.size = static_cast<uint64_t>(st.st_size);
  e.nlink = static_cast<uint64_t>(st.st_nlink);
  e.mtime = static_cast<double>(st.st_mtim.tv_sec);
  e.uid = userName(st.st_uid);
  e.gid = groupName(st.st_gid);
  return e;
}

// A JSON string literal. Valid UTF-8 passes through; a byte that is not part
// of a valid sequence becomes \u00XX, so that file data in /files/read always
// yields valid JSON (Mesos would emit the raw byte).
void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
      bool valid = n > 0 && i + n <= s.size();
      for (size_t k = 1; valid && k < n; ++k)
        valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      if (valid) {
        out.append(s.substr(i, n));
        i += n;
        continue;
      }
      out += fmt::format("\\u{:04x}", c);
    }
    ++i;
  }
  out += '"';
}

Result<UniqueFd> openConfined(const SandboxFiles::Target& r, int flags) {
  // The host path stays out of the message: clients see virtual paths only.
  UniqueFd root(::open(r.hostRoot.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error{ENOENT, fmt::format("path '{}': sandbox gone", r.virtualPath)};
  auto fd = os::openInRoot(root.get(), r.inner, flags);
  if (!fd) {
    int code = fd.error().code;
    if (code == ELOOP || code == EXDEV)
      return Error{EACCES, fmt::format("path '{}': leaves the sandbox through a link", r.virtualPath)};
    return Error{code, fmt::format("path '{}': {}", r.virtualPath, std::strerror(code))};
  }
  return fd;
}

}  // namespace

void SandboxFiles::attach(const std::string& virtualPath, const std::string& hostDir) {
  auto parts = components(virtualPath);
  roots_[parts ? joinVirtual(*parts, 0, parts->size()) : virtualPath] = hostDir;
}

void SandboxFiles::detach(const std::string& virtualPath) {
  auto parts = components(virtualPath);
  roots_.erase(parts ? joinVirtual(*parts, 0, parts->size()) : virtualPath);
}

Result<SandboxFiles::Target> SandboxFiles::resolve(const std::string& path) const {
  TRY_ASSIGN(auto parts, components(path));
  // The longest attached prefix wins: a sandbox may be attached under
  // another one's path (Mesos's runs/latest beside the run's own path).
  for (size_t n = parts.size() + 1; n-- > 0;) {
    auto it = roots_.find(joinVirtual(parts, 0, n));
    if (it == roots_.end()) continue;
    return Target{joinVirtual(parts, 0, parts.size()), it->second,
                  joinVirtual(parts, n, parts.size())};
  }
  return Error{ENOENT, fmt::format("path '{}': not found", path)};
}

Result<std::vector<FileEntry>> SandboxFiles::browse(const std::string& path) const {
  TRY_ASSIGN(Target t, resolve(path));
  TRY_ASSIGN(UniqueFd dir, openConfined(t, O_RDONLY | O_DIRECTORY | O_NONBLOCK));
  std::unique_ptr<DIR, int (*)(DIR*)> stream(::fdopendir(dir.get()), ::closedir);
  if (!stream) return Error{errno, fmt::format("path '{}': {}", t.virtualPath, std::strerror(errno))};
  int fd = dir.release();
  std::vector<FileEntry> out;
  std::string prefix = t.virtualPath == "/" ? "" : t.virtualPath;
  while (dirent* d = ::readdir(stream.get())) {
    std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    // Not followed: a symlink is listed as itself, whatever it points at.
    if (::fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // raced away
    out.push_back(entryOf(prefix + "/" + std::string(name), st));
  }
  std::sort(out.begin(), out.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  return out;
}

Result<SandboxFiles::OpenFile> SandboxFiles::open(const std::string& path) const {
  TRY_ASSIGN(Target t, resolve(path));
  // O_NONBLOCK: a FIFO in the sandbox must not hang the request.
  TRY_ASSIGN(UniqueFd fd, openConfined(t, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    return Error{errno, fmt::format("path '{}': {}", t.virtualPath, std::strerror(errno))};
  if (S_ISDIR(st.st_mode))
    return Error{EISDIR, fmt::format("path '{}': cannot read a directory", t.virtualPath)};
  if (!S_ISREG(st.st_mode))
    return Error{EINVAL, fmt::format("path '{}': not a regular file", t.virtualPath)};
  return OpenFile{std::move(fd), static_cast<uint64_t>(st.st_size)};
}

Result<SandboxFiles::Chunk> SandboxFiles::read(const std::string& path, int64_t offset,
                                               int64_t length) const {
  if (offset < -1) return Error{EINVAL, fmt::format("offset {}: negative", offset)};
  if (length < -1) return Error{EINVAL, fmt::format("length {}: negative", length)};
  TRY_ASSIGN(OpenFile file, open(path));
  uint64_t size = file.size;
  Chunk chunk;
  chunk.size = size;
  if (offset == -1) {
    chunk.offset = size;
    return chunk;
  }
  chunk.offset = std::min<uint64_t>(static_cast<uint64_t>(offset), size);
  uint64_t want = length == -1 ? MAX_READ_BYTES : static_cast<uint64_t>(length);
  want = std::min({want, MAX_READ_BYTES, size - chunk.offset});
  chunk.data.resize(want);
  size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(file.fd.get(), chunk.data.data() + got, want - got,
                        static_cast<off_t>(chunk.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{errno, fmt::format("path '{}': read: {}", path, std::strerror(errno))};
    if (n == 0) break;  // truncated meanwhile
    got += static_cast<size_t>(n);
  }
  chunk.data.resize(got);
  return chunk;
}

std::string SandboxFiles::browseJson(const std::vector<FileEntry>& entries) {
  std::string out = "[";
  for (const auto& e : entries) {
    if (out.size() > 1) out += ',';
    out += "{\"gid\":";
    appendJsonString(out, e.gid);
    out += ",\"mode\":";
    appendJsonString(out, e.mode);
    out += fmt::format(",\"mtime\":{},\"nlink\":{},\"path\":", e.mtime, e.nlink);
    appendJsonString(out, e.path);
    out += fmt::format(",\"size\":{},\"uid\":", e.size);
    appendJsonString(out, e.uid);
    out += '}';
  }
  return out + "]";
}

std::string SandboxFiles::readJson(const Chunk& chunk) {
  std::string out = "{\"data\":";
  appendJsonString(out, chunk.data);
  return out + fmt::format(",\"offset\":{}}}", chunk.offset);
}

}  // namespace nucleo::agent
