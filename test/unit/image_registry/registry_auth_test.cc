// Authentication against the real registry: htpasswd basic auth and token
// auth (a token server signing JWTs the registry verifies).
#include <thread>

#include "common/files.h"
#include "gtest/gtest.h"
#include "image/http.h"
#include "image/registry_client.h"
#include "test/support/fake_http_server.h"
#include "test/support/registry_fixture.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/image_registry/test_util.h"

namespace crius::image {
namespace {

using crius::testing::BuiltImage;
using crius::testing::FakeHttpServer;
using crius::testing::FakeRequest;
using crius::testing::FakeResponse;
using crius::testing::RegistryFixture;
using crius::testing::RegistryOptions;
using test::StringSink;

class AuthTest : public ::testing::Test {
 protected:
  void Start(RegistryOptions::Auth auth) {
    RegistryOptions o;
    o.auth = auth;
    absl::StatusOr<std::unique_ptr<RegistryFixture>> r = RegistryFixture::Start(o);
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = std::move(*r);
    absl::StatusOr<BuiltImage> img = test::SmallImage();
    ASSERT_TRUE(img.ok()) << img.status();
    image_ = std::move(*img);
    absl::StatusOr<crius::testing::PushResult> pushed = registry_->Push(image_, "private/app:v1");
    ASSERT_TRUE(pushed.ok()) << pushed.status() << "\n" << registry_->Log();
  }
  Credentials Good() const { return Credentials{registry_->options().username, registry_->options().password, "", "", ""}; }

  std::unique_ptr<RegistryFixture> registry_;
  BuiltImage image_;
};

TEST_F(AuthTest, BasicAuthWithRightAndWrongCredentials) {
  Start(RegistryOptions::Auth::kBasic);
  RegistryClient client{RegistryConfig{}};
  Reference ref = registry_->Ref("private/app:v1");

  absl::StatusOr<FetchedManifest> m = client.GetManifest(ref, {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();

  m = client.GetManifest(ref, Credentials{"crius", "wrong", "", "", ""});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
  // The message names the URL but never the password.
  EXPECT_NE(m.status().message().find(registry_->url()), absl::string_view::npos) << m.status();
  EXPECT_EQ(m.status().message().find("wrong"), absl::string_view::npos) << m.status();

  m = client.GetManifest(ref, Good());
  ASSERT_TRUE(m.ok()) << m.status();
  StringSink sink;
  ASSERT_TRUE(client.FetchBlob(ref, image_.layers[0].digest, image_.layers[0].size(), Good(), sink).ok());

  // The base64 "auth" form of CRI's AuthConfig.
  Credentials encoded;
  encoded.auth = Base64Encode("crius:crius-secret");
  EXPECT_TRUE(client.GetManifest(ref, encoded).ok());
}

TEST_F(AuthTest, BasicAuthFromAuthFile) {
  Start(RegistryOptions::Auth::kBasic);
  crius::testing::TempDir dir;
  const std::string auth_file = dir.Path("config.json");
  ASSERT_TRUE(WriteFileAtomic(auth_file, R"({"auths": {")" + registry_->host() + R"(": {"auth": ")" +
                                             Base64Encode("crius:crius-secret") + R"("}}})")
                  .ok());
  RegistryConfig config;
  config.auth_file = auth_file;
  RegistryClient client(config);
  absl::StatusOr<FetchedManifest> m = client.GetManifest(registry_->Ref("private/app:v1"), {});
  ASSERT_TRUE(m.ok()) << m.status();
  // Explicit credentials win over the file.
  m = client.GetManifest(registry_->Ref("private/app:v1"), Credentials{"crius", "bad", "", "", ""});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(AuthTest, TokenAuthFetchesATokenOnceAndReusesIt) {
  Start(RegistryOptions::Auth::kToken);
  RegistryClient client{RegistryConfig{}};
  Reference ref = registry_->Ref("private/app:v1");
  const size_t before = registry_->token_requests();

  absl::StatusOr<FetchedManifest> m = client.GetManifest(ref, Good());
  ASSERT_TRUE(m.ok()) << m.status() << "\n" << registry_->Log();
  for (const crius::testing::Blob& layer : image_.layers) {
    StringSink sink;
    absl::Status s = client.FetchBlob(ref, layer.digest, layer.size(), Good(), sink);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(sink.data, layer.data);
  }
  ASSERT_TRUE(client.GetManifest(ref, Good()).ok());
  EXPECT_EQ(registry_->token_requests() - before, 1u);

  // Another identity does not reuse that token.
  m = client.GetManifest(ref, Credentials{"crius", "wrong", "", "", ""});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
  EXPECT_NE(m.status().message().find("token server"), absl::string_view::npos) << m.status();
  m = client.GetManifest(ref, {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(AuthTest, TokenAuthWithIdentityToken) {
  Start(RegistryOptions::Auth::kToken);
  RegistryClient client{RegistryConfig{}};
  Credentials creds;
  creds.identity_token = registry_->options().identity_token;
  absl::StatusOr<FetchedManifest> m = client.GetManifest(registry_->Ref("private/app:v1"), creds);
  ASSERT_TRUE(m.ok()) << m.status();
  creds.identity_token = "stale";
  m = client.GetManifest(registry_->Ref("private/app:v1"), creds);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
}

TEST_F(AuthTest, ConcurrentTokenPulls) {
  Start(RegistryOptions::Auth::kToken);
  RegistryClient client{RegistryConfig{}};
  Reference ref = registry_->Ref("private/app:v1");
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(6);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      const crius::testing::Blob& layer = image_.layers[i % image_.layers.size()];
      StringSink sink;
      results[i] = client.FetchBlob(ref, layer.digest, layer.size(), Good(), sink);
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
}

TEST(RegistryToken, IsSentAsBearerWithoutAskingATokenServer) {
  absl::StatusOr<std::unique_ptr<FakeHttpServer>> server = FakeHttpServer::Start([](const FakeRequest& r) {
    FakeResponse resp;
    if (r.Header("authorization") != "Bearer opaque-registry-token") {
      resp.status = 401;
      resp.headers = {{"WWW-Authenticate", R"(Bearer realm="http://127.0.0.1:1/token")"}};
      return resp;
    }
    resp.headers = {{"Content-Type", "application/vnd.oci.image.index.v1+json"}};
    resp.body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})";
    return resp;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  RegistryClient client{RegistryConfig{}};
  Credentials creds;
  creds.registry_token = "opaque-registry-token";
  absl::StatusOr<Reference> ref = ParseReference((*server)->host() + "/x/y:1");
  ASSERT_TRUE(ref.ok());
  absl::StatusOr<FetchedManifest> m = client.GetManifest(*ref, creds);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*server)->request_count(), 1u);
  creds.registry_token = "other";
  EXPECT_EQ(client.GetManifest(*ref, creds).status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace crius::image
