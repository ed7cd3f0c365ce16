#include "image/digest.h"

#include "gtest/gtest.h"

namespace crius::image {
namespace {

TEST(Digest, KnownSha256Values) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Digest("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 333) h.Update(std::string_view(data).substr(i, 333));
  EXPECT_EQ(h.Digest(), Sha256Digest(data));
}

TEST(Digest, Sha512Digester) {
  absl::StatusOr<Digester> d = Digester::Create("sha512");
  ASSERT_TRUE(d.ok());
  d->Update("abc");
  EXPECT_EQ(d->Finish(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
            "454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(Digester::Create("md5").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Digest, Validate) {
  const std::string hex(64, 'a');
  EXPECT_TRUE(ValidateDigest("sha256:" + hex).ok());
  EXPECT_TRUE(ValidateDigest("sha512:" + std::string(128, '0')).ok());
  for (const std::string& bad : {std::string(""), hex, "sha256:" + hex.substr(1), "sha256:" + std::string(64, 'A'),
                                 "sha256:" + std::string(64, 'g'), "md5:" + std::string(32, 'a'),
                                 "sha512:" + hex, ":" + hex, "sha256:" + hex + "0"}) {
    EXPECT_EQ(ValidateDigest(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(DigestHex("sha256:" + hex), hex);
}

TEST(Digest, ForDigestPicksTheAlgorithm) {
  absl::StatusOr<Digester> d = Digester::ForDigest("sha512:" + std::string(128, '0'));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->algorithm(), "sha512");
  EXPECT_FALSE(Digester::ForDigest("sha256:nothex").ok());
}

}  // namespace
}  // namespace crius::image
