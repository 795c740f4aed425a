#pragma once
// Test helpers: tar layers written with libarchive, OCI layouts on disk.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/fs.hpp"
#include "images/digest.hpp"

namespace nucleo::images::test {

struct TarEntry {
  TarEntry(std::string n, mode_t t = AE_IFREG, std::string c = "", mode_t p = 0644,
           bool h = false, std::vector<std::pair<std::string, std::string>> x = {})
      : name(std::move(n)), type(t), content(std::move(c)), perm(p), hardlink(h), xattrs(std::move(x)) {}
  std::string name;
  mode_t type = AE_IFREG;
  std::string content;  // file data, or symlink/hardlink target
  mode_t perm = 0644;
  bool hardlink = false;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// A tar (filter "gzip", "zstd" or "") of `entries`.
inline std::string makeTar(const std::vector<TarEntry>& entries, const std::string& filter = "") {
  std::vector<char> buffer(64 << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_open_memory(a, buffer.data(), buffer.size(), &used);
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_mtime(e, 1700000000, 0);
    for (const auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    if (t.hardlink) {
      archive_entry_set_hardlink(e, t.content.c_str());
      archive_entry_set_size(e, 0);
    } else if (t.type == AE_IFLNK) {
      archive_entry_set_symlink(e, t.content.c_str());
    } else if (t.type == AE_IFREG) {
      archive_entry_set_size(e, static_cast<la_int64_t>(t.content.size()));
    }
    archive_write_header(a, e);
    if (t.type == AE_IFREG && !t.hardlink) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buffer.data(), used);
}

inline std::string tempDir() {
  char tmpl[] = "/tmp/nucleo-images-test-XXXXXX";
  return ::mkdtemp(tmpl);
}

// Writes an OCI layout at `dir` with one image of `layers` (media type from
// each pair's first), ref.name `tag`. Returns the manifest digest.
inline Digest writeLayout(const std::string& dir,
                          const std::vector<std::pair<std::string, std::string>>& layers,
                          const std::string& tag, const std::string& configJson = "") {
  (void)fs::makeDirs(dir + "/blobs/sha256");
  auto put = [&](const std::string& bytes) {
    Digest d = sha256Of(bytes);
    (void)fs::writeFileAtomic(dir + "/blobs/sha256/" + d.hex, bytes);
    return d;
  };
  std::string config = configJson.empty()
      ? R"({"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sh"],"Cmd":["-c","true"],"Env":["A=1"],"WorkingDir":"/w","User":"user"},"rootfs":{"type":"layers","diff_ids":[]}})"
      : configJson;
  Digest configDigest = put(config);
  boost::json::array layerDescs;
  for (const auto& [type, bytes] : layers)
    layerDescs.push_back({{"mediaType", type}, {"digest", put(bytes).str()}, {"size", bytes.size()}});
  boost::json::object manifest{{"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", configDigest.str()}, {"size", config.size()}}},
      {"layers", layerDescs}};
  std::string manifestBytes = boost::json::serialize(manifest);
  Digest m = put(manifestBytes);
  boost::json::object index{{"schemaVersion", 2},
      {"manifests", boost::json::array{{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                        {"digest", m.str()}, {"size", manifestBytes.size()},
                                        {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  (void)fs::writeFileAtomic(dir + "/index.json", boost::json::serialize(index));
  (void)fs::writeFileAtomic(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  return m;
}

}  // namespace nucleo::images::test
