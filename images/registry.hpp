#pragma once
// The client side of the OCI distribution API (Docker Registry HTTP API v2):
// where a reference lives, credentials from a docker config.json, the
// WWW-Authenticate challenge (Bearer token or Basic), manifests and blobs.
// All network I/O goes through HttpClient.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "images/digest.hpp"
#include "images/http_client.hpp"
#include "images/reference.hpp"

namespace nucleo::images {

struct Credentials {
  std::string username, password;
};

// Registry host -> credentials, from docker's config.json format:
// {"auths": {"host[:port]": {"auth": base64("user:pass")} or
// {"username": .., "password": ..}}}. Keys may be URLs ("https://host/v1/").
// Errors name `what` and the entry.
Result<std::map<std::string, Credentials>> parseAuthConfig(std::string_view json, std::string_view what);
// Reads and parses the file at `path`.
Result<std::map<std::string, Credentials>> loadAuthConfig(const std::string& path);
// The credentials for `host` (docker.io also matches index.docker.io keys).
std::optional<Credentials> findCredentials(const std::map<std::string, Credentials>& auths,
                                           std::string_view host);

// A parsed WWW-Authenticate header: `Bearer realm="..",service="..",scope=".."`.
struct Challenge {
  std::string scheme;  // lowercase: "bearer" or "basic"
  std::map<std::string, std::string> params;
};

// Parses the first challenge of a WWW-Authenticate value. Error when empty.
Result<Challenge> parseChallenge(std::string_view header);

// Where a reference lives: "localhost:5000/a/b:1" is host "localhost:5000",
// repository "a/b"; a name with no host is Docker Hub's ("docker.io",
// "library/busybox" for one-word names).
struct RegistryLocation {
  std::string host, repository;
};
// Splits a parsed reference into registry host and repository; never fails.
RegistryLocation locate(const Reference& ref);

// True for localhost, 127.0.0.0/8 and ::1 (with or without a port): like
// --insecure registries, these may fall back to plain HTTP (as docker does).
bool isLoopbackHost(std::string_view host);

// How to reach a registry: transport security and who we are.
struct RegistryOptions {
  // HTTPS without certificate checks, falling back to plain HTTP when the
  // registry does not speak TLS.
  bool insecure = false;
  std::optional<Credentials> credentials;
};

// A manifest or index as the registry sent it, its digest checked.
struct FetchedManifest {
  std::string mediaType;
  std::string bytes;
  Digest digest;
};

// One repository on one registry. Remembers the authorization it obtained,
// so a pull authenticates once. Not thread-safe.
class RegistryClient {
 public:
  // `http` must outlive the client.
  RegistryClient(HttpClient& http, RegistryLocation where, RegistryOptions options);

  // GET /v2/<repo>/manifests/<tagOrDigest>, accepting OCI and Docker v2
  // schema 2 manifests and indexes. The bytes must hash to the digest asked
  // for (or to the Docker-Content-Digest the registry announced). Errors name
  // the status and the registry's error code.
  Result<FetchedManifest> manifest(std::string_view tagOrDigest);
  // GET /v2/<repo>/blobs/<digest>, following redirects (without our
  // Authorization when the host changes), the body streamed into `sink`.
  Status blob(const Digest& digest, const BodySink& sink);

  // The registry host and repository this client talks to.
  const RegistryLocation& location() const { return where_; }

 private:
  Result<HttpResponse> get(const std::string& path, const std::string& accept, const BodySink& sink);
  Status authenticate(const HttpResponse& unauthorized);
  Result<std::string> fetchToken(const Challenge& challenge);
  std::string endpoint() const;  // host[:port] to connect to

  HttpClient& http_;
  RegistryLocation where_;
  RegistryOptions options_;
  Url base_;
  std::string authorization_;
  // HTTPS first; plain HTTP if the first exchange fails below HTTP.
  bool mayFallBack_ = false;
};

}  // namespace nucleo::images
