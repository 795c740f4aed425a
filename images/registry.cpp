#include "images/registry.hpp"

#include <cctype>

#include "base/fs.hpp"
#include "images/manifest.hpp"
#include "oci/json_reader.hpp"

namespace nucleo::images {

Result<std::map<std::string, Credentials>> parseAuthConfig(std::string_view json, std::string_view what) {
  TRY_ASSIGN(auto doc, oci::parseJson(json, what));
  oci::JsonField root(&doc, "");
  std::map<std::string, Credentials> out;
  auto parse = [&]() -> Status {
    TRY_ASSIGN(auto auths, root.member("auths"));
    TRY_ASSIGN(auto entries, auths.members());
    for (const auto& [key, entry] : entries) {
      Credentials c;
      TRY_ASSIGN(auto authField, entry.member("auth"));
      TRY_ASSIGN(std::string auth, authField.string());
      if (!auth.empty()) {
        auto decoded = base64Decode(auth);
        if (!decoded) return authField.error(decoded.error().message);
        auto colon = decoded->find(':');
        if (colon == std::string::npos) return authField.error("expected base64 of 'user:password'");
        c.username = decoded->substr(0, colon);
        c.password = decoded->substr(colon + 1);
      } else {
        TRY_ASSIGN(auto user, entry.member("username"));
        TRY_ASSIGN(c.username, user.string());
        TRY_ASSIGN(auto pass, entry.member("password"));
        TRY_ASSIGN(c.password, pass.string());
      }
      if (c.username.empty()) continue;  // an entry for a credential helper
      out[key] = c;
    }
    return ok();
  };
  TRY(parse().context("{}", what));
  return out;
}

Result<std::map<std::string, Credentials>> loadAuthConfig(const std::string& path) {
  TRY_ASSIGN(std::string text, fs::readFile(path));
  return parseAuthConfig(text, "credentials '" + path + "'");
}

// "https://host:5000/v1/" -> "host:5000".
static std::string keyHost(std::string_view key) {
  if (auto sep = key.find("://"); sep != std::string_view::npos) key = key.substr(sep + 3);
  return std::string(key.substr(0, key.find('/')));
}

std::optional<Credentials> findCredentials(const std::map<std::string, Credentials>& auths,
                                           std::string_view host) {
  auto hub = [](std::string_view h) {
    return h == "docker.io" || h == "index.docker.io" || h == "registry-1.docker.io";
  };
  for (const auto& [key, c] : auths) {
    std::string k = keyHost(key);
    if (k == host || (hub(k) && hub(host))) return c;
  }
  return std::nullopt;
}

Result<Challenge> parseChallenge(std::string_view header) {
  size_t i = 0;
  while (i < header.size() && header[i] == ' ') ++i;
  size_t start = i;
  while (i < header.size() && header[i] != ' ') ++i;
  Challenge c;
  for (char ch : header.substr(start, i - start))
    c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (c.scheme.empty()) return Error::make("WWW-Authenticate '{}': no scheme", header);
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    size_t eq = header.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key;
    for (char ch : header.substr(i, eq - i))
      if (ch != ' ') key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      for (++i; i < header.size() && header[i] != '"'; ++i) {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i];
      }
      ++i;
    } else {
      while (i < header.size() && header[i] != ',') value += header[i++];
    }
    c.params[key] = value;
  }
  return c;
}

RegistryLocation locate(const Reference& ref) {
  auto slash = ref.name.find('/');
  if (slash != std::string::npos) {
    std::string first = ref.name.substr(0, slash);
    if (first.find_first_of(".:") != std::string::npos || first == "localhost")
      return {first == "index.docker.io" ? "docker.io" : first, ref.name.substr(slash + 1)};
  }
  std::string repo = slash == std::string::npos ? "library/" + ref.name : ref.name;
  return {"docker.io", repo};
}

bool isLoopbackHost(std::string_view host) {
  if (!host.empty() && host[0] == '[') host = host.substr(1, host.find(']') - 1);
  else if (host.find(':') != host.rfind(':')) {}  // bare IPv6: keep as is
  else host = host.substr(0, host.find(':'));
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

static const char* MANIFEST_ACCEPT =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

RegistryClient::RegistryClient(HttpClient& http, RegistryLocation where, RegistryOptions options)
    : http_(http), where_(std::move(where)), options_(std::move(options)) {
  mayFallBack_ = options_.insecure || isLoopbackHost(endpoint());
  auto url = parseUrl("https://" + endpoint() + "/v2/");
  if (url) base_ = *url;
}

std::string RegistryClient::endpoint() const {
  return where_.host == "docker.io" ? "registry-1.docker.io" : where_.host;
}

// The registry's own words: {"errors":[{"code":"MANIFEST_UNKNOWN","message":..}]}.
static std::string registryError(const HttpResponse& r) {
  std::string out = fmt::format("HTTP {}", r.status);
  auto doc = oci::parseJson(r.body, "error");
  if (!doc) return out;
  oci::JsonField root(&*doc, "");
  auto errors = root.member("errors");
  auto list = errors ? errors->elements() : Result<std::vector<oci::JsonField>>(errors.error());
  if (!list || list->empty()) return out;
  auto code = (*list)[0].member("code");
  auto message = (*list)[0].member("message");
  if (code && code->string()) out += " " + *code->string();
  if (message && message->string() && !message->string()->empty()) out += ": " + *message->string();
  return out;
}

Result<std::string> RegistryClient::fetchToken(const Challenge& c) {
  auto realm = c.params.find("realm");
  if (realm == c.params.end()) return Error::make("{}: Bearer challenge without a realm", where_.host);
  std::string url = realm->second;
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  if (auto s = c.params.find("service"); s != c.params.end()) {
    url += sep + std::string("service=") + urlEncode(s->second);
    sep = '&';
  }
  auto scope = c.params.find("scope");
  url += sep + std::string("scope=") +
         urlEncode(scope != c.params.end() ? scope->second : "repository:" + where_.repository + ":pull");
  TRY_ASSIGN(Url parsed, parseUrl(url));
  HttpRequest req{"GET", parsed, {}, {}};
  if (options_.credentials)
    req.headers.emplace_back("Authorization", "Basic " + base64Encode(options_.credentials->username + ":" +
                                                                      options_.credentials->password));
  TRY_ASSIGN(HttpResponse r, http_.send(req));
  if (r.status != 200)
    return Error::make("{}: token from '{}': {}", where_.host, realm->second, registryError(r));
  TRY_ASSIGN(auto doc, oci::parseJson(r.body, "token response"));
  oci::JsonField root(&doc, "");
  for (const char* key : {"token", "access_token"}) {
    TRY_ASSIGN(auto field, root.member(key));
    TRY_ASSIGN(std::string token, field.string());
    if (!token.empty()) return token;
  }
  return Error::make("{}: token response from '{}' holds no token", where_.host, realm->second);
}

Status RegistryClient::authenticate(const HttpResponse& unauthorized) {
  std::string header = unauthorized.header("www-authenticate");
  TRY_ASSIGN(Challenge c, parseChallenge(header).context("{}: HTTP 401", where_.host));
  if (c.scheme == "bearer") {
    TRY_ASSIGN(std::string token, fetchToken(c));
    authorization_ = "Bearer " + token;
    return ok();
  }
  if (c.scheme != "basic") return Error::make("{}: unsupported authentication scheme '{}'", where_.host, c.scheme);
  if (!options_.credentials)
    return Error::make("{}: authentication required and no credentials for it (use --creds FILE)", where_.host);
  authorization_ = "Basic " + base64Encode(options_.credentials->username + ":" + options_.credentials->password);
  return ok();
}

Result<HttpResponse> RegistryClient::get(const std::string& path, const std::string& accept,
                                         const BodySink& sink) {
  if (base_.host.empty()) return Error::make("registry '{}': invalid host", where_.host);
  Url url = base_;
  url.target = "/v2/" + path;
  bool authenticated = false;
  for (int hop = 0; hop < 8; ++hop) {
    HttpRequest req{"GET", url, {}, {}};
    if (!accept.empty()) req.headers.emplace_back("Accept", accept);
    // Blob storage behind a redirect has its own (signed URL) authorization.
    bool sameHost = url.authority() == base_.authority();
    if (sameHost && !authorization_.empty()) req.headers.emplace_back("Authorization", authorization_);
    auto sent = http_.send(req, sink);
    // A TLS failure that is not about the certificate means the registry
    // speaks plain HTTP; a bad certificate is reported, never bypassed.
    if (!sent && mayFallBack_ && sameHost && sent.error().message.find("certificate") == std::string::npos) {
      mayFallBack_ = false;
      std::string target = url.target;
      TRY_ASSIGN(base_, parseUrl("http://" + endpoint() + "/v2/"));
      url = base_;
      url.target = target;
      continue;
    }
    TRY_ASSIGN(HttpResponse r, std::move(sent));
    mayFallBack_ = false;
    if (r.status == 401 && sameHost && !authenticated) {
      TRY(authenticate(r));
      authenticated = true;
      continue;
    }
    if (r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308) {
      std::string location = r.header("location");
      if (location.empty()) return Error::make("GET {}: redirect without a Location", url.str());
      TRY_ASSIGN(url, resolveUrl(url, location));
      continue;
    }
    if (r.status == 401 && authenticated)
      return Error::make("GET {}: HTTP 401: the registry refused the credentials", url.str());
    if (r.status == 401)
      return Error::make("GET {}: HTTP 401 from {}", url.str(), url.authority());
    if (r.status != 200) return Error::make("GET {}: {}", url.str(), registryError(r));
    return r;
  }
  return Error::make("GET {}: too many redirects", url.str());
}

static std::string mediaTypeOf(const HttpResponse& r, std::string_view body) {
  std::string type = r.header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (isIndexMediaType(type) || isManifestMediaType(type)) return type;
  // Some registries answer application/json: the document names itself.
  auto doc = oci::parseJson(body, "manifest");
  if (!doc) return type;
  oci::JsonField root(&*doc, "");
  auto field = root.member("mediaType");
  auto inner = field ? field->string() : Result<std::string>(field.error());
  if (inner && !inner->empty()) return *inner;
  auto manifests = root.member("manifests");
  if (manifests && manifests->present()) return MEDIA_OCI_INDEX;
  return type;
}

Result<FetchedManifest> RegistryClient::manifest(std::string_view tagOrDigest) {
  TRY_ASSIGN(HttpResponse r,
             get(where_.repository + "/manifests/" + std::string(tagOrDigest), MANIFEST_ACCEPT, {}));
  FetchedManifest out{mediaTypeOf(r, r.body), std::move(r.body), {}};
  out.digest = sha256Of(out.bytes);
  std::string expected = tagOrDigest.rfind("sha256:", 0) == 0 ? std::string(tagOrDigest)
                                                               : r.header("docker-content-digest");
  if (!expected.empty() && expected != out.digest.str())
    return Error::make("manifest '{}': digest mismatch: expected {}, got {}", tagOrDigest, expected,
                       out.digest.str());
  return out;
}

Status RegistryClient::blob(const Digest& digest, const BodySink& sink) {
  TRY(get(where_.repository + "/blobs/" + digest.str(), "", sink));
  return ok();
}

}  // namespace nucleo::images
