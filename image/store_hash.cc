#include "image/store_hash.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace crius::image::store_internal {

struct Hasher::Impl {
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::string algorithm;
  std::unique_ptr<EVP_MD_CTX, Free> ctx;
};

Hasher::Hasher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

absl::StatusOr<Hasher> Hasher::Create(std::string_view algorithm) {
  const EVP_MD* md = nullptr;
  if (algorithm == "sha256") {
    md = EVP_sha256();
  } else if (algorithm == "sha512") {
    md = EVP_sha512();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported digest algorithm \"", AbslView(algorithm), "\""));
  }
  auto impl = std::make_unique<Impl>();
  impl->algorithm = std::string(algorithm);
  impl->ctx.reset(EVP_MD_CTX_new());
  if (!impl->ctx || EVP_DigestInit_ex(impl->ctx.get(), md, nullptr) != 1) {
    return absl::InternalError("EVP_DigestInit_ex failed");
  }
  return Hasher(std::move(impl));
}

absl::StatusOr<Hasher> Hasher::ForDigest(std::string_view digest) {
  if (absl::Status s = CheckDigest(digest); !s.ok()) return s;
  return Create(DigestAlgorithm(digest));
}

// sha256 is built into every OpenSSL; only an allocation failure could make
// Create fail, and that is not something a caller could handle either.
Hasher Hasher::Sha256() { return std::move(Create("sha256")).value(); }

void Hasher::Update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size());
}

std::string Hasher::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx.get(), out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string result = impl_->algorithm + ":";
  for (unsigned int i = 0; i < len; ++i) {
    result.push_back(kHex[out[i] >> 4]);
    result.push_back(kHex[out[i] & 0xf]);
  }
  return result;
}

std::string Sha256Digest(std::string_view data) {
  Hasher h = Hasher::Sha256();
  h.Update(data);
  return h.Finish();
}

absl::Status CheckDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  std::string_view algorithm =
      colon == std::string_view::npos ? std::string_view() : digest.substr(0, colon);
  size_t want = algorithm == "sha256" ? 64 : algorithm == "sha512" ? 128 : 0;
  if (want == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid digest \"", AbslView(digest), "\": want sha256:<hex> or sha512:<hex>"));
  }
  std::string_view hex = digest.substr(colon + 1);
  if (hex.size() != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest \"", AbslView(digest), "\": want ", want, " hex characters"));
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid digest \"", AbslView(digest), "\": not lowercase hex"));
    }
  }
  return absl::OkStatus();
}

std::string_view DigestAlgorithm(std::string_view digest) {
  return digest.substr(0, digest.find(':'));
}

std::string_view DigestHexPart(std::string_view digest) {
  size_t colon = digest.find(':');
  return colon == std::string_view::npos ? digest : digest.substr(colon + 1);
}

}  // namespace crius::image::store_internal
