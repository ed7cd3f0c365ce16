#include "image/reference.h"

#include <string>

#include "gtest/gtest.h"

namespace crius::image {
namespace {

struct Case {
  std::string in;
  std::string domain, path, tag, digest;
  std::string canonical;
};

constexpr const char* kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ParseReference, NormalisesLikeDockerAndContainerd) {
  const std::string d = std::string("sha256:") + kHex;
  const Case cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36"},
      {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"quay.io/org/app:v1", "quay.io", "org/app", "v1", "", "quay.io/org/app:v1"},
      {"127.0.0.1:5000/repo:tag", "127.0.0.1:5000", "repo", "tag", "", "127.0.0.1:5000/repo:tag"},
      {"localhost/x", "localhost", "x", "latest", "", "localhost/x:latest"},
      {"localhost:5000/a/b/c", "localhost:5000", "a/b/c", "latest", "", "localhost:5000/a/b/c:latest"},
      {"[::1]:5000/x:y", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y"},
      {"repo@" + d, "docker.io", "library/repo", "", d, "docker.io/library/repo@" + d},
      {"repo:tag@" + d, "docker.io", "library/repo", "tag", d, "docker.io/library/repo:tag@" + d},
      {"host:1/a-b__c.d_e---f:T_a.g-1", "host:1", "a-b__c.d_e---f", "T_a.g-1", "",
       "host:1/a-b__c.d_e---f:T_a.g-1"},
      {"my-registry.example.com/ns/img", "my-registry.example.com", "ns/img", "latest", "",
       "my-registry.example.com/ns/img:latest"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    absl::StatusOr<Reference> r = ParseReference(c.in);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->digest, c.digest);
    EXPECT_EQ(r->String(), c.canonical);
    // The canonical form parses back to itself.
    absl::StatusOr<Reference> again = ParseReference(r->String());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *r);
  }
}

TEST(ParseReference, RejectsInvalidReferences) {
  const std::string bad[] = {
      "",
      "Busybox",
      "docker.io/Library/busybox",
      "busybox:",
      "busybox:-tag",
      "busybox:.tag",
      "busybox:" + std::string(129, 'a'),
      "busybox:ta g",
      "bus box",
      " busybox",
      "busybox@sha256:abc",
      "busybox@sha256:" + std::string(64, 'G'),
      "busybox@md5:" + std::string(32, 'a'),
      "busybox@",
      kHex,
      "a//b",
      "a/",
      "/a",
      "-a",
      "a-",
      "a..b",
      "host:port/x",
      "host:/x",
      "docker.io/" + std::string(250, 'a'),
      "a\nb",
  };
  for (const std::string& in : bad) {
    absl::StatusOr<Reference> r = ParseReference(in);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "\"" << in << "\" gave " << r.status();
  }
}

TEST(ParseReference, TagOfExactly128CharactersIsValid) {
  absl::StatusOr<Reference> r = ParseReference("busybox:" + std::string(128, 'a'));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tag.size(), 128u);
}

TEST(ParseReference, UppercaseRepositoryMessageSaysLowercase) {
  absl::StatusOr<Reference> r = ParseReference("quay.io/Org/app");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lowercase"), absl::string_view::npos) << r.status();
}

TEST(Reference, RepoTagAndRepoDigest) {
  absl::StatusOr<Reference> r = ParseReference("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Name(), "docker.io/library/busybox");
  EXPECT_EQ(r->RepoTag(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r->RepoDigest("sha256:x"), "docker.io/library/busybox@sha256:x");
  r = ParseReference(std::string("busybox@sha256:") + kHex);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->RepoTag(), "");
}

TEST(ImageId, RecognisesBothForms) {
  EXPECT_TRUE(IsImageId(kHex));
  EXPECT_TRUE(IsImageId(std::string("sha256:") + kHex));
  EXPECT_FALSE(IsImageId("busybox"));
  EXPECT_FALSE(IsImageId(std::string(kHex).substr(1)));
  EXPECT_FALSE(IsImageId(std::string("sha512:") + kHex));
  EXPECT_FALSE(IsImageId(std::string(64, 'A')));
  EXPECT_EQ(CanonicalImageId(kHex), std::string("sha256:") + kHex);
  EXPECT_EQ(CanonicalImageId(std::string("sha256:") + kHex), std::string("sha256:") + kHex);
}

}  // namespace
}  // namespace crius::image
