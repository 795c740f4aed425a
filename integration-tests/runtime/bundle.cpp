#include "integration-tests/runtime/bundle.hpp"

#include <stdlib.h>

#include <system_error>

#include "base/fs.hpp"

namespace nucleo::itest {

namespace json = boost::json;
namespace stdfs = std::filesystem;

Result<TmpDir> TmpDir::create(std::string_view prefix) {
  std::string templ = "/tmp/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error::fromErrno("mkdtemp '" + templ + "'");
  }
  return TmpDir(templ);
}

TmpDir::~TmpDir() {
  if (path_.empty()) return;
  std::error_code ec;
  stdfs::remove_all(path_, ec);
}

Result<json::value> parseJson(std::string_view text, std::string_view what) {
  std::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return Error::make("{}: invalid JSON: {}", what, ec.message());
  return v;
}

Result<Bundle> Bundle::copyPrebuilt(const stdfs::path& dest) {
  const stdfs::path src = NUCLEO_TEST_BUNDLE;
  std::error_code ec;
  stdfs::copy(src, dest,
              stdfs::copy_options::recursive | stdfs::copy_options::copy_symlinks,
              ec);
  if (ec) {
    return Error::make("copy bundle '{}' to '{}': {} (build target test-bundle)",
                       src.string(), dest.string(), ec.message());
  }
  TRY_ASSIGN(std::string text, fs::readFile((dest / "config.json").string()));
  TRY_ASSIGN(json::value config, parseJson(text, (dest / "config.json").string()));
  if (!config.is_object()) {
    return Error::make("'{}': not a JSON object", (dest / "config.json").string());
  }
  return Bundle(dest, std::move(config.as_object()));
}

json::object& Bundle::process() { return config_["process"].as_object(); }

namespace {

json::array strings(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

}  // namespace

Bundle& Bundle::setArgs(const std::vector<std::string>& args) {
  process()["args"] = strings(args);
  return *this;
}

Bundle& Bundle::setHelperArgs(const std::vector<std::string>& helperArgs) {
  std::vector<std::string> args{HELPER_IN_ROOTFS};
  args.insert(args.end(), helperArgs.begin(), helperArgs.end());
  return setArgs(args);
}

Bundle& Bundle::setEnv(const std::vector<std::string>& env) {
  process()["env"] = strings(env);
  return *this;
}

Bundle& Bundle::setCwd(const std::string& cwd) {
  process()["cwd"] = cwd;
  return *this;
}

Bundle& Bundle::setHostname(const std::string& hostname) {
  config_["hostname"] = hostname;
  return *this;
}

Bundle& Bundle::setUser(uint32_t uid, uint32_t gid,
                        const std::vector<uint32_t>& additionalGids) {
  json::object user{{"uid", uid}, {"gid", gid}};
  if (!additionalGids.empty()) {
    json::array gids;
    for (uint32_t g : additionalGids) gids.emplace_back(g);
    user["additionalGids"] = std::move(gids);
  }
  process()["user"] = std::move(user);
  return *this;
}

Bundle& Bundle::setCapabilities(const std::vector<std::string>& caps) {
  json::object sets;
  for (const char* set :
       {"bounding", "effective", "inheritable", "permitted", "ambient"}) {
    sets[set] = strings(caps);
  }
  process()["capabilities"] = std::move(sets);
  return *this;
}

Bundle& Bundle::setRlimit(const std::string& type, uint64_t soft, uint64_t hard) {
  json::value& limits = process()["rlimits"];
  if (!limits.is_array()) limits = json::array();
  json::object entry{{"type", type}, {"soft", soft}, {"hard", hard}};
  for (auto& l : limits.as_array()) {
    if (l.as_object()["type"] == json::value(type)) {
      l = std::move(entry);
      return *this;
    }
  }
  limits.as_array().emplace_back(std::move(entry));
  return *this;
}

Bundle& Bundle::addMount(const std::string& destination, const std::string& type,
                         const std::string& source,
                         const std::vector<std::string>& options) {
  json::value& mounts = config_["mounts"];
  if (!mounts.is_array()) mounts = json::array();
  mounts.as_array().emplace_back(json::object{{"destination", destination},
                                              {"type", type},
                                              {"source", source},
                                              {"options", strings(options)}});
  return *this;
}

Bundle& Bundle::setNamespaces(const std::vector<std::string>& types) {
  json::array ns;
  for (const auto& t : types) ns.emplace_back(json::object{{"type", t}});
  config_["linux"].as_object()["namespaces"] = std::move(ns);
  return *this;
}

Bundle& Bundle::setReadonlyRoot(bool readonly) {
  config_["root"].as_object()["readonly"] = readonly;
  return *this;
}

Bundle& Bundle::setRootPath(const std::string& path) {
  config_["root"].as_object()["path"] = path;
  return *this;
}

Bundle& Bundle::setNoNewPrivileges(bool on) {
  process()["noNewPrivileges"] = on;
  return *this;
}

Status Bundle::save() const {
  return fs::writeFileAtomic((dir_ / "config.json").string(),
                             json::serialize(config_) + "\n");
}

}  // namespace nucleo::itest
