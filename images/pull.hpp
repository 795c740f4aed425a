#pragma once
// `nucleo image pull`: an image from a registry into the store. Blobs stream
// from the network into BlobWriter (digest and size checked before anything
// is published), each under a per-blob lock file so that concurrent pulls of
// the same layer fetch and unpack it once. The image is named only when all
// of its blobs and layers are in place; a failed pull takes back the blobs it
// added, and a killed one leaves only its O_TMPFILE, which the kernel drops.

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "images/http_client.hpp"
#include "images/manifest.hpp"
#include "images/store.hpp"

namespace nucleo::images {

struct PullOptions {
  // HTTPS without certificate checks, or plain HTTP, for a registry that is
  // not on loopback (loopback ones get the HTTP fallback anyway).
  bool insecure = false;
  // PEM CA bundle for the registry's certificate; empty: see HttpClientOptions.
  std::string caFile;
  // A docker config.json-style credentials file; empty: none.
  std::string credsFile;
  // The image of a multi-platform index to take.
  Platform platform = hostPlatform();
  // The transport; null means makeHttpClient() (tests pass a fake).
  HttpClient* http = nullptr;
};

struct PullResult {
  Digest manifest;
  std::string name;         // what the store now calls it ("host/repo:tag")
  uint64_t downloaded = 0;  // blob bytes fetched (0 when all were present)
};

// Pulls `ref` ("host[:port]/repo[:tag|@sha256:..]"; no host means
// docker.io) into `store` and names it. Errors are one line naming the
// reference and the blob: "pull '127.0.0.1:5000/busybox:latest': layer 2/3
// sha256:..: ...". On error the store is as it was.
Result<PullResult> pullImage(ImageStore& store, std::string_view ref, const PullOptions& options = {},
                             const Progress& progress = {});

}  // namespace nucleo::images
