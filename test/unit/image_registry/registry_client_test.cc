// Pulls from the real registry (docker-registry on loopback): manifests by
// tag and digest, configs, layers of every compression, indexes.
#include <thread>

#include "gtest/gtest.h"
#include "image/digest.h"
#include "image/media_types.h"
#include "image/registry_client.h"
#include "test/support/registry_fixture.h"
#include "test/unit/image_registry/test_util.h"

namespace crius::image {
namespace {

using crius::testing::BuiltImage;
using crius::testing::ImageBuilder;
using crius::testing::PushResult;
using crius::testing::RegistryFixture;
using test::StringSink;

class RegistryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RegistryFixture>> r = RegistryFixture::Start();
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = std::move(*r);
    absl::StatusOr<BuiltImage> img = test::SmallImage();
    ASSERT_TRUE(img.ok()) << img.status();
    image_ = std::move(*img);
    absl::StatusOr<PushResult> pushed = registry_->Push(image_, "team/app:v1");
    ASSERT_TRUE(pushed.ok()) << pushed.status();
    pushed_ = *pushed;
  }

  std::unique_ptr<RegistryFixture> registry_;
  BuiltImage image_;
  PushResult pushed_;
  RegistryClient client_{RegistryConfig{}};
};

TEST_F(RegistryClientTest, PullsManifestConfigAndLayersByTag) {
  Reference ref = registry_->Ref("team/app:v1");
  absl::StatusOr<FetchedManifest> m = client_.GetManifest(ref, {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_EQ(m->digest, pushed_.manifest_digest);
  EXPECT_EQ(m->bytes, image_.manifest.data);

  absl::StatusOr<nlohmann::json> config = test::PullConfig(client_, ref, *m);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)["config"]["Cmd"][0], "echo hello");
  EXPECT_EQ((*config)["config"]["User"], "1000:1000");
  EXPECT_EQ((*config)["config"]["StopSignal"], "SIGINT");

  nlohmann::json manifest = nlohmann::json::parse(m->bytes);
  ASSERT_EQ(manifest["layers"].size(), 3u);
  const std::string_view want_types[] = {kOciLayerGzip, kOciLayerZstd, kOciLayer};
  for (size_t i = 0; i < 3; ++i) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(manifest["layers"][i]);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->media_type, want_types[i]);
    StringSink sink;
    absl::Status s = client_.FetchBlob(ref, d->digest, d->size, {}, sink);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(sink.data, image_.layers[i].data);
  }
}

TEST_F(RegistryClientTest, PullsByDigestAndByTagPlusDigest) {
  Reference by_digest = registry_->Ref("team/app@" + pushed_.manifest_digest);
  absl::StatusOr<FetchedManifest> m = client_.GetManifest(by_digest, {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->digest, pushed_.manifest_digest);

  // With both, the digest decides (the tag is not even consulted).
  Reference both = registry_->Ref("team/app:no-such-tag@" + pushed_.manifest_digest);
  m = client_.GetManifest(both, {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->digest, pushed_.manifest_digest);

  m = client_.GetManifestByDigest(registry_->Ref("team/app"), pushed_.manifest_digest, {});
  ASSERT_TRUE(m.ok()) << m.status();
}

TEST_F(RegistryClientTest, UnknownManifestAndBlobAreNotFound) {
  absl::StatusOr<FetchedManifest> m = client_.GetManifest(registry_->Ref("team/app:nope"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound) << m.status();
  EXPECT_NE(m.status().message().find("manifest unknown"), absl::string_view::npos) << m.status();
  EXPECT_NE(m.status().message().find(registry_->url() + "/v2/team/app/manifests/nope"), absl::string_view::npos)
      << m.status();

  m = client_.GetManifest(registry_->Ref("team/other:v1"), {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound) << m.status();

  StringSink sink;
  absl::Status s = client_.FetchBlob(registry_->Ref("team/app"), Sha256Digest("absent"), -1, {}, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("blob unknown"), absl::string_view::npos) << s;
}

TEST_F(RegistryClientTest, WrongExpectedSizeIsDataLoss) {
  Reference ref = registry_->Ref("team/app");
  const crius::testing::Blob& layer = image_.layers[1];
  StringSink sink;
  absl::Status s = client_.FetchBlob(ref, layer.digest, layer.size() + 1, {}, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("size mismatch"), absl::string_view::npos) << s;
  StringSink small;
  s = client_.FetchBlob(ref, layer.digest, layer.size() - 1, {}, small);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  // The sink never got more than the size it was promised.
  EXPECT_LE(small.data.size(), static_cast<size_t>(layer.size() - 1));
}

TEST_F(RegistryClientTest, FetchBlobToStringHonoursItsCap) {
  Reference ref = registry_->Ref("team/app");
  absl::StatusOr<std::string> s = client_.FetchBlobToString(ref, image_.layers[0].digest, -1, {}, 1024);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted) << s.status();
  s = client_.FetchBlobToString(ref, image_.layers[0].digest, image_.layers[0].size(), {}, 1024);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted) << s.status();
}

TEST_F(RegistryClientTest, DockerSchema2Manifest) {
  absl::StatusOr<std::vector<crius::testing::TarEntry>> rootfs = crius::testing::BusyboxRootfs();
  ASSERT_TRUE(rootfs.ok());
  absl::StatusOr<BuiltImage> img = ImageBuilder().AddLayer(*rootfs).Cmd({"sh"}).DockerSchema2().Build();
  ASSERT_TRUE(img.ok()) << img.status();
  ASSERT_TRUE(registry_->Push(*img, "docker/app:v2").ok());
  Reference ref = registry_->Ref("docker/app:v2");
  absl::StatusOr<FetchedManifest> m = client_.GetManifest(ref, {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->digest, img->manifest.digest);
  absl::StatusOr<nlohmann::json> config = test::PullConfig(client_, ref, *m);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)["config"]["Cmd"][0], "sh");
}

TEST_F(RegistryClientTest, IndexSelectsThePlatformsManifest) {
  absl::StatusOr<BuiltImage> amd = ImageBuilder()
                                       .AddLayer({crius::testing::TarEntry::File("arch", "amd64\n")})
                                       .Cmd({"amd64-cmd"})
                                       .Platform("linux", "amd64")
                                       .Build();
  absl::StatusOr<BuiltImage> arm = ImageBuilder()
                                       .AddLayer({crius::testing::TarEntry::File("arch", "arm64\n")})
                                       .Cmd({"arm64-cmd"})
                                       .Platform("linux", "arm64", "v8")
                                       .Build();
  ASSERT_TRUE(amd.ok() && arm.ok());
  for (bool docker_list : {false, true}) {
    SCOPED_TRACE(docker_list ? "docker manifest list" : "oci index");
    absl::StatusOr<crius::testing::BuiltIndex> index = ImageBuilder::BuildIndex({*amd, *arm}, docker_list);
    ASSERT_TRUE(index.ok());
    absl::StatusOr<std::string> index_digest = registry_->PushIndex(*index, "multi/app:latest");
    ASSERT_TRUE(index_digest.ok()) << index_digest.status();

    Reference ref = registry_->Ref("multi/app");
    absl::StatusOr<FetchedManifest> m = client_.GetManifest(ref, {});
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->media_type, docker_list ? kDockerManifestList : kOciIndex);
    EXPECT_EQ(m->digest, *index_digest);
    for (const char* arch : {"amd64", "arm64"}) {
      absl::StatusOr<Descriptor> d = SelectPlatform(nlohmann::json::parse(m->bytes), "linux", arch);
      ASSERT_TRUE(d.ok()) << d.status();
      absl::StatusOr<FetchedManifest> child = client_.GetManifestByDigest(ref, d->digest, {});
      ASSERT_TRUE(child.ok()) << child.status();
      absl::StatusOr<nlohmann::json> config = test::PullConfig(client_, ref, *child);
      ASSERT_TRUE(config.ok()) << config.status();
      EXPECT_EQ((*config)["config"]["Cmd"][0], std::string(arch) + "-cmd");
      EXPECT_EQ((*config)["architecture"], arch);
    }
  }
}

TEST_F(RegistryClientTest, ConcurrentPullsShareTheClient) {
  Reference ref = registry_->Ref("team/app:v1");
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      const crius::testing::Blob& layer = image_.layers[i % image_.layers.size()];
      StringSink sink;
      absl::StatusOr<FetchedManifest> m = client_.GetManifest(ref, {});
      results[i] = m.ok() ? client_.FetchBlob(ref, layer.digest, layer.size(), {}, sink) : m.status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace crius::image
