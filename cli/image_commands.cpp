// `nucleo image ...` and `nucleo run --image`: the image store from the
// command line. The work happens in images/; this file parses and prints.
#include <spawn.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "base/fs.hpp"
#include "base/strings.hpp"
#include "cli/commands.hpp"
#include "images/bundle.hpp"
#include "images/import.hpp"
#include "images/store.hpp"
#include "oci/json_pretty.hpp"

extern char** environ;

namespace nucleo::cli {
namespace {

struct ImageFlags {
  std::string store;
  std::string path, ref, dir, name, format = "table", memory;
  std::vector<std::string> refs, env, args;
  std::optional<double> cpus;
  bool quiet = false, rm = false, insecure = false;
  std::string creds, pull = "missing";
};

ImageFlags flags;

std::string defaultStore() {
  const char* env = std::getenv("NUCLEO_IMAGE_STORE");
  return env && *env ? env : "/var/lib/nucleo/images";
}

Result<images::ImageStore> openStore() { return images::ImageStore::open(flags.store); }

// --creds, else $REGISTRY_AUTH_FILE (podman's), else ~/.docker/config.json.
std::string credsFile() {
  if (!flags.creds.empty()) return flags.creds;
  if (const char* env = std::getenv("REGISTRY_AUTH_FILE"); env && *env) return env;
  const char* home = std::getenv("HOME");
  std::string docker = std::string(home ? home : "/root") + "/.docker/config.json";
  return fs::exists(docker) ? docker : "";
}

images::Progress progress() {
  if (!::isatty(STDERR_FILENO)) return {};
  return [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
}

std::string randomId() {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) return "img-" + std::to_string(::getpid());
  std::string id = "img-";
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

// The directory `nucleo` was started from (before its protected re-exec).
std::string binaryDir() {
  if (const char* dir = std::getenv("_NUCLEO_EXE_DIR"); dir && *dir) return dir;
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path(self, n > 0 ? static_cast<size_t>(n) : 0);
  return path.substr(0, path.rfind('/'));
}

// Runs nucleo-pull (see images/tools/pull_main.cpp) and reads its verdict.
Result<images::Digest> pull(images::ImageStore&, const std::string& ref) {
  std::string helper = binaryDir() + "/nucleo-pull";
  std::vector<std::string> args = {helper, "--store", flags.store, ref};
  if (flags.insecure) args.push_back("--insecure");
  if (std::string creds = credsFile(); !creds.empty()) {
    args.push_back("--creds");
    args.push_back(creds);
  }
  TRY_ASSIGN(auto pipe, makePipe());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, pipe.second.get(), STDOUT_FILENO);
  pid_t pid;
  int rc = ::posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error::fromErrno("pull: run '" + helper + "'", rc);
  pipe.second.reset();
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe.first.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string verdict(strings::trim(out));
  if (strings::startsWith(verdict, "ok ")) return images::Digest::parse(verdict.substr(3));
  if (strings::startsWith(verdict, "error ")) return Error::make("{}", verdict.substr(6));
  return Error::make("pull '{}': {} exited with status {}", ref, helper, status);
}

// `--pull`: always fetches; missing fetches when the store has no such name;
// never only looks in the store.
Result<images::ImageRecord> resolveOrPull(images::ImageStore& store, const std::string& ref) {
  if (flags.pull == "always") TRY(pull(store, ref));
  auto record = store.resolve(ref);
  if (record || flags.pull != "missing") return record;
  TRY(pull(store, ref));
  return store.resolve(ref);
}

Result<uint64_t> imageSize(const images::ImageStore& store, const images::Image& image) {
  uint64_t total = image.manifest.config.size;
  for (const auto& l : image.manifest.layers) total += l.size;
  (void)store;
  return total;
}

int printError(const Error& e) {
  std::fprintf(stderr, "nucleo: %s\n", e.message.c_str());
  return 1;
}

int listImages() {
  auto store = openStore();
  if (!store) return printError(store.error());
  auto records = store->list();
  if (!records) return printError(records.error());
  boost::json::array json;
  std::vector<std::vector<std::string>> rows{{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
  for (const auto& r : *records) {
    auto image = store->load(r);
    if (!image) return printError(image.error());
    uint64_t size = *imageSize(*store, *image);
    if (flags.quiet) {
      std::printf("%s\n", image->manifest.config.digest.shortId().c_str());
      continue;
    }
    json.push_back({{"id", image->manifest.config.digest.str()}, {"digest", r.manifest.str()},
                    {"names", boost::json::value_from(r.names)}, {"created", image->config.created},
                    {"size", size}});
    std::vector<std::string> names = r.names.empty() ? std::vector<std::string>{"<none>:<none>"} : r.names;
    for (const auto& n : names) {
      auto at = n.find('@');
      auto colon = at != std::string::npos ? at : n.rfind(':');
      rows.push_back({n.substr(0, colon), n.substr(colon + 1), image->manifest.config.digest.shortId(),
                      image->config.created.substr(0, 19), fmt::format("{:.1f} MB", size / 1e6)});
    }
  }
  if (flags.quiet) return 0;
  if (flags.format == "json") {
    std::printf("%s\n", oci::prettyJson(json).c_str());
    return 0;
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line += i + 1 < row.size() ? fmt::format("{:<{}}", row[i], widths[i] + 3) : row[i];
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int inspectImage() {
  auto store = openStore();
  if (!store) return printError(store.error());
  auto record = store->resolve(flags.ref);
  if (!record) return printError(record.error());
  auto image = store->load(*record);
  if (!image) return printError(image.error());
  const auto& c = image->config;
  boost::json::array layers;
  for (const auto& l : image->manifest.layers)
    layers.push_back({{"digest", l.digest.str()}, {"mediaType", l.mediaType}, {"size", l.size},
                      {"path", store->layerDir(l.digest)}});
  boost::json::object config{{"Env", boost::json::value_from(c.env)},
                             {"WorkingDir", c.workingDir}, {"User", c.user},
                             {"StopSignal", c.stopSignal}, {"Labels", boost::json::value_from(c.labels)}};
  if (c.entrypoint) config["Entrypoint"] = boost::json::value_from(*c.entrypoint);
  if (c.cmd) config["Cmd"] = boost::json::value_from(*c.cmd);
  boost::json::object out{{"Id", image->manifest.config.digest.str()}, {"Digest", record->manifest.str()},
                          {"Names", boost::json::value_from(record->names)}, {"Created", c.created},
                          {"Os", c.os}, {"Architecture", c.architecture},
                          {"Size", *imageSize(*store, *image)}, {"Config", config}, {"Layers", layers}};
  std::printf("%s\n", oci::prettyJson(out).c_str());
  return 0;
}

// Mounts the image's overlay at <bundle>/rootfs and writes <bundle>/config.json.
Status prepareBundle(images::ImageStore& store, const std::string& ref, const std::string& id,
                     const std::string& bundle) {
  TRY_ASSIGN(auto record, resolveOrPull(store, ref));
  TRY_ASSIGN(auto image, store.load(record));
  images::RunOverrides o;
  o.args = flags.args;
  o.env = flags.env;
  o.cpus = flags.cpus;
  o.hostname = id.substr(0, 63);
  if (!flags.memory.empty()) {
    TRY_ASSIGN(o.memoryBytes, images::parseMemory(flags.memory));
  }
  TRY(images::processArgs(image.config, o.args));
  TRY(fs::makeDirs(bundle + "/rootfs"));
  TRY(store.mountRootfs(image, id, bundle + "/rootfs"));
  auto finish = [&]() -> Status {
    TRY_ASSIGN(auto user, images::resolveUserInRootfs(image.config.user, bundle + "/rootfs"));
    TRY_ASSIGN(std::string json, images::bundleConfigJson(image.config, user, o));
    TRY(fs::writeFileAtomic(bundle + "/config.json", json, 0644, fs::Durability::Volatile));
    return fs::writeFileAtomic(bundle + "/nucleo-image.id", id + "\n", 0644, fs::Durability::Volatile);
  };
  auto s = finish();
  if (!s) (void)store.unmountRootfs(id);
  return s;
}

void addImageFlagsForRun(CLI::App* cmd) {
  cmd->add_option("-e,--env", flags.env, "KEY=VALUE (or KEY: the host's), repeatable")->allow_extra_args(false);
  cmd->add_option("--memory", flags.memory, "memory limit (bytes, or 64m, 1g)");
  cmd->add_option("--cpus", flags.cpus, "CPU limit, e.g. 0.5");
}

void addPullFlags(CLI::App* cmd) {
  cmd->add_flag("--insecure", flags.insecure, "HTTPS without certificate checks, else plain HTTP (loopback registries fall back to HTTP anyway)");
  cmd->add_option("--creds", flags.creds, "docker config.json-style credentials file");
}

}  // namespace

void Commands::addImages(CLI::App& app) {
  flags.store = defaultStore();
  auto* image = app.add_subcommand("image", "manage OCI images (import, pull, ls, inspect, rm, prune, bundle)");
  image->require_subcommand(1);
  image->add_option("--store", flags.store, "image store directory ($NUCLEO_IMAGE_STORE)")
      ->capture_default_str();

  auto* import = image->add_subcommand("import", "import an OCI layout (dir or tar) or docker save archive");
  import->add_option("path", flags.path)->required();
  import->add_option("ref", flags.ref, "name:tag to give the image");
  import->callback([this] {
    action_ = [this] {
      auto store = openStore();
      if (!store) return report(std::move(store).error());
      auto r = images::importImage(*store, flags.path, flags.ref, progress());
      if (!r) return report(std::move(r).error());
      std::printf("%s\n", r->manifest.str().c_str());
      return 0;
    };
  });

  auto* pullCmd = image->add_subcommand("pull", "pull an image from a registry (OCI distribution API)");
  pullCmd->add_option("ref", flags.ref, "[host[:port]/]repository[:tag|@sha256:...]")->required();
  addPullFlags(pullCmd);
  pullCmd->callback([this] {
    action_ = [this] {
      auto store = openStore();
      if (!store) return report(std::move(store).error());
      auto r = pull(*store, flags.ref);
      if (!r) return report(std::move(r).error());
      std::printf("%s\n", r->str().c_str());
      return 0;
    };
  });

  auto* ls = image->add_subcommand("ls", "list images");
  ls->alias("list");
  ls->add_option("--format", flags.format)->check(CLI::IsMember({"table", "json"}));
  ls->add_flag("-q,--quiet", flags.quiet, "only image ids");
  ls->callback([this] { action_ = [] { return listImages(); }; });

  auto* inspect = image->add_subcommand("inspect", "print an image's config, layers and names (JSON)");
  inspect->add_option("ref", flags.ref)->required();
  inspect->callback([this] { action_ = [] { return inspectImage(); }; });

  auto* rm = image->add_subcommand("rm", "remove image names (and the image with its last name)");
  rm->add_option("ref", flags.refs)->required();
  rm->callback([this] {
    action_ = [this] {
      auto store = openStore();
      if (!store) return report(std::move(store).error());
      for (const auto& ref : flags.refs)
        if (auto s = store->remove(ref); !s) return report(s);
      return 0;
    };
  });

  auto* prune = image->add_subcommand("prune", "remove unnamed images and unused blobs and layers");
  prune->callback([this] {
    action_ = [this] {
      auto store = openStore();
      if (!store) return report(std::move(store).error());
      auto r = store->prune();
      if (!r) return report(std::move(r).error());
      for (const auto& d : r->images) std::printf("deleted image %s\n", d.str().c_str());
      std::printf("removed %zu blobs, %zu layers, %.1f MB\n", r->blobs.size(), r->layers.size(),
                  static_cast<double>(r->bytes) / 1e6);
      return 0;
    };
  });

  auto* bundle = image->add_subcommand("bundle", "write a runnable OCI bundle: config.json + overlay rootfs/");
  bundle->add_option("ref", flags.ref)->required();
  bundle->add_option("dir", flags.dir)->required();
  bundle->add_option("--name", flags.name, "id of the bundle's rootfs in the store (default: random)");
  addImageFlagsForRun(bundle);
  bundle->add_option("command", flags.args, "replaces the image's Cmd");
  addPullFlags(bundle);
  bundle->callback([this] {
    action_ = [this] {
      auto store = openStore();
      if (!store) return report(std::move(store).error());
      std::string id = flags.name.empty() ? randomId() : flags.name;
      if (auto s = prepareBundle(*store, flags.ref, id, flags.dir); !s) return report(s);
      std::printf("%s\n", id.c_str());
      return 0;
    };
  });

  auto* unbundle = image->add_subcommand("unbundle", "unmount a bundle's rootfs and drop its changes");
  unbundle->add_option("dir", flags.dir)->required();
  unbundle->callback([this] {
    action_ = [this] {
      auto store = openStore();
      if (!store) return report(std::move(store).error());
      auto id = fs::readFile(flags.dir + "/nucleo-image.id");
      if (!id) return report(std::move(id).error().context("'{}' is not an image bundle", flags.dir));
      std::string trimmed(strings::trim(*id));
      if (auto s = store->unmountRootfs(trimmed); !s) return report(s);
      ::unlink((flags.dir + "/nucleo-image.id").c_str());
      return 0;
    };
  });

  // `run --image REF [-- CMD...]`: the positional id becomes optional and,
  // with --image, is the first word of the command (the id is --name).
  auto* run = app.get_subcommand("run");
  run->get_option("id")->required(false);
  run->add_option("command", flags.args, "with --image: the command, replacing the image's Cmd");
  run->add_option("--image", flags.ref, "run this image (from the image store)");
  run->add_option("--name", flags.name, "with --image: the container id (default: random)");
  run->add_option("--image-store", flags.store, "with --image: the image store directory");
  run->add_flag("--rm", flags.rm, "with --image: accepted; the container and its rootfs changes are always removed");
  addImageFlagsForRun(run);
  addPullFlags(run);
  run->add_option("--pull", flags.pull, "with --image: pull never, when missing (default), or always")
      ->check(CLI::IsMember({"never", "missing", "always"}));
  run->callback([this] {
    sealed_ = true;
    if (flags.ref.empty()) {
      action_ = [this] {
        if (!flags.args.empty()) return report(Error::make("run: unexpected arguments after the id (use --image)"));
        return runBundle();
      };
      return;
    }
    action_ = [this] { return runImage(); };
  });
}

int Commands::runImage() {
  if (detach_) return report(Error::make("run --image: --detach is not supported yet"));
  if (!create_.id.empty()) flags.args.insert(flags.args.begin(), create_.id);
  auto store = openStore();
  if (!store) return report(std::move(store).error());
  std::string id = flags.name.empty() ? randomId() : flags.name;
  std::string bundle = store->root() + "/bundles/" + id;
  if (fs::exists(bundle)) return report(Error::make("run --image: container '{}' already exists", id));
  if (auto s = prepareBundle(*store, flags.ref, id, bundle); !s) {
    (void)fs::removeAll(bundle);
    return report(s);
  }
  create_.id = id;
  create_.bundle = bundle;
  auto code = runtime().run(create_, false);
  auto cleanup = store->unmountRootfs(id);
  if (cleanup) cleanup = fs::removeAll(bundle);
  if (!code) return report(std::move(code).error());
  if (!cleanup) return report(cleanup);
  return *code;
}

}  // namespace nucleo::cli
