#pragma once
// Hashing used by the on-disk image store (blob digests, DiffIDs, chain
// ids). A private stand-in until image/digest.h is built into a library
// target this one can link; the surface is kept tiny so switching over is a
// one-file change.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius::image::store_internal {

// Streaming hash for "sha256" or "sha512". Move-only.
class Hasher {
 public:
  // InvalidArgument for another algorithm.
  static absl::StatusOr<Hasher> Create(std::string_view algorithm);
  // The hasher matching `digest`'s algorithm; the digest must pass CheckDigest.
  static absl::StatusOr<Hasher> ForDigest(std::string_view digest);
  static Hasher Sha256();

  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void Update(std::string_view data);
  // "<algorithm>:<lowercase hex>". Call once.
  std::string Finish();

 private:
  struct Impl;
  explicit Hasher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "sha256:<hex>" of `data`.
std::string Sha256Digest(std::string_view data);

// OK for "sha256:<64 lowercase hex>" and "sha512:<128 lowercase hex>". The
// store builds paths from digests, so nothing else may get through.
absl::Status CheckDigest(std::string_view digest);

// "<algorithm>" and "<hex>" halves of a checked digest.
std::string_view DigestAlgorithm(std::string_view digest);
std::string_view DigestHexPart(std::string_view digest);

}  // namespace crius::image::store_internal
