#include "image/digest.h"

#include <openssl/evp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace crius::image {

struct Digester::Ctx {
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> md;
};

Digester::Digester(std::string algorithm, std::unique_ptr<Ctx> ctx)
    : algorithm_(std::move(algorithm)), ctx_(std::move(ctx)) {}
Digester::Digester(Digester&&) noexcept = default;
Digester& Digester::operator=(Digester&&) noexcept = default;
Digester::~Digester() = default;

absl::StatusOr<Digester> Digester::Create(std::string_view algorithm) {
  const EVP_MD* md = nullptr;
  if (algorithm == "sha256") {
    md = EVP_sha256();
  } else if (algorithm == "sha512") {
    md = EVP_sha512();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported digest algorithm \"", AbslView(algorithm), "\""));
  }
  auto ctx = std::make_unique<Ctx>();
  ctx->md.reset(EVP_MD_CTX_new());
  // Allocation or init failing here means OpenSSL itself is broken.
  if (!ctx->md || EVP_DigestInit_ex(ctx->md.get(), md, nullptr) != 1) {
    return absl::InternalError("EVP_DigestInit_ex failed");
  }
  return Digester(std::string(algorithm), std::move(ctx));
}

absl::StatusOr<Digester> Digester::ForDigest(std::string_view digest) {
  if (absl::Status s = ValidateDigest(digest); !s.ok()) return s;
  return Create(digest.substr(0, digest.find(':')));
}

void Digester::Update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(ctx_->md.get(), data.data(), data.size());
}

std::string Digester::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md.get(), out, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string result = algorithm_ + ":";
  for (unsigned int i = 0; i < len; ++i) {
    result.push_back(kHex[out[i] >> 4]);
    result.push_back(kHex[out[i] & 0xf]);
  }
  return result;
}

namespace {
Digester MakeSha256() {
  // sha256 is always available; Create can only fail for other names.
  return std::move(Digester::Create("sha256")).value();
}
}  // namespace

Sha256::Sha256() : d_(MakeSha256()) {}

std::string Sha256::HexDigest() { return d_.Finish().substr(7); }

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.HexDigest();
}

std::string Sha256Digest(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Digest();
}

absl::Status ValidateDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid digest \"", AbslView(digest), "\": missing \"<algorithm>:\""));
  }
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  size_t want = 0;
  if (algorithm == "sha256") {
    want = 64;
  } else if (algorithm == "sha512") {
    want = 128;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid digest \"", AbslView(digest), "\": unsupported algorithm \"", AbslView(algorithm),
        "\""));
  }
  if (hex.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("invalid digest \"", AbslView(digest),
                                                   "\": want ", want, " hex characters"));
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid digest \"", AbslView(digest), "\": not lowercase hex"));
    }
  }
  return absl::OkStatus();
}

std::string_view DigestHex(std::string_view digest) {
  size_t colon = digest.find(':');
  return colon == std::string_view::npos ? digest : digest.substr(colon + 1);
}

}  // namespace crius::image
