#pragma once
// TokenIssuer: the signing half of a Docker registry token server, for tests
// that run the real registry with `auth: token`. It makes a throwaway RSA
// key and self-signed certificate (the registry's rootcertbundle) and signs
// RS256 JWTs whose `kid` header is the libtrust key id of that key, which
// is how the registry finds the key to verify a token with.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crius::testing {

struct TokenAccess {
  std::string type;  // "repository"
  std::string name;  // "library/busybox"
  std::vector<std::string> actions;
};

class TokenIssuer {
 public:
  // Writes key.pem and cert.pem into `dir` (which must exist).
  static absl::StatusOr<TokenIssuer> Create(const std::string& dir, std::string issuer,
                                            std::string service);

  const std::string& cert_path() const { return cert_path_; }
  const std::string& issuer() const { return issuer_; }
  const std::string& service() const { return service_; }
  // The libtrust-style key id ("ABCD:EFGH:...", 12 groups of 4).
  const std::string& key_id() const { return key_id_; }

  absl::StatusOr<std::string> Issue(const std::string& subject, const std::vector<TokenAccess>& access,
                                    absl::Duration lifetime) const;

 private:
  std::string key_pem_;
  std::string cert_path_;
  std::string issuer_;
  std::string service_;
  std::string key_id_;
};

// Parses a token request's scope ("repository:name:pull,push").
bool ParseScope(const std::string& scope, TokenAccess* out);

}  // namespace crius::testing
