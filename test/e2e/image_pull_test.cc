// Pulling through the daemon: by digest and by tag+digest (with ImageStatus
// answering the same Image for every spelling), registry authentication
// (basic from the request or from the configured auth file, token), an
// index over two platforms, and gzip/zstd/uncompressed layers in one image.

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/files.h"
#include "common/strings.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "image/descriptor.h"
#include "test/e2e/image_e2e_util.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using google::protobuf::util::MessageDifferencer;
using img::BusyboxWith;
using img::PullReq;
using img::RemoveReq;
using img::StartRegistry;
using img::StatusReq;

// A one-layer image without busybox: enough where no process runs.
absl::StatusOr<BuiltImage> Tiny(const std::string& marker) {
  return ImageBuilder().AddLayer({TarEntry::File("marker", marker)}, Compression::kGzip).Build();
}

TEST(ImagePullE2E, ByDigestAndTagDigestAndStatusIsIdenticalForEveryReference) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto image = BusyboxWith("by-digest");
  ASSERT_TRUE(image.ok()) << image.status();
  auto pushed = reg->Push(*image, "e2e/bydigest:latest");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();

  const std::string name = reg->host() + "/e2e/bydigest";
  const std::string tag_ref = name + ":latest";
  const std::string digest_ref = name + "@" + pushed->manifest_digest;
  const std::string tag_digest_ref = name + ":latest@" + pushed->manifest_digest;

  // By digest alone: the image has a repo digest and no tag yet.
  auto pulled = c.PullImage(PullReq(digest_ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);
  auto st = c.ImageStatus(StatusReq(digest_ref));
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_TRUE(st->has_image());
  EXPECT_EQ(st->image().id(), pushed->config_digest);
  EXPECT_EQ(st->image().repo_tags_size(), 0) << st->image().DebugString();
  ASSERT_EQ(st->image().repo_digests_size(), 1);
  EXPECT_EQ(st->image().repo_digests(0), digest_ref);

  // "repo:tag@digest": the digest decides what is fetched.
  pulled = c.PullImage(PullReq(tag_digest_ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);

  // And by the bare name (":latest"), which ends up tagging it.
  pulled = c.PullImage(PullReq(name));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);

  auto list = c.ListImages();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->images_size(), 1) << list->DebugString();
  const runtime::v1::Image& listed = list->images(0);
  EXPECT_EQ(listed.id(), pushed->config_digest);
  ASSERT_EQ(listed.repo_digests_size(), 1) << listed.DebugString();
  EXPECT_EQ(listed.repo_digests(0), digest_ref);
  EXPECT_TRUE(std::find(listed.repo_tags().begin(), listed.repo_tags().end(), tag_ref) !=
              listed.repo_tags().end())
      << listed.DebugString();

  // Every spelling kubelet or crictl may use answers the very same Image.
  for (const std::string& ref : {name, tag_ref, digest_ref, tag_digest_ref, pushed->config_digest,
                                 img::Hex(pushed->config_digest)}) {
    auto s = c.ImageStatus(StatusReq(ref));
    ASSERT_TRUE(s.ok()) << ref << ": " << s.status();
    ASSERT_TRUE(s->has_image()) << ref;
    EXPECT_TRUE(MessageDifferencer::Equals(s->image(), listed))
        << ref << ":\n" << s->image().DebugString() << "vs listed:\n" << listed.DebugString();
  }

  // A digest the registry does not have is NotFound, and leaves no trace.
  const std::string unknown = name + "@" + image::Sha256Digest("no such manifest");
  auto missing = c.PullImage(PullReq(unknown));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  auto after = c.ListImages();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->images_size(), 1);
}

absl::StatusOr<PushResult> PushTiny(RegistryFixture& reg, const std::string& repo_tag) {
  auto image = Tiny(repo_tag);
  if (!image.ok()) return image.status();
  return reg.Push(*image, repo_tag);
}

TEST(ImagePullE2E, BasicAuthFromThePullRequest) {
  RegistryOptions opts;
  opts.auth = RegistryOptions::Auth::kBasic;
  auto reg = StartRegistry(opts);
  ASSERT_TRUE(reg);
  auto pushed = PushTiny(*reg, "e2e/private:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();
  const std::string ref = reg->host() + "/e2e/private:v1";

  // No credentials: refused, and the error says which registry refused.
  auto denied = c.PullImage(PullReq(ref));
  ASSERT_FALSE(denied.ok());
  EXPECT_TRUE(denied.status().code() == absl::StatusCode::kUnauthenticated ||
              denied.status().code() == absl::StatusCode::kPermissionDenied)
      << denied.status();
  EXPECT_TRUE(absl::StrContains(denied.status().message(), AbslView(reg->host()))) << denied.status();

  // Wrong password: refused too.
  auto wrong = PullReq(ref);
  wrong.mutable_auth()->set_username(opts.username);
  wrong.mutable_auth()->set_password("not-the-password");
  auto refused = c.PullImage(wrong);
  EXPECT_TRUE(refused.status().code() == absl::StatusCode::kUnauthenticated ||
              refused.status().code() == absl::StatusCode::kPermissionDenied)
      << refused.status();

  // username + password.
  auto with_user = PullReq(ref);
  with_user.mutable_auth()->set_username(opts.username);
  with_user.mutable_auth()->set_password(opts.password);
  auto pulled = c.PullImage(with_user);
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);

  // What one pull's credentials opened must not serve a pull without any.
  denied = c.PullImage(PullReq(ref));
  EXPECT_TRUE(denied.status().code() == absl::StatusCode::kUnauthenticated ||
              denied.status().code() == absl::StatusCode::kPermissionDenied)
      << "a pull without credentials succeeded after an authenticated one: " << denied.status();

  // The docker "auth" field: base64("user:password").
  ASSERT_TRUE(c.RemoveImage(RemoveReq(ref)).ok());
  auto with_auth = PullReq(ref);
  with_auth.mutable_auth()->set_auth(
      absl::Base64Escape(AbslView(opts.username + ":" + opts.password)));
  pulled = c.PullImage(with_auth);
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);
  auto st = c.ImageStatus(StatusReq(ref));
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->has_image());
}

TEST(ImagePullE2E, BasicAuthFromTheConfiguredAuthFile) {
  RegistryOptions opts;
  opts.auth = RegistryOptions::Auth::kBasic;
  auto reg = StartRegistry(opts);
  ASSERT_TRUE(reg);
  auto pushed = PushTiny(*reg, "e2e/authfile:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();

  TestDaemon d;
  // A Docker config.json, the format kubelet's credential files and
  // `docker login` share.
  const std::string auth_file = d.dir() + "/docker/config.json";
  WriteTestFile(auth_file, absl::StrCat(R"({"auths":{")", reg->host(), R"(":{"auth":")",
                                        absl::Base64Escape(AbslView(opts.username + ":" + opts.password)),
                                        R"("}}})"));
  WriteTestFile(d.config_dir() + "/50-auth.yaml", absl::StrCat("image:\n  auth_file: ", auth_file, "\n"));
  ASSERT_TRUE(d.Start().ok()) << d.Log();

  const std::string ref = reg->host() + "/e2e/authfile:v1";
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);

  // Credentials in the request win over the file: bad ones are refused.
  auto wrong = PullReq(ref);
  wrong.mutable_auth()->set_username(opts.username);
  wrong.mutable_auth()->set_password("wrong");
  auto refused = d.client().PullImage(wrong);
  EXPECT_TRUE(refused.status().code() == absl::StatusCode::kUnauthenticated ||
              refused.status().code() == absl::StatusCode::kPermissionDenied)
      << refused.status();
}

TEST(ImagePullE2E, TokenAuth) {
  RegistryOptions opts;
  opts.auth = RegistryOptions::Auth::kToken;
  auto reg = StartRegistry(opts);
  ASSERT_TRUE(reg);
  auto pushed = PushTiny(*reg, "e2e/tokened:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();
  const std::string ref = reg->host() + "/e2e/tokened:v1";

  auto denied = c.PullImage(PullReq(ref));
  EXPECT_TRUE(denied.status().code() == absl::StatusCode::kUnauthenticated ||
              denied.status().code() == absl::StatusCode::kPermissionDenied)
      << denied.status();

  const size_t tokens_before = reg->token_requests();
  auto with_user = PullReq(ref);
  with_user.mutable_auth()->set_username(opts.username);
  with_user.mutable_auth()->set_password(opts.password);
  auto pulled = c.PullImage(with_user);
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);
  EXPECT_GT(reg->token_requests(), tokens_before) << "the pull went through the token server";

  // An identity (refresh) token, what `docker login` against an OAuth2
  // registry stores.
  ASSERT_TRUE(c.RemoveImage(RemoveReq(ref)).ok());
  auto with_identity = PullReq(ref);
  with_identity.mutable_auth()->set_identity_token(opts.identity_token);
  pulled = c.PullImage(with_identity);
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->config_digest);
}

TEST(ImagePullE2E, IndexPullsTheHostPlatform) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  const std::string host_arch = image::HostPlatform().architecture;
  const std::string other_arch = host_arch == "arm64" ? "amd64" : "arm64";
  auto mine = ImageBuilder()
                  .AddLayer({TarEntry::File("arch", host_arch)}, Compression::kGzip)
                  .Label("arch", host_arch)
                  .Platform("linux", host_arch)
                  .Build();
  auto other = ImageBuilder()
                   .AddLayer({TarEntry::File("arch", other_arch)}, Compression::kGzip)
                   .Label("arch", other_arch)
                   .Platform("linux", other_arch)
                   .Build();
  ASSERT_TRUE(mine.ok() && other.ok());
  ASSERT_NE(mine->config.digest, other->config.digest);
  // The foreign platform first, so "take the first entry" would be caught.
  auto index = ImageBuilder::BuildIndex({*other, *mine});
  ASSERT_TRUE(index.ok()) << index.status();
  auto index_digest = reg->PushIndex(*index, "e2e/multi:v1");
  ASSERT_TRUE(index_digest.ok()) << index_digest.status();

  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();
  const std::string ref = reg->host() + "/e2e/multi:v1";
  auto pulled = c.PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), mine->config.digest);

  // The repo digest is the index's: what `docker pull repo@<that>` and
  // kubelet's image spec name.
  const std::string repo_digest = reg->host() + "/e2e/multi@" + *index_digest;
  auto st = c.ImageStatus(StatusReq(ref));
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->has_image());
  EXPECT_EQ(st->image().id(), mine->config.digest);
  ASSERT_EQ(st->image().repo_digests_size(), 1) << st->image().DebugString();
  EXPECT_EQ(st->image().repo_digests(0), repo_digest);
  auto by_digest = c.ImageStatus(StatusReq(repo_digest));
  ASSERT_TRUE(by_digest.ok());
  ASSERT_TRUE(by_digest->has_image());
  EXPECT_TRUE(MessageDifferencer::Equals(by_digest->image(), st->image()));

  // Pulling by the index digest gives the same image.
  pulled = c.PullImage(PullReq(repo_digest));
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(pulled->image_ref(), mine->config.digest);

  // The other platform's config and layer were never fetched.
  const std::string root = d.root_dir();
  EXPECT_TRUE(img::Exists(img::BlobPath(root, mine->config.digest)));
  EXPECT_FALSE(img::Exists(img::BlobPath(root, other->config.digest)));
  EXPECT_FALSE(img::Exists(img::BlobPath(root, other->layers[0].digest)));
  EXPECT_EQ(img::VisibleEntries(img::LayersDir(root)),
            std::vector<std::string>{img::Hex(mine->diff_ids[0])});
  auto arch = ReadFile(img::LayerDir(root, mine->diff_ids[0]) + "/diff/arch");
  ASSERT_TRUE(arch.ok()) << arch.status();
  EXPECT_EQ(*arch, host_arch);
}

TEST(ImagePullE2E, GzipZstdAndUncompressedLayersInOneImage) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto rootfs = BusyboxRootfs();
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  const std::vector<std::pair<std::string, std::string>> files = {
      {"gzip.txt", "from a gzip layer\n"},
      {"zstd.txt", "from a zstd layer\n"},
      {"plain.txt", "from an uncompressed layer\n"}};
  auto oci = ImageBuilder()
                 .AddLayer(*rootfs, Compression::kNone)
                 .AddLayer({TarEntry::File(files[0].first, files[0].second)}, Compression::kGzip)
                 .AddLayer({TarEntry::File(files[1].first, files[1].second)}, Compression::kZstd)
                 .AddLayer({TarEntry::File(files[2].first, files[2].second)}, Compression::kNone)
                 .Build();
  ASSERT_TRUE(oci.ok()) << oci.status();
  // Docker schema 2 knows gzip and uncompressed layers only.
  auto docker = ImageBuilder()
                    .DockerSchema2()
                    .AddLayer(*rootfs, Compression::kGzip)
                    .AddLayer({TarEntry::File(files[0].first, files[0].second)}, Compression::kGzip)
                    .AddLayer({TarEntry::File(files[2].first, files[2].second)}, Compression::kNone)
                    .Build();
  ASSERT_TRUE(docker.ok()) << docker.status();
  auto oci_pushed = reg->Push(*oci, "e2e/mixed:oci");
  ASSERT_TRUE(oci_pushed.ok()) << oci_pushed.status();
  auto docker_pushed = reg->Push(*docker, "e2e/mixed:docker");
  ASSERT_TRUE(docker_pushed.ok()) << docker_pushed.status();

  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto pulled = d.client().PullImage(PullReq(reg->host() + "/e2e/mixed:oci"));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), oci->config.digest);
  pulled = d.client().PullImage(PullReq(reg->host() + "/e2e/mixed:docker"));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), docker->config.digest);

  const std::string root = d.root_dir();
  // Each layer above the base left one file naming its compression.
  auto oci_chains = img::ChainIds(oci->diff_ids);
  ASSERT_EQ(oci_chains.size(), 4u);
  for (size_t i = 0; i < files.size(); ++i) {
    auto data = ReadFile(img::LayerDir(root, oci_chains[i + 1]) + "/diff/" + files[i].first);
    ASSERT_TRUE(data.ok()) << files[i].first << ": " << data.status();
    EXPECT_EQ(*data, files[i].second);
  }
  auto chains = img::ChainIds(docker->diff_ids);
  auto gz = ReadFile(img::LayerDir(root, chains[1]) + "/diff/" + files[0].first);
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(*gz, files[0].second);
  auto plain = ReadFile(img::LayerDir(root, chains[2]) + "/diff/" + files[2].first);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, files[2].second);
  // Both bases are busybox, compressed differently: one DiffID, one layer.
  EXPECT_EQ(oci->diff_ids[0], docker->diff_ids[0]);
  std::set<std::string> want = img::ChainHexes(oci->diff_ids);
  for (const auto& h : img::ChainHexes(docker->diff_ids)) want.insert(h);
  auto have = img::VisibleEntries(img::LayersDir(root));
  EXPECT_EQ(std::set<std::string>(have.begin(), have.end()), want);
  EXPECT_EQ(have.size(), want.size()) << "one directory per chain id";
  auto busybox = ReadFile(img::LayerDir(root, oci->diff_ids[0]) + "/diff/etc/passwd");
  EXPECT_TRUE(busybox.ok()) << busybox.status();
}

// Old Docker builds repeat the same empty layer blob several times in one
// manifest; each occurrence is its own layer in the stack (its own chain
// id) though the blob is one.
TEST(ImagePullE2E, SameLayerBlobTwiceInOneManifest) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto rootfs = BusyboxRootfs();
  ASSERT_TRUE(rootfs.ok());
  auto image = ImageBuilder()
                   .AddLayer(*rootfs, Compression::kGzip)
                   .AddLayer({}, Compression::kNone)
                   .AddLayer({TarEntry::File("etc/between", "x\n")}, Compression::kGzip)
                   .AddLayer({}, Compression::kNone)
                   .Build();
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->layers[1].digest, image->layers[3].digest);
  auto pushed = reg->Push(*image, "e2e/repeated:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = reg->host() + "/e2e/repeated:v1";
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), image->config.digest);
  const std::string root = d.root_dir();
  auto layers = img::Entries(img::LayersDir(root));
  EXPECT_EQ(std::set<std::string>(layers.begin(), layers.end()), img::ChainHexes(image->diff_ids));
  EXPECT_EQ(layers.size(), 4u);
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});

  ASSERT_TRUE(d.client().RemoveImage(RemoveReq(ref)).ok());
  EXPECT_EQ(img::Entries(root + "/content/blobs/sha256"), std::vector<std::string>{});
  EXPECT_EQ(img::VisibleEntries(img::LayersDir(root)), std::vector<std::string>{});
}

}  // namespace
}  // namespace crius::testing
