#pragma once
// Registry authentication: the credentials a pull may carry, the Docker-style
// auth file, WWW-Authenticate challenges, bearer token requests (the Docker
// registry token protocol, including the OAuth2 refresh-token form for
// identity tokens) and a cache of the Authorization values obtained.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crius::image {

// Credentials for one pull, as CRI's AuthConfig carries them.
struct Credentials {
  std::string username;
  std::string password;
  std::string auth;            // base64("user:pass"), used when username is empty
  std::string identity_token;  // OAuth2 refresh token for the token server
  std::string registry_token;  // a bearer token sent to the registry as is

  bool empty() const {
    return username.empty() && password.empty() && auth.empty() && identity_token.empty() &&
           registry_token.empty();
  }
};

// Fills username/password from `auth` when they are empty. InvalidArgument
// when `auth` is not base64 of "user:pass".
absl::Status NormalizeCredentials(Credentials* creds);

// The entry for `registry_host` (a reference's domain, e.g. "docker.io",
// "127.0.0.1:5000") in a Docker config.json ({"auths": {"<host>": {"auth":
// ..., "username": ..., "password": ..., "identitytoken": ...,
// "registrytoken": ...}}}). Keys may carry a scheme and path
// ("https://index.docker.io/v1/"). Empty credentials when the file or the
// entry is missing; an error only for an unreadable or malformed file.
absl::StatusOr<Credentials> LookupAuthFile(const std::string& path, std::string_view registry_host);

// One challenge of a WWW-Authenticate header.
struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // lowercase names: realm, service, scope
};

// Parses `Bearer realm="...",service="...",scope="a:b:pull,push"` and
// several challenges in one header. Unparseable parts are skipped.
std::vector<Challenge> ParseWwwAuthenticate(std::string_view header);

// How to reach a token server.
struct AuthTransport {
  bool verify_tls = true;
  // Trusted instead of the system CAs, but only for a realm on
  // `ca_file_origin` (the registry's own origin, see UrlOrigin): a token
  // server elsewhere keeps the system trust.
  std::string ca_file;
  std::string ca_file_origin;
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration progress_timeout = absl::Seconds(60);
  std::string user_agent = "crius";
};

// An Authorization header value and how long it may be reused.
struct AuthAnswer {
  std::string authorization;  // "Bearer <token>" or "Basic <base64>"
  absl::Time expires = absl::InfiniteFuture();
};

// Answers a 401 from the registry: for Bearer, requests a token for `scope`
// (e.g. "repository:library/busybox:pull") from the challenge's realm, with
// the credentials if any (basic auth on GET, or the OAuth2 POST for an
// identity token); for Basic, encodes the credentials. Unauthenticated when
// credentials are needed but missing or refused; Unavailable when the token
// server cannot be reached.
absl::StatusOr<AuthAnswer> AnswerChallenge(const std::vector<Challenge>& challenges,
                                           const std::string& scope, const Credentials& creds,
                                           const AuthTransport& transport);

// A fingerprint of the credentials (a hash, never the secret itself) so
// cached tokens are only reused for the same identity.
std::string CredentialsKey(const Credentials& creds);

// Authorization values per (registry origin, scope, identity), kept until
// shortly before they expire. Thread-safe.
class TokenCache {
 public:
  std::optional<std::string> Get(const std::string& key);
  void Put(const std::string& key, const AuthAnswer& answer);
  void Erase(const std::string& key);

 private:
  absl::Mutex mu_;
  std::map<std::string, AuthAnswer> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crius::image
