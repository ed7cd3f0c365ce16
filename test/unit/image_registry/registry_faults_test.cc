// Registries that misbehave: schema 1, corrupted blobs, stalls, refused
// connections, rate limits, mirrors that lack the image, and redirects to
// another host that must not receive the credentials.
#include "gtest/gtest.h"
#include "image/digest.h"
#include "image/http.h"
#include "image/registry_client.h"
#include "test/support/fake_http_server.h"
#include "test/support/registry_fixture.h"
#include "test/unit/image_registry/test_util.h"

namespace crius::image {
namespace {

using crius::testing::BuiltImage;
using crius::testing::FakeHttpServer;
using crius::testing::FakeRequest;
using crius::testing::FakeResponse;
using crius::testing::RegistryFixture;
using test::StringSink;

std::unique_ptr<FakeHttpServer> StartServer(FakeHttpServer::Handler h, const std::string& address = "127.0.0.1") {
  absl::StatusOr<std::unique_ptr<FakeHttpServer>> s = FakeHttpServer::Start(std::move(h), address);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

Reference RefOn(const std::string& host, const std::string& rest) {
  absl::StatusOr<Reference> r = ParseReference(host + "/" + rest);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Reference{};
}

TEST(RegistryFaults, Schema1ManifestIsRejected) {
  auto server = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.headers = {{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}};
    r.body = R"({"schemaVersion":1,"name":"old/app","tag":"v1","fsLayers":[],"history":[],"signatures":[]})";
    return r;
  });
  ASSERT_TRUE(server);
  RegistryClient client{RegistryConfig{}};
  absl::StatusOr<FetchedManifest> m = client.GetManifest(RefOn(server->host(), "old/app:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition) << m.status();
  EXPECT_NE(m.status().message().find("schema 1 manifests are not supported"), absl::string_view::npos);

  // Also when the server labels it plain JSON.
  auto json_server = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"schemaVersion":1,"name":"old/app","fsLayers":[]})";
    return r;
  });
  ASSERT_TRUE(json_server);
  m = client.GetManifest(RefOn(json_server->host(), "old/app:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition) << m.status();
}

TEST(RegistryFaults, ManifestNotMatchingItsDigestIsDataLoss) {
  const std::string body = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})";
  auto server = StartServer([&](const FakeRequest&) {
    FakeResponse r;
    r.headers = {{"Content-Type", "application/vnd.oci.image.index.v1+json"},
                 {"Docker-Content-Digest", Sha256Digest("something else")}};
    r.body = body;
    return r;
  });
  ASSERT_TRUE(server);
  RegistryClient client{RegistryConfig{}};
  // By tag: the registry's Docker-Content-Digest disagrees with the bytes.
  absl::StatusOr<FetchedManifest> m = client.GetManifest(RefOn(server->host(), "a/b:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
  // By digest: the bytes are not what the digest names.
  m = client.GetManifest(RefOn(server->host(), "a/b@" + Sha256Digest("wanted")), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
  EXPECT_NE(m.status().message().find("digest mismatch"), absl::string_view::npos) << m.status();
}

TEST(RegistryFaults, CorruptedBlobIsDigestMismatch) {
  absl::StatusOr<std::unique_ptr<RegistryFixture>> registry = RegistryFixture::Start();
  ASSERT_TRUE(registry.ok()) << registry.status();
  absl::StatusOr<BuiltImage> img = test::SmallImage();
  ASSERT_TRUE(img.ok());
  ASSERT_TRUE((*registry)->Push(*img, "c/app:v1").ok());
  const crius::testing::Blob& layer = img->layers[0];
  ASSERT_TRUE((*registry)->CorruptBlob(layer.digest).ok());

  RegistryClient client{RegistryConfig{}};
  StringSink sink;
  absl::Status s = client.FetchBlob((*registry)->Ref("c/app"), layer.digest, layer.size(), {}, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("digest mismatch"), absl::string_view::npos) << s;
}

TEST(RegistryFaults, ServerThatNeverAnswersIsDeadlineExceeded) {
  auto server = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.mode = FakeResponse::Mode::kStallBeforeHeaders;
    return r;
  });
  ASSERT_TRUE(server);
  RegistryConfig config;
  config.progress_timeout = absl::Seconds(2);
  RegistryClient client(config);
  absl::StatusOr<FetchedManifest> m = client.GetManifest(RefOn(server->host(), "s/app:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDeadlineExceeded) << m.status();
  EXPECT_NE(m.status().message().find("no progress for 2s"), absl::string_view::npos) << m.status();
}

TEST(RegistryFaults, BlobThatStallsMidwayIsDeadlineExceeded) {
  const std::string digest = Sha256Digest("0123456789");
  auto server = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.mode = FakeResponse::Mode::kStallAfterHeaders;
    r.body = "01234";
    r.promised_length = 10;
    return r;
  });
  ASSERT_TRUE(server);
  RegistryConfig config;
  config.progress_timeout = absl::Seconds(2);
  RegistryClient client(config);
  StringSink sink;
  absl::Status s = client.FetchBlob(RefOn(server->host(), "s/app"), digest, 10, {}, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(sink.data, "01234");
}

TEST(RegistryFaults, RefusedConnectionIsUnavailable) {
  RegistryClient client{RegistryConfig{}};
  const std::string host = "127.0.0.1:" + std::to_string(test::ClosedPort());
  absl::StatusOr<FetchedManifest> m = client.GetManifest(RefOn(host, "r/app:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
  EXPECT_NE(m.status().message().find("http://" + host + "/v2/r/app/manifests/v1"), absl::string_view::npos)
      << m.status();
}

TEST(RegistryFaults, RateLimitIsResourceExhausted) {
  auto server = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.status = 429;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})";
    return r;
  });
  ASSERT_TRUE(server);
  RegistryClient client{RegistryConfig{}};
  absl::StatusOr<FetchedManifest> m = client.GetManifest(RefOn(server->host(), "r/app:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kResourceExhausted) << m.status();
  EXPECT_NE(m.status().message().find("slow down"), absl::string_view::npos) << m.status();
}

TEST(RegistryFaults, MirrorIsTriedFirstThenTheHost) {
  absl::StatusOr<std::unique_ptr<RegistryFixture>> registry = RegistryFixture::Start();
  ASSERT_TRUE(registry.ok()) << registry.status();
  absl::StatusOr<BuiltImage> img = test::SmallImage();
  ASSERT_TRUE(img.ok());
  ASSERT_TRUE((*registry)->Push(*img, "m/app:v1").ok());
  auto empty_mirror = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.status = 404;
    r.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"not here"}]})";
    return r;
  });
  ASSERT_TRUE(empty_mirror);
  const std::string refused_mirror = "http://127.0.0.1:" + std::to_string(test::ClosedPort());

  RegistryConfig config;
  config.hosts.push_back(RegistryHostConfig{(*registry)->host(), {refused_mirror, empty_mirror->url() + "/"}, false, ""});
  RegistryClient client(config);
  Reference ref = (*registry)->Ref("m/app:v1");
  absl::StatusOr<FetchedManifest> m = client.GetManifest(ref, {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->digest, img->manifest.digest);
  ASSERT_EQ(empty_mirror->request_count(), 1u);
  EXPECT_EQ(empty_mirror->requests()[0].path, "/v2/m/app/manifests/v1");
}

TEST(RegistryFaults, MirrorThatHasTheImageServesIt) {
  absl::StatusOr<std::unique_ptr<RegistryFixture>> mirror = RegistryFixture::Start();
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  absl::StatusOr<BuiltImage> img = test::SmallImage();
  ASSERT_TRUE(img.ok());
  ASSERT_TRUE((*mirror)->Push(*img, "m/app:v1").ok());
  // The upstream would fail every request: it must not be asked at all.
  auto upstream = StartServer([](const FakeRequest&) {
    FakeResponse r;
    r.status = 500;
    return r;
  });
  ASSERT_TRUE(upstream);
  RegistryConfig config;
  config.hosts.push_back(RegistryHostConfig{upstream->host(), {(*mirror)->url()}, false, ""});
  RegistryClient client(config);
  Reference ref = RefOn(upstream->host(), "m/app:v1");
  absl::StatusOr<FetchedManifest> m = client.GetManifest(ref, {});
  ASSERT_TRUE(m.ok()) << m.status();
  StringSink sink;
  ASSERT_TRUE(client.FetchBlob(ref, img->layers[1].digest, img->layers[1].size(), {}, sink).ok());
  EXPECT_EQ(upstream->request_count(), 0u);
}

// The registry (127.0.0.1) wants basic auth and redirects blob downloads to
// storage on 127.0.0.2, a different host that must not see the credentials.
TEST(RegistryFaults, RedirectDoesNotLeakAuthorizationToAnotherHost) {
  const std::string blob = "blob bytes from storage";
  const std::string digest = Sha256Digest(blob);
  auto storage = StartServer(
      [&](const FakeRequest&) {
        FakeResponse r;
        r.body = blob;
        return r;
      },
      "127.0.0.2");
  ASSERT_TRUE(storage);
  std::string registry_url;
  auto registry = StartServer([&](const FakeRequest& req) {
    FakeResponse r;
    if (req.Header("authorization").empty()) {
      r.status = 401;
      r.headers = {{"WWW-Authenticate", R"(Basic realm="test")"}};
      return r;
    }
    r.status = 307;
    // First to the registry's own /storage path (same origin), from there
    // to the other host.
    r.headers = {{"Location", req.path.rfind("/storage", 0) == 0 ? storage->url() + "/bucket/obj?sig=1"
                                                                  : "/storage" + req.path}};
    return r;
  });
  ASSERT_TRUE(registry);

  RegistryClient client{RegistryConfig{}};
  StringSink sink;
  absl::Status s = client.FetchBlob(RefOn(registry->host(), "r/app"), digest, static_cast<int64_t>(blob.size()),
                                    Credentials{"user", "pass", "", "", ""}, sink);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(sink.data, blob);

  std::vector<FakeRequest> at_registry = registry->requests();
  ASSERT_EQ(at_registry.size(), 3u);  // challenge, authorised request, same-origin redirect
  EXPECT_EQ(at_registry[1].Header("authorization"), "Basic " + Base64Encode("user:pass"));
  EXPECT_EQ(at_registry[2].path, "/storage/v2/r/app/blobs/" + digest);
  EXPECT_EQ(at_registry[2].Header("authorization"), "Basic " + Base64Encode("user:pass"));
  std::vector<FakeRequest> at_storage = storage->requests();
  ASSERT_EQ(at_storage.size(), 1u);
  EXPECT_EQ(at_storage[0].target, "/bucket/obj?sig=1");
  EXPECT_EQ(at_storage[0].Header("authorization"), "");
}

}  // namespace
}  // namespace crius::image
