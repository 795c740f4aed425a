#include "agent/files/operator_files.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <limits>

namespace nucleo::agent {

using mesos::v1::agent::Call;
using mesos::v1::agent::Response;

void attachSandboxes(SandboxFiles& files, const std::vector<std::string>& sandboxes) {
  for (const auto& sandbox : sandboxes) {
    files.attach(sandbox, sandbox);
    std::string runs = sandbox.substr(0, sandbox.rfind('/'));
    char target[4096];
    ssize_t n = ::readlink((runs + "/latest").c_str(), target, sizeof(target) - 1);
    if (n <= 0 || std::string(target, static_cast<size_t>(n)) != sandbox.substr(runs.size() + 1))
      continue;
    files.attach(runs + "/latest", sandbox);
    // Clients build Mesos's virtual path from ids alone.
    auto frameworks = runs.rfind("/frameworks/");
    if (frameworks != std::string::npos) files.attach(runs.substr(frameworks) + "/latest", sandbox);
  }
}

int httpStatusOf(const Error& error) {
  return error.code == ENOENT ? 404 : error.code == EACCES ? 403 : 400;
}

Result<Response> listFiles(const SandboxFiles& files, const Call& call) {
  if (!call.has_list_files() || !call.list_files().has_path())
    return Error{EINVAL, "Expecting 'list_files.path' to be present"};
  TRY_ASSIGN(auto entries, files.browse(call.list_files().path()));
  Response r;
  r.set_type(Response::LIST_FILES);
  auto* out = r.mutable_list_files();
  for (const auto& e : entries) {
    auto* info = out->add_file_infos();
    info->set_path(e.path);
    info->set_nlink(static_cast<int32_t>(std::min<uint64_t>(e.nlink, INT32_MAX)));
    info->set_size(e.size);
    info->mutable_mtime()->set_nanoseconds(static_cast<int64_t>(std::llround(e.mtime * 1e9)));
    info->set_mode(e.modeBits);
    info->set_uid(e.uid);
    info->set_gid(e.gid);
  }
  return r;
}

Result<Response> readFile(const SandboxFiles& files, const Call& call) {
  if (!call.has_read_file() || !call.read_file().has_path())
    return Error{EINVAL, "Expecting 'read_file.path' to be present"};
  if (!call.read_file().has_offset()) return Error{EINVAL, "Expecting 'read_file.offset' to be present"};
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  // Past INT64_MAX is past any file's end: clamped, it reads nothing.
  auto offset = static_cast<int64_t>(std::min(call.read_file().offset(), kMax));
  int64_t length = call.read_file().has_length()
                       ? static_cast<int64_t>(std::min(call.read_file().length(), kMax))
                       : -1;
  TRY_ASSIGN(auto chunk, files.read(call.read_file().path(), offset, length));
  Response r;
  r.set_type(Response::READ_FILE);
  r.mutable_read_file()->set_size(chunk.size);
  r.mutable_read_file()->set_data(std::move(chunk.data));
  return r;
}

}  // namespace nucleo::agent
