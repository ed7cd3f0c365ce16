// Image lifecycle through the daemon: a tag moving to a newer image, removal
// by tag and by id with collection of what no image still uses, and
// concurrent pulls of one image sharing the work.

#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "test/e2e/image_e2e_util.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using img::BusyboxWith;
using img::PullReq;
using img::RemoveReq;
using img::StartRegistry;
using img::StatusReq;

const runtime::v1::Image* FindListed(const runtime::v1::ListImagesResponse& list, const std::string& id) {
  for (const auto& i : list.images()) {
    if (i.id() == id) return &i;
  }
  return nullptr;
}

std::vector<std::string> Tags(const runtime::v1::Image& i) {
  return {i.repo_tags().begin(), i.repo_tags().end()};
}
std::vector<std::string> Digests(const runtime::v1::Image& i) {
  return {i.repo_digests().begin(), i.repo_digests().end()};
}

TEST(ImageGcE2E, MovedTagLeavesTheOldImageUntaggedWithItsDigest) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto a = BusyboxWith("image A", Compression::kZstd);
  auto b = BusyboxWith("image B", Compression::kZstd);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_NE(a->config.digest, b->config.digest);
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string name = reg->host() + "/e2e/moving";
  const std::string tag = name + ":latest";

  auto pushed_a = reg->Push(*a, "e2e/moving:latest");
  ASSERT_TRUE(pushed_a.ok()) << pushed_a.status();
  auto pulled = d.client().PullImage(PullReq(name));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  ASSERT_EQ(pulled->image_ref(), a->config.digest);

  // The tag now names B in the registry; pulling it again brings B.
  auto pushed_b = reg->Push(*b, "e2e/moving:latest");
  ASSERT_TRUE(pushed_b.ok()) << pushed_b.status();
  pulled = d.client().PullImage(PullReq(tag));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  ASSERT_EQ(pulled->image_ref(), b->config.digest);

  auto check = [&](const std::string& when) {
    auto list = d.client().ListImages();
    ASSERT_TRUE(list.ok()) << list.status();
    ASSERT_EQ(list->images_size(), 2) << when << list->DebugString();
    const runtime::v1::Image* la = FindListed(*list, a->config.digest);
    const runtime::v1::Image* lb = FindListed(*list, b->config.digest);
    ASSERT_TRUE(la && lb) << when << list->DebugString();
    EXPECT_EQ(Tags(*lb), std::vector<std::string>{tag}) << when;
    EXPECT_EQ(Digests(*lb), std::vector<std::string>{name + "@" + pushed_b->manifest_digest}) << when;
    EXPECT_TRUE(Tags(*la).empty()) << when << la->DebugString();
    EXPECT_EQ(Digests(*la), std::vector<std::string>{name + "@" + pushed_a->manifest_digest}) << when;
    // The tag and the name resolve to B; A's repo digest still to A.
    for (const std::string& ref : {name, tag}) {
      auto st = d.client().ImageStatus(StatusReq(ref));
      ASSERT_TRUE(st.ok() && st->has_image()) << when << ref;
      EXPECT_EQ(st->image().id(), b->config.digest) << when << ref;
    }
    auto old = d.client().ImageStatus(StatusReq(name + "@" + pushed_a->manifest_digest));
    ASSERT_TRUE(old.ok() && old->has_image()) << when;
    EXPECT_EQ(old->image().id(), a->config.digest) << when;
  };
  check("after the second pull: ");
  // The move was persisted, not only made in memory.
  auto stopped = d.Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  check("after a restart: ");

  // The untagged old image can go without touching B.
  ASSERT_TRUE(d.client().RemoveImage(RemoveReq(a->config.digest)).ok());
  auto st = d.client().ImageStatus(StatusReq(tag));
  ASSERT_TRUE(st.ok() && st->has_image());
  EXPECT_EQ(st->image().id(), b->config.digest);
  const std::string root = d.root_dir();
  for (const auto& chain : img::ChainIds(b->diff_ids)) {
    EXPECT_TRUE(img::Exists(img::LayerDir(root, chain))) << chain;
  }
  EXPECT_FALSE(img::Exists(img::LayerDir(root, img::ChainIds(a->diff_ids)[1])));
}

TEST(ImageGcE2E, RemoveByTagByIdAndCollectUnsharedContent) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto x = BusyboxWith("image X", Compression::kZstd);
  auto y = BusyboxWith("image Y", Compression::kZstd);
  ASSERT_TRUE(x.ok() && y.ok());
  ASSERT_EQ(x->diff_ids[0], y->diff_ids[0]) << "the base layer is shared";
  auto px1 = reg->Push(*x, "e2e/x:v1");
  auto px2 = reg->Push(*x, "e2e/x:v2");
  auto py = reg->Push(*y, "e2e/y:v1");
  ASSERT_TRUE(px1.ok() && px2.ok() && py.ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();
  const std::string x1 = reg->host() + "/e2e/x:v1";
  const std::string x2 = reg->host() + "/e2e/x:v2";
  const std::string y1 = reg->host() + "/e2e/y:v1";
  for (const auto& ref : {x1, x2, y1}) {
    auto pulled = c.PullImage(PullReq(ref));
    ASSERT_TRUE(pulled.ok()) << ref << ": " << pulled.status() << d.Log();
  }
  auto st = c.ImageStatus(StatusReq(x->config.digest));
  ASSERT_TRUE(st.ok() && st->has_image());
  std::vector<std::string> tags = Tags(st->image());
  std::sort(tags.begin(), tags.end());
  ASSERT_EQ(tags, (std::vector<std::string>{x1, x2}));

  const std::string root = d.root_dir();
  const auto xc = img::ChainIds(x->diff_ids);
  const auto yc = img::ChainIds(y->diff_ids);
  ASSERT_EQ(xc[0], yc[0]);
  for (const auto& chain : {xc[0], xc[1], yc[1]}) {
    ASSERT_TRUE(img::Exists(img::LayerDir(root, chain))) << chain;
  }
  for (const auto& blob : {x->config.digest, x->layers[1].digest, x->layers[0].digest, px1->manifest_digest}) {
    ASSERT_TRUE(img::Exists(img::BlobPath(root, blob))) << blob;
  }

  // By one of two tags: only that tag goes.
  ASSERT_TRUE(c.RemoveImage(RemoveReq(x1)).ok());
  auto gone_tag = c.ImageStatus(StatusReq(x1));
  ASSERT_TRUE(gone_tag.ok());
  EXPECT_FALSE(gone_tag->has_image()) << gone_tag->DebugString();
  st = c.ImageStatus(StatusReq(x2));
  ASSERT_TRUE(st.ok() && st->has_image());
  EXPECT_EQ(st->image().id(), x->config.digest);
  EXPECT_EQ(Tags(st->image()), std::vector<std::string>{x2});
  EXPECT_TRUE(img::Exists(img::LayerDir(root, xc[1])));
  EXPECT_TRUE(img::Exists(img::BlobPath(root, x->config.digest)));

  // Put the tag back, then remove by id: the image goes with both tags.
  ASSERT_TRUE(c.PullImage(PullReq(x1)).ok());
  ASSERT_TRUE(c.RemoveImage(RemoveReq(x->config.digest)).ok());
  for (const auto& ref : {x1, x2, x->config.digest, reg->host() + "/e2e/x@" + px1->manifest_digest}) {
    auto s = c.ImageStatus(StatusReq(ref));
    ASSERT_TRUE(s.ok()) << ref << ": " << s.status();
    EXPECT_FALSE(s->has_image()) << ref;
  }
  auto list = c.ListImages();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->images_size(), 1);
  EXPECT_EQ(list->images(0).id(), y->config.digest);

  // What only X used is gone from disk; the base Y shares stays.
  EXPECT_FALSE(img::Exists(img::LayerDir(root, xc[1])));
  EXPECT_FALSE(img::Exists(img::BlobPath(root, x->config.digest)));
  EXPECT_FALSE(img::Exists(img::BlobPath(root, x->layers[1].digest)));
  EXPECT_FALSE(img::Exists(img::BlobPath(root, px1->manifest_digest)));
  EXPECT_TRUE(img::Exists(img::LayerDir(root, xc[0])));
  EXPECT_TRUE(img::Exists(img::LayerDir(root, yc[1])));
  EXPECT_TRUE(img::Exists(img::BlobPath(root, x->layers[0].digest)));
  EXPECT_TRUE(img::Exists(img::BlobPath(root, y->config.digest)));
  EXPECT_TRUE(img::Exists(img::BlobPath(root, py->manifest_digest)));
  auto layers = img::VisibleEntries(img::LayersDir(root));
  EXPECT_EQ(std::set<std::string>(layers.begin(), layers.end()), img::ChainHexes(y->diff_ids));

  // Missing images are fine to remove, by every spelling.
  for (const auto& ref : {x1, x->config.digest, reg->host() + "/e2e/never:v1"}) {
    auto s = c.RemoveImage(RemoveReq(ref));
    EXPECT_TRUE(s.ok()) << ref << ": " << s.status();
  }

  // The last image leaves an empty store behind.
  ASSERT_TRUE(c.RemoveImage(RemoveReq(y1)).ok());
  EXPECT_EQ(img::VisibleEntries(img::LayersDir(root)), std::vector<std::string>{});
  EXPECT_EQ(img::Entries(root + "/content/blobs/sha256"), std::vector<std::string>{});
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
  list = c.ListImages();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->images_size(), 0);
}

// One image (one config) reached through several manifests: gzip and zstd
// layers under two tags, and an index whose platform manifest is a third.
// Removing it must free every manifest and layer blob it was pulled with.
TEST(ImageGcE2E, ImageReachedThroughSeveralManifestsIsCollectedWhole) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto rootfs = BusyboxRootfs();
  ASSERT_TRUE(rootfs.ok());
  auto build = [&](Compression c) {
    return ImageBuilder().AddLayer(*rootfs, c).AddLayer({TarEntry::File("etc/same", "same\n")}, c).Build();
  };
  auto gz = build(Compression::kGzip);
  auto zs = build(Compression::kZstd);
  auto plain = build(Compression::kNone);
  ASSERT_TRUE(gz.ok() && zs.ok() && plain.ok());
  ASSERT_EQ(gz->config.digest, zs->config.digest) << "same content, same config";
  ASSERT_EQ(gz->config.digest, plain->config.digest);
  ASSERT_NE(gz->manifest.digest, zs->manifest.digest);
  auto index = ImageBuilder::BuildIndex({*plain});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(reg->Push(*gz, "e2e/same:gz").ok());
  ASSERT_TRUE(reg->Push(*zs, "e2e/same:zst").ok());
  ASSERT_TRUE(reg->PushIndex(*index, "e2e/same:index").ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string name = reg->host() + "/e2e/same";
  for (const std::string tag : {":index", ":gz", ":zst"}) {
    auto pulled = d.client().PullImage(PullReq(name + tag));
    ASSERT_TRUE(pulled.ok()) << tag << ": " << pulled.status() << d.Log();
    EXPECT_EQ(pulled->image_ref(), gz->config.digest);
  }
  auto list = d.client().ListImages();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->images_size(), 1) << list->DebugString();
  EXPECT_EQ(list->images(0).repo_tags_size(), 3) << list->DebugString();
  EXPECT_EQ(list->images(0).repo_digests_size(), 3) << list->DebugString();
  const std::string root = d.root_dir();
  for (const auto* b : {&*gz, &*zs, &*plain}) {
    EXPECT_TRUE(img::Exists(img::BlobPath(root, b->manifest.digest))) << b->manifest.digest;
  }

  ASSERT_TRUE(d.client().RemoveImage(RemoveReq(gz->config.digest)).ok());
  list = d.client().ListImages();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->images_size(), 0);
  for (const auto& [what, b] : std::vector<std::pair<std::string, const BuiltImage*>>{
           {"gzip manifest", &*gz}, {"zstd manifest", &*zs}, {"the index's platform manifest", &*plain}}) {
    EXPECT_FALSE(img::Exists(img::BlobPath(root, b->manifest.digest)))
        << what << " " << b->manifest.digest << " kept after the image was removed";
  }
  EXPECT_EQ(img::Entries(root + "/content/blobs/sha256"), std::vector<std::string>{});
  EXPECT_EQ(img::VisibleEntries(img::LayersDir(root)), std::vector<std::string>{});
}

TEST(ImageGcE2E, ConcurrentPullsOfOneImageUnpackItOnce) {
  auto reg = StartRegistry();
  ASSERT_TRUE(reg);
  auto rootfs = BusyboxRootfs();
  ASSERT_TRUE(rootfs.ok());
  auto image = ImageBuilder()
                   .AddLayer(*rootfs, Compression::kGzip)
                   .AddLayer({TarEntry::File("etc/one", "1\n")}, Compression::kZstd)
                   .AddLayer({TarEntry::File("etc/two", "2\n")}, Compression::kNone)
                   .Build();
  ASSERT_TRUE(image.ok()) << image.status();
  auto pushed = reg->Push(*image, "e2e/together:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();

  // Half the callers use the tag and half the digest: identical references
  // share one pull, different ones race each other in the layer store.
  const std::string by_tag = reg->host() + "/e2e/together:v1";
  const std::string by_digest = reg->host() + "/e2e/together@" + pushed->manifest_digest;
  constexpr int kPullers = 8;
  std::vector<absl::StatusOr<runtime::v1::PullImageResponse>> results(
      kPullers, absl::UnknownError("not run"));
  std::latch ready(kPullers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPullers; ++i) {
    threads.emplace_back([&, i] {
      auto client = client::CriClient::Connect(d.endpoint(), absl::Seconds(30));
      ready.arrive_and_wait();
      if (!client.ok()) {
        results[i] = client.status();
        return;
      }
      results[i] = (*client)->PullImage(PullReq(i % 2 == 0 ? by_tag : by_digest));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kPullers; ++i) {
    ASSERT_TRUE(results[i].ok()) << "puller " << i << ": " << results[i].status() << d.Log();
    EXPECT_EQ(results[i]->image_ref(), image->config.digest) << "puller " << i;
  }

  auto list = d.client().ListImages();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->images_size(), 1) << list->DebugString();
  EXPECT_EQ(Tags(list->images(0)), std::vector<std::string>{by_tag});
  EXPECT_EQ(Digests(list->images(0)), std::vector<std::string>{by_digest});

  // One directory per layer and no leftovers of duplicate unpacks or
  // downloads (those would be .tmp-* dirs or ingest files).
  const std::string root = d.root_dir();
  auto layers = img::Entries(img::LayersDir(root));
  EXPECT_EQ(std::set<std::string>(layers.begin(), layers.end()), img::ChainHexes(image->diff_ids));
  EXPECT_EQ(layers.size(), image->layers.size());
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
  auto two = ReadFile(img::LayerDir(root, img::ChainIds(image->diff_ids)[2]) + "/diff/etc/two");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(*two, "2\n");
}

}  // namespace
}  // namespace crius::testing
