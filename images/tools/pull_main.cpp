// nucleo-pull: `nucleo image pull` and `run --image --pull` run this helper,
// so that TLS and HTTP (OpenSSL, Beast) stay out of the `nucleo` binary that
// starts every container. Not meant to be run by hand.
//
//   nucleo-pull --store DIR [--insecure] [--creds FILE] REF
// stdout: "ok sha256:<manifest digest>" or "error <one line>"; progress lines
// go to stderr when it is a terminal.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "images/pull.hpp"
#include "images/store.hpp"

int main(int argc, char** argv) {
  using namespace nucleo;
  std::string store, creds, ref;
  bool insecure = false;
  CLI::App app{"nucleo-pull: fetch an image into the nucleo image store", "nucleo-pull"};
  app.add_option("--store", store)->required();
  app.add_option("--creds", creds);
  app.add_flag("--insecure", insecure);
  app.add_option("ref", ref)->required();
  CLI11_PARSE(app, argc, argv);
  auto fail = [](const Error& e) {
    std::printf("error %s\n", e.message.c_str());
    return 1;
  };
  auto opened = images::ImageStore::open(store);
  if (!opened) return fail(opened.error());
  images::PullOptions options;
  options.insecure = insecure;
  options.credsFile = creds;
  images::Progress progress;
  if (::isatty(STDERR_FILENO))
    progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  auto result = images::pullImage(*opened, ref, options, progress);
  if (!result) return fail(result.error());
  std::printf("ok %s\n", result->manifest.str().c_str());
  return 0;
}
