#include "image/http.h"
#include "image/registry_auth.h"

#include "common/files.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::image {
namespace {

TEST(WwwAuthenticate, ParsesBearerWithCommaInScope) {
  std::vector<Challenge> c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].params["realm"], "https://auth.example/token");
  EXPECT_EQ(c[0].params["service"], "registry.example");
  EXPECT_EQ(c[0].params["scope"], "repository:a/b:pull,push");
}

TEST(WwwAuthenticate, ParsesSeveralChallenges) {
  std::vector<Challenge> c = ParseWwwAuthenticate(R"(Basic realm="x y", Bearer realm="r",error="invalid_token")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].params["realm"], "x y");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].params["error"], "invalid_token");
  EXPECT_TRUE(ParseWwwAuthenticate("").empty());
}

TEST(Credentials, AuthFieldIsDecoded) {
  Credentials c;
  c.auth = Base64Encode("user:pa:ss");
  ASSERT_TRUE(NormalizeCredentials(&c).ok());
  EXPECT_EQ(c.username, "user");
  EXPECT_EQ(c.password, "pa:ss");
  Credentials bad;
  bad.auth = "!!!";
  EXPECT_EQ(NormalizeCredentials(&bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Credentials, KeyDependsOnIdentityOnly) {
  Credentials a{"u", "p", "", "", ""};
  Credentials b{"u", "q", "", "", ""};
  EXPECT_EQ(CredentialsKey(Credentials{}), "anonymous");
  EXPECT_NE(CredentialsKey(a), CredentialsKey(b));
  EXPECT_EQ(CredentialsKey(a), CredentialsKey(Credentials{"u", "p", "", "", ""}));
  EXPECT_EQ(CredentialsKey(a).find("p"), std::string::npos);
}

TEST(AuthFile, LooksUpHostsInTheirSeveralSpellings) {
  testing::TempDir dir;
  const std::string path = dir.Path("config.json");
  ASSERT_TRUE(WriteFileAtomic(path, R"({"auths": {
      "https://index.docker.io/v1/": {"auth": ")" + Base64Encode("hub:pw") + R"("},
      "127.0.0.1:5000": {"username": "u", "password": "p"},
      "http://quay.example": {"identitytoken": "tok"}}})")
                  .ok());
  absl::StatusOr<Credentials> c = LookupAuthFile(path, "docker.io");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->username, "hub");
  EXPECT_EQ(c->password, "pw");
  c = LookupAuthFile(path, "127.0.0.1:5000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->username, "u");
  c = LookupAuthFile(path, "quay.example");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->identity_token, "tok");
  c = LookupAuthFile(path, "other.example");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->empty());
  c = LookupAuthFile(dir.Path("missing.json"), "docker.io");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->empty());
  ASSERT_TRUE(WriteFileAtomic(path, "not json").ok());
  EXPECT_EQ(LookupAuthFile(path, "docker.io").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenCache, ExpiresEntries) {
  TokenCache cache;
  cache.Put("k", AuthAnswer{"Bearer a", absl::InfiniteFuture()});
  cache.Put("old", AuthAnswer{"Bearer b", absl::Now() - absl::Seconds(1)});
  EXPECT_EQ(cache.Get("k").value_or(""), "Bearer a");
  EXPECT_FALSE(cache.Get("old").has_value());
  cache.Erase("k");
  EXPECT_FALSE(cache.Get("k").has_value());
}

TEST(Url, HelpersBehave) {
  EXPECT_EQ(RedactUrl("https://user:pw@host:1/v2/x?y=1"), "https://host:1/v2/x?y=1");
  EXPECT_EQ(RedactUrl("http://host/a@b"), "http://host/a@b");
  EXPECT_EQ(UrlOrigin("HTTP://Host.Example/v2/"), "http://host.example:80");
  EXPECT_EQ(UrlOrigin("https://h:443/x"), UrlOrigin("https://h/y"));
  EXPECT_NE(UrlOrigin("http://127.0.0.1:5000/"), UrlOrigin("http://127.0.0.2:5000/"));
  EXPECT_EQ(UrlEscape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
  EXPECT_EQ(Base64Decode(Base64Encode("a:b")).value_or(""), "a:b");
}

}  // namespace
}  // namespace crius::image
