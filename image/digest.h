#pragma once
// Content digests ("sha256:<hex>"), the identity of every manifest, config
// and layer. Everything fetched from a registry is hashed while it streams
// and compared with the digest that named it before anyone trusts it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius::image {

// A streaming hasher for one of the digest algorithms a registry may use
// (sha256, and sha512 since OCI allows it). Move-only; owns its EVP context.
class Digester {
 public:
  // InvalidArgument for an algorithm other than "sha256" / "sha512".
  static absl::StatusOr<Digester> Create(std::string_view algorithm);
  // The digester matching an existing digest's algorithm ("sha512:..." ->
  // sha512). The digest must pass ValidateDigest.
  static absl::StatusOr<Digester> ForDigest(std::string_view digest);

  Digester(Digester&&) noexcept;
  Digester& operator=(Digester&&) noexcept;
  ~Digester();

  void Update(std::string_view data);
  // "<algorithm>:<lowercase hex>". Ends the hashing: call once.
  std::string Finish();
  const std::string& algorithm() const { return algorithm_; }

 private:
  struct Ctx;
  Digester(std::string algorithm, std::unique_ptr<Ctx> ctx);
  std::string algorithm_;
  std::unique_ptr<Ctx> ctx_;
};

// A streaming SHA-256: the common case, without the StatusOr.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data) { d_.Update(data); }
  // "sha256:<hex>". Call once.
  std::string Digest() { return d_.Finish(); }
  // Just the 64 hex characters. Call once (instead of Digest).
  std::string HexDigest();

 private:
  Digester d_;
};

// Lowercase hex SHA-256 of `data` (64 characters, no "sha256:" prefix).
std::string Sha256Hex(std::string_view data);
// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

// OK for "sha256:<64 lowercase hex>" and "sha512:<128 lowercase hex>";
// InvalidArgument naming what is wrong otherwise. Uppercase hex is refused
// because digests are compared as strings everywhere.
absl::Status ValidateDigest(std::string_view digest);

// The part after "<algorithm>:" (the caller validated the digest).
std::string_view DigestHex(std::string_view digest);

}  // namespace crius::image
