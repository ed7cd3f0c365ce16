#include "image/registry_auth.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/digest.h"
#include "image/http.h"
#include "nlohmann/json.hpp"

namespace crius::image {
namespace {

constexpr absl::Duration kDefaultTokenLifetime = absl::Seconds(60);

// "https://index.docker.io/v1/" -> "docker.io"; "HTTP://Host:5000" -> "host:5000".
std::string NormalizeAuthKey(std::string_view key) {
  std::string k = absl::AsciiStrToLower(AbslView(key));
  if (size_t p = k.find("://"); p != std::string::npos) k.erase(0, p + 3);
  if (size_t slash = k.find('/'); slash != std::string::npos) k.resize(slash);
  if (k == "index.docker.io" || k == "registry-1.docker.io") k = "docker.io";
  return k;
}

std::string JsonString(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The first registry error message in a JSON error body, else a bounded
// piece of the raw body.
std::string BodySnippet(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (std::string m = JsonString(j, "error_description"); !m.empty()) return m;
    if (std::string m = JsonString(j, "details"); !m.empty()) return m;
    if (std::string m = JsonString(j, "error"); !m.empty()) return m;
  }
  return body.substr(0, 200);
}

absl::StatusOr<AuthAnswer> ParseTokenResponse(const HttpResponse& resp, const std::string& realm) {
  nlohmann::json j = nlohmann::json::parse(resp.body, nullptr, false);
  if (!j.is_object()) {
    return absl::UnavailableError(absl::StrCat("token server ", RedactUrl(realm), ": response is not JSON"));
  }
  std::string token = JsonString(j, "token");
  if (token.empty()) token = JsonString(j, "access_token");
  if (token.empty()) {
    return absl::UnavailableError(absl::StrCat("token server ", RedactUrl(realm), ": no token in response"));
  }
  absl::Duration lifetime = kDefaultTokenLifetime;
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
    lifetime = std::max(kDefaultTokenLifetime, absl::Seconds(it->get<int64_t>()));
  }
  // Stop reusing a token a little before the server says it expires, so a
  // request never goes out with one that dies on the way.
  return AuthAnswer{absl::StrCat("Bearer ", token), absl::Now() + lifetime * 0.9};
}

absl::Status TokenServerError(const HttpResponse& resp, const std::string& realm) {
  std::string msg = absl::StrCat("token server ", RedactUrl(realm), " answered ", resp.status, ": ",
                                 BodySnippet(resp.body));
  if (resp.status == 401) return absl::UnauthenticatedError(msg);
  if (resp.status == 403) return absl::PermissionDeniedError(msg);
  if (resp.status == 429) return absl::ResourceExhaustedError(msg);
  return absl::UnavailableError(msg);
}

absl::StatusOr<AuthAnswer> RequestToken(const Challenge& ch, const std::string& scope,
                                        const Credentials& creds, const AuthTransport& transport) {
  auto realm_it = ch.params.find("realm");
  if (realm_it == ch.params.end() || realm_it->second.empty()) {
    return absl::UnauthenticatedError("registry sent a Bearer challenge without a realm");
  }
  const std::string& realm = realm_it->second;
  auto service_it = ch.params.find("service");
  std::string service = service_it != ch.params.end() ? service_it->second : "";
  auto scope_it = ch.params.find("scope");
  std::string want_scope = scope_it != ch.params.end() && !scope_it->second.empty() ? scope_it->second : scope;

  HttpRequest req;
  req.verify_tls = transport.verify_tls;
  if (!transport.ca_file.empty() && UrlOrigin(realm) == transport.ca_file_origin) req.ca_file = transport.ca_file;
  req.connect_timeout = transport.connect_timeout;
  req.progress_timeout = transport.progress_timeout;
  req.user_agent = transport.user_agent;
  req.max_body = size_t{1} << 20;
  if (!creds.identity_token.empty()) {
    // OAuth2 refresh-token grant, as the Docker token protocol defines for
    // identity tokens.
    req.method = "POST";
    req.url = realm;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = absl::StrCat("grant_type=refresh_token&client_id=crius&refresh_token=",
                            UrlEscape(creds.identity_token), "&service=", UrlEscape(service),
                            "&scope=", UrlEscape(want_scope));
  } else {
    req.url = absl::StrCat(realm, absl::StrContains(realm, "?") ? "&" : "?",
                           "service=", UrlEscape(service), "&scope=", UrlEscape(want_scope));
    if (!creds.username.empty()) {
      req.headers.push_back(
          absl::StrCat("Authorization: Basic ", Base64Encode(absl::StrCat(creds.username, ":", creds.password))));
    }
  }
  absl::StatusOr<HttpResponse> resp = HttpDo(req);
  if (!resp.ok()) return Annotate(resp.status(), "request registry token");
  if (resp->status != 200) return TokenServerError(*resp, realm);
  return ParseTokenResponse(*resp, realm);
}

}  // namespace

absl::Status NormalizeCredentials(Credentials* creds) {
  if (!creds->username.empty() || creds->auth.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> decoded = Base64Decode(creds->auth);
  size_t colon = decoded.ok() ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("auth is not base64 of \"username:password\"");
  }
  creds->username = decoded->substr(0, colon);
  creds->password = decoded->substr(colon + 1);
  return absl::OkStatus();
}

absl::StatusOr<Credentials> LookupAuthFile(const std::string& path, std::string_view registry_host) {
  absl::StatusOr<std::string> data = ReadFile(path, size_t{1} << 20);
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) return Credentials{};
    return Annotate(data.status(), "read auth file");
  }
  nlohmann::json j = nlohmann::json::parse(*data, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat("auth file ", path, ": not a JSON object"));
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return Credentials{};
  const std::string want = NormalizeAuthKey(registry_host);
  for (const auto& [key, entry] : auths->items()) {
    if (NormalizeAuthKey(key) != want || !entry.is_object()) continue;
    Credentials c;
    c.auth = JsonString(entry, "auth");
    c.username = JsonString(entry, "username");
    c.password = JsonString(entry, "password");
    c.identity_token = JsonString(entry, "identitytoken");
    c.registry_token = JsonString(entry, "registrytoken");
    absl::Status s = NormalizeCredentials(&c);
    if (!s.ok()) return Annotate(s, absl::StrCat("auth file ", path, " entry ", key));
    return c;
  }
  return Credentials{};
}

std::vector<Challenge> ParseWwwAuthenticate(std::string_view h) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto skip = [&](std::string_view set) {
    while (i < h.size() && set.find(h[i]) != std::string_view::npos) ++i;
  };
  while (i < h.size()) {
    skip(" \t,");
    size_t start = i;
    while (i < h.size() && h[i] != '=' && h[i] != ' ' && h[i] != '\t' && h[i] != ',') ++i;
    if (i == start) break;
    std::string word = absl::AsciiStrToLower(AbslView(h.substr(start, i - start)));
    skip(" \t");
    if (i < h.size() && h[i] == '=' && !out.empty()) {
      ++i;
      skip(" \t");
      std::string value;
      if (i < h.size() && h[i] == '"') {
        for (++i; i < h.size() && h[i] != '"'; ++i) {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value.push_back(h[i]);
        }
        ++i;  // closing quote
      } else {
        size_t vstart = i;
        while (i < h.size() && h[i] != ',' && h[i] != ' ') ++i;
        value = std::string(h.substr(vstart, i - vstart));
      }
      out.back().params[word] = value;
    } else {
      out.push_back(Challenge{word, {}});
    }
  }
  return out;
}

absl::StatusOr<AuthAnswer> AnswerChallenge(const std::vector<Challenge>& challenges,
                                           const std::string& scope, const Credentials& creds,
                                           const AuthTransport& transport) {
  for (const Challenge& ch : challenges) {
    if (ch.scheme == "bearer") return RequestToken(ch, scope, creds, transport);
  }
  for (const Challenge& ch : challenges) {
    if (ch.scheme != "basic") continue;
    if (creds.username.empty()) {
      return absl::UnauthenticatedError("registry requires credentials (basic auth) and none were given");
    }
    return AuthAnswer{
        absl::StrCat("Basic ", Base64Encode(absl::StrCat(creds.username, ":", creds.password))),
        absl::InfiniteFuture()};
  }
  return absl::UnauthenticatedError("registry requires authentication with an unsupported scheme");
}

std::string CredentialsKey(const Credentials& c) {
  if (c.empty()) return "anonymous";
  Sha256 h;
  for (const std::string* part : {&c.username, &c.password, &c.auth, &c.identity_token, &c.registry_token}) {
    h.Update(*part);
    h.Update(std::string_view("\0", 1));
  }
  return h.HexDigest().substr(0, 32);
}

std::optional<std::string> TokenCache::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (absl::Now() >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.authorization;
}

void TokenCache::Put(const std::string& key, const AuthAnswer& answer) {
  absl::MutexLock lock(&mu_);
  entries_[key] = answer;
}

void TokenCache::Erase(const std::string& key) {
  absl::MutexLock lock(&mu_);
  entries_.erase(key);
}

}  // namespace crius::image
