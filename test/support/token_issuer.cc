#include "test/support/token_issuer.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace crius::testing {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

absl::StatusOr<std::unique_ptr<EVP_PKEY, PkeyFree>> LoadKey(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InternalError("cannot parse the token signing key");
  return key;
}

std::string Base64Url(std::string_view data) {
  std::string out;
  absl::WebSafeBase64Escape(absl::string_view(data.data(), data.size()), &out);
  return out;  // WebSafeBase64Escape emits no padding
}

// libtrust's key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240
// bits, base32 without padding, in groups of four joined by ':'.
std::string LibtrustKeyId(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  unsigned char hash[32];
  unsigned int hash_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), hash, &hash_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string b32;
  // 30 bytes = 240 bits = exactly 48 base32 characters.
  uint64_t acc = 0;
  int bits = 0;
  for (int i = 0; i < 30; ++i) {
    acc = (acc << 8) | hash[i];
    bits += 8;
    while (bits >= 5) {
      b32.push_back(kAlphabet[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  std::string out;
  for (size_t i = 0; i < b32.size(); i += 4) {
    if (i > 0) out.push_back(':');
    out += b32.substr(i, 4);
  }
  return out;
}

}  // namespace

bool ParseScope(const std::string& scope, TokenAccess* out) {
  std::vector<std::string> parts = absl::StrSplit(scope, ':');
  if (parts.size() < 3) return false;
  out->type = parts.front();
  out->actions = absl::StrSplit(parts.back(), ',');
  // A name may itself hold ':' (host:port/...), so it is everything between.
  out->name = scope.substr(out->type.size() + 1, scope.size() - out->type.size() - parts.back().size() - 2);
  return true;
}

absl::StatusOr<TokenIssuer> TokenIssuer::Create(const std::string& dir, std::string issuer, std::string service) {
  ASSIGN_OR_RETURN(std::string openssl, FindExecutable("openssl", {"/usr/bin", "/bin"}));
  TokenIssuer t;
  t.cert_path_ = JoinPath(dir, "token-cert.pem");
  const std::string key_path = JoinPath(dir, "token-key.pem");
  ExecOptions opts;
  opts.argv = {openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key_path,
               "-out", t.cert_path_, "-days", "2", "-subj", "/CN=crius-test-token-issuer", "-batch"};
  opts.env = {"PATH=/usr/bin:/bin"};
  RETURN_IF_ERROR(ExecChecked(opts).status());
  ASSIGN_OR_RETURN(t.key_pem_, ReadFile(key_path));
  ASSIGN_OR_RETURN(auto key, LoadKey(t.key_pem_));
  t.key_id_ = LibtrustKeyId(key.get());
  t.issuer_ = std::move(issuer);
  t.service_ = std::move(service);
  return t;
}

absl::StatusOr<std::string> TokenIssuer::Issue(const std::string& subject, const std::vector<TokenAccess>& access,
                                               absl::Duration lifetime) const {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"kid", key_id_}};
  nlohmann::json grants = nlohmann::json::array();
  for (const TokenAccess& a : access) {
    grants.push_back({{"type", a.type}, {"name", a.name}, {"actions", a.actions}});
  }
  unsigned char rnd[16];
  RAND_bytes(rnd, sizeof(rnd));
  nlohmann::json claims = {{"iss", issuer_},
                           {"sub", subject},
                           {"aud", service_},
                           {"exp", now + absl::ToInt64Seconds(lifetime)},
                           {"nbf", now - 10},
                           {"iat", now},
                           {"jti", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(rnd), sizeof(rnd)))},
                           {"access", grants}};
  std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  ASSIGN_OR_RETURN(auto key, LoadKey(key_pem_));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    return absl::InternalError("EVP_DigestSign setup failed");
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1) {
    return absl::InternalError("EVP_DigestSign failed");
  }
  sig.resize(sig_len);
  return signing_input + "." + Base64Url(sig);
}

}  // namespace crius::testing
