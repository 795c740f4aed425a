// nucleo-bench-image: the image rows of the benchmark.
//   unpack   the test image's three layers: nucleo's unpackLayer (in process,
//            no fsync), `tar -xf` of the same layer files, `umoci unpack`
//   import   `nucleo image import` of the 3-layer layout + first `run --image`
//   run      `nucleo run --image busybox -- true` per further container,
//            beside `nucleo run -b` of a bundle whose overlay is already
//            mounted (the difference is the image cost: overlay, config)
//   podman   `podman run --rm` of the same image when podman is installed
//   pull     `nucleo image pull` of the 3-layer image from a docker-registry
//            on loopback (into an empty store: fetch, verify, unpack),
//            beside `skopeo copy` of it to an OCI layout (fetch only)
// Usage: nucleo-bench-image [--runs N] [--images DIR] [--nucleo PATH]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "base/unique_fd.hpp"
#include "images/layer_unpack.hpp"

using namespace nucleo;

static double millis(const std::function<bool()>& f, bool* ok) {
  auto start = std::chrono::steady_clock::now();
  *ok = f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

static bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

static void row(const std::string& name, int runs, const std::function<bool()>& body,
                const std::function<void()>& reset = {}) {
  std::vector<double> times;
  int fail = 0;
  for (int i = 0; i < runs; ++i) {
    if (reset) reset();
    bool ok = false;
    double t = millis(body, &ok);
    if (ok) times.push_back(t); else ++fail;
  }
  std::sort(times.begin(), times.end());
  if (times.empty()) {
    std::printf("%-44s %5d %5d %10s\n", name.c_str(), runs, fail, "-");
    return;
  }
  std::printf("%-44s %5d %5d %10.1f %10.1f %10.1f\n", name.c_str(), runs, fail,
              times[times.size() / 2], times.front(), times.back());
}

// A docker-registry child on 127.0.0.1:<port> holding the test image.
static pid_t startRegistry(const std::string& dir, int port) {
  (void)fs::makeDirs(dir);
  std::string config = "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: " +
                       dir + "/data\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port) + "\n";
  (void)fs::writeFileAtomic(dir + "/config.yml", config);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execl("/usr/bin/docker-registry", "docker-registry", "serve", (dir + "/config.yml").c_str(), nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 100; ++i, ::usleep(50000)) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (up) break;
  }
  return pid;
}

static void pullRows(const std::string& work, const std::string& imagesDir, const std::string& nucleo, int runs) {
  if (!fs::exists("/usr/bin/docker-registry") || !fs::exists("/usr/bin/skopeo")) {
    std::printf("%-44s (docker-registry or skopeo not installed)\n", "pull: nucleo image pull");
    return;
  }
  int port = 35000 + ::getpid() % 20000;
  std::string host = "127.0.0.1:" + std::to_string(port);
  pid_t registry = startRegistry(work + "/registry", port);
  if (sh("skopeo copy --dest-tls-verify=false oci:" + imagesDir + "/busybox-oci:latest docker://" + host + "/busybox:latest")) {
    std::string store = work + "/pull-store";
    row("pull 3-layer image: nucleo image pull", runs,
        [&] { return sh(nucleo + " image --store " + store + " pull " + host + "/busybox"); },
        [&] { (void)fs::removeAll(store); });
    std::string layout = work + "/pull-layout";
    row("pull 3-layer image: skopeo copy to oci:", runs,
        [&] { return sh("skopeo copy --src-tls-verify=false docker://" + host + "/busybox oci:" + layout + ":latest"); },
        [&] { (void)fs::removeAll(layout); });
  } else {
    std::printf("%-44s (skopeo could not push the test image)\n", "pull: nucleo image pull");
  }
  ::kill(registry, SIGTERM);
  ::waitpid(registry, nullptr, 0);
}

int main(int argc, char** argv) {
  int runs = 10;
  std::string imagesDir = NUCLEO_TEST_IMAGES, nucleo = NUCLEO_BIN;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
    if (a == "--images") imagesDir = argv[i + 1];
    if (a == "--nucleo") nucleo = argv[i + 1];
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "nucleo-bench-image: needs root (owners, overlay, containers)\n");
    return 77;
  }
  std::string work = "/var/tmp/nucleo-bench-image";
  (void)fs::removeAll(work);
  (void)fs::makeDirs(work);
  std::printf("%-44s %5s %5s %10s %10s %10s\n", "case (ms)", "runs", "fail", "median", "min", "max");
  const std::vector<std::string> layers = {"l1.tar.gz", "l2.tar.zst", "l3.tar"};
  std::string out = work + "/out";
  auto clean = [&] { (void)fs::removeAll(out); (void)fs::makeDirs(out); };

  row("unpack 3 layers: nucleo unpackLayer", runs, [&] {
    for (const auto& l : layers) {
      auto fd = UniqueFd::open(imagesDir + "/" + l, O_RDONLY);
      auto dir = UniqueFd::open(out, O_RDONLY | O_DIRECTORY);
      if (!fd || !dir || !images::unpackLayer(fd->get(), dir->get(), {}, l)) return false;
    }
    return true;
  }, clean);
  row("unpack 3 layers: tar -xf", runs, [&] {
    for (const auto& l : layers)
      if (!sh("tar -C " + out + " -xf " + imagesDir + "/" + l)) return false;
    return true;
  }, clean);
  clean();
  bool umociReads = sh("umoci unpack --image " + imagesDir + "/busybox-oci:latest " + out + "/b");
  if (sh("command -v umoci") && !umociReads)
    std::printf("%-44s (this umoci cannot read the tar+zstd layer)\n", "unpack image: umoci unpack");
  else if (umociReads)
    row("unpack image: umoci unpack", runs, [&] {
      return sh("umoci unpack --image " + imagesDir + "/busybox-oci:latest " + out + "/b");
    }, clean);
  else
    std::printf("%-44s (umoci not installed)\n", "unpack image: umoci unpack");

  std::string store = work + "/store";
  std::string img = nucleo + " image --store " + store;
  std::string run = nucleo + " run --image-store " + store;
  row("import 3-layer image + first run --image", runs, [&] {
    return sh(img + " import " + imagesDir + "/busybox-oci busybox") &&
           sh(run + " --image busybox -- true");
  }, [&] { (void)fs::removeAll(store); });
  row("further container: run --image -- true", runs, [&] { return sh(run + " --image busybox -- true"); });
  std::string bundle = work + "/bundle";
  if (sh(img + " bundle busybox " + bundle + " --name bench-b -- true")) {
    int n = 0;
    row("plain bundle start: run -b (overlay ready)", runs,
        [&] { return sh(nucleo + " run -b " + bundle + " bench-" + std::to_string(n++)); });
    sh(img + " unbundle " + bundle);
  }
  // podman gets the same image from the build's `docker save` archive (no
  // network here) and runs it with runc (its default crun refuses this
  // host's hybrid cgroups) and rlimits this host lets it set.
  if (sh("command -v podman") &&
      sh("podman load -q -i " + imagesDir + "/busybox-docker.tar >/dev/null 2>&1"))
    row("podman run --rm busybox true", runs,
        [&] { return sh("podman run --rm --runtime runc --network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 busybox-docker true"); });
  else
    std::printf("%-44s (podman not installed)\n", "podman run --rm busybox true");
  pullRows(work, imagesDir, nucleo, runs);
  (void)fs::removeAll(work);
  return 0;
}
