#pragma once
// Per-test OCI bundles: a copy of the prebuilt busybox bundle whose
// config.json is edited as JSON, then saved before the runtime sees it.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "base/result.hpp"

namespace nucleo::itest {

// Where the static helper lives inside the bundle's rootfs.
inline constexpr const char* HELPER_IN_ROOTFS = "/bin/nucleo-test-helper";

// A directory under /tmp removed (recursively, without following symlinks)
// when the owner goes away. Errors if mkdtemp fails.
class TmpDir {
 public:
  static Result<TmpDir> create(std::string_view prefix = "nucleo-itest");
  TmpDir(TmpDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TmpDir& operator=(TmpDir&&) = delete;
  ~TmpDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TmpDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// An editable bundle: `dir()/config.json` and `dir()/rootfs`. Setters change
// the in-memory config only; call save() before handing dir() to a runtime.
class Bundle {
 public:
  // Copies the prebuilt bundle (NUCLEO_TEST_BUNDLE) to `dest`, which must not
  // exist. Errors name the path when the bundle is missing or unreadable.
  static Result<Bundle> copyPrebuilt(const std::filesystem::path& dest);

  const std::filesystem::path& dir() const { return dir_; }
  boost::json::object& config() { return config_; }
  boost::json::object& process();

  Bundle& setArgs(const std::vector<std::string>& args);
  // args = [HELPER_IN_ROOTFS, helperArgs...].
  Bundle& setHelperArgs(const std::vector<std::string>& helperArgs);
  Bundle& setEnv(const std::vector<std::string>& env);
  Bundle& setCwd(const std::string& cwd);
  Bundle& setHostname(const std::string& hostname);
  Bundle& setUser(uint32_t uid, uint32_t gid,
                  const std::vector<uint32_t>& additionalGids = {});
  // Sets all five sets to `caps` ("CAP_KILL", ...). Inheritable is included
  // because the kernel raises an ambient cap only if it is inheritable too.
  Bundle& setCapabilities(const std::vector<std::string>& caps);
  // Replaces or adds the rlimit `type` ("RLIMIT_NOFILE").
  Bundle& setRlimit(const std::string& type, uint64_t soft, uint64_t hard);
  Bundle& addMount(const std::string& destination, const std::string& type,
                   const std::string& source,
                   const std::vector<std::string>& options);
  // Replaces linux.namespaces with these types ("pid", "network", ...).
  Bundle& setNamespaces(const std::vector<std::string>& types);
  Bundle& setReadonlyRoot(bool readonly);
  // root.path, relative to the bundle or absolute.
  Bundle& setRootPath(const std::string& path);
  Bundle& setNoNewPrivileges(bool on);

  // Writes config.json. Errors name the path.
  Status save() const;

 private:
  Bundle(std::filesystem::path dir, boost::json::object config)
      : dir_(std::move(dir)), config_(std::move(config)) {}

  std::filesystem::path dir_;
  boost::json::object config_;
};

// Parses a JSON document; errors carry Boost.JSON's message and `what`.
Result<boost::json::value> parseJson(std::string_view text, std::string_view what);

}  // namespace nucleo::itest
