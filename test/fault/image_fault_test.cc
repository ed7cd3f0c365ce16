// Pulls that go wrong, through the daemon: a registry serving a corrupted
// blob, a registry that stalls in the middle of a layer (and the daemon
// killed during such a pull), one that drops the connection mid-layer
// (retried a bounded number of times), and a schema 1 manifest. Each must
// fail with a clear error and leave nothing behind: no image, no
// half-written download, no layer directory; what a failed pull did
// complete must be collected by a restart at the latest.

#include <atomic>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/files.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "test/e2e/image_e2e_util.h"
#include "test/support/fake_http_server.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using img::PullReq;
using img::StatusReq;

// Waits (polling) until `cond` holds or `timeout` passes; returns cond().
template <typename Cond>
bool WaitFor(Cond cond, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() > deadline) return cond();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// No image listed and none found by `ref`.
void ExpectNoImage(TestDaemon& d, const std::string& ref) {
  auto list = d.client().ListImages();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->images_size(), 0) << list->DebugString();
  auto st = d.client().ImageStatus(StatusReq(ref));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_FALSE(st->has_image());
}

// Busybox plus a second layer holding one 64 KiB file: the layer the
// tests corrupt (layers[1]).
absl::StatusOr<BuiltImage> BusyboxWithFileLayer() {
  auto rootfs = BusyboxRootfs();
  if (!rootfs.ok()) return rootfs.status();
  return ImageBuilder()
      .AddLayer(*rootfs, Compression::kGzip)
      .AddLayer({TarEntry::File("etc/bad", std::string(64 << 10, 'x'))}, Compression::kGzip)
      .Build();
}

TEST(ImageFault, CorruptedLayerIsDataLossAndNothingIsKept) {
  auto reg = RegistryFixture::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto image = BusyboxWithFileLayer();
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE((*reg)->Push(*image, "fault/corrupt:v1").ok());
  const std::string bad = image->layers[1].digest;
  ASSERT_TRUE((*reg)->CorruptBlob(bad).ok());

  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = (*reg)->host() + "/fault/corrupt:v1";
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_FALSE(pulled.ok()) << "a corrupted layer was accepted";
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kDataLoss) << pulled.status();
  EXPECT_TRUE(absl::StrContains(pulled.status().message(), "digest mismatch")) << pulled.status();
  EXPECT_TRUE(absl::StrContains(pulled.status().message(), AbslView(bad))) << pulled.status();

  ExpectNoImage(d, ref);
  const std::string root = d.root_dir();
  const auto chains = img::ChainIds(image->diff_ids);
  EXPECT_FALSE(img::Exists(img::BlobPath(root, bad)));
  EXPECT_FALSE(img::Exists(img::LayerDir(root, chains[1])));
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
  for (const auto& name : img::Entries(img::LayersDir(root))) {
    EXPECT_NE(name[0], '.') << "unpack or removal leftover " << name;
  }

  // Once the registry serves the right bytes again, the same pull works:
  // nothing from the failed attempt stands in the way.
  ASSERT_TRUE((*reg)->CorruptBlob(bad).ok()) << "flipping the bytes back";
  pulled = d.client().PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), image->config.digest);
  auto layers = img::Entries(img::LayersDir(root));
  EXPECT_EQ(std::set<std::string>(layers.begin(), layers.end()), img::ChainHexes(image->diff_ids));
}

// A failed pull may leave complete pieces behind (the manifest, the config,
// layers that did arrive): no image refers to them, so RemoveImage can never
// free them, yet ImageFsInfo counts them. At the latest a restart must
// collect them (the image store keeps ReferencedBlobs/ReferencedChainIds
// for exactly that).
TEST(ImageFault, LeftoversOfAFailedPullAreCollectedByARestart) {
  auto reg = RegistryFixture::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto image = BusyboxWithFileLayer();
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE((*reg)->Push(*image, "fault/orphans:v1").ok());
  ASSERT_TRUE((*reg)->CorruptBlob(image->layers[1].digest).ok());

  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = (*reg)->host() + "/fault/orphans:v1";
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_EQ(pulled.status().code(), absl::StatusCode::kDataLoss) << pulled.status();
  auto stopped = d.Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_TRUE(d.Start().ok()) << d.Log();

  ExpectNoImage(d, ref);
  const std::string root = d.root_dir();
  EXPECT_EQ(img::Entries(root + "/content/blobs/sha256"), std::vector<std::string>{})
      << "manifest " << image->manifest.digest << ", config " << image->config.digest << ", base layer "
      << image->layers[0].digest;
  EXPECT_EQ(img::Entries(img::LayersDir(root)), std::vector<std::string>{})
      << "base layer chain " << image->diff_ids[0];
}

// A registry of one image whose second layer misbehaves halfway: its
// headers and half its bytes, then either silence until the server stops
// (kStall) or a closed connection (kCut). `times` bounds how many requests
// for the layer misbehave (-1: all); later ones get the whole layer.
class FaultyLayerRegistry {
 public:
  enum class Fault { kStall, kCut };
  explicit FaultyLayerRegistry(BuiltImage image, Fault fault = Fault::kStall, int times = -1)
      : image_(std::move(image)), fault_(fault), faults_left_(times) {}

  absl::Status Start() {
    auto s = FakeHttpServer::Start([this](const FakeRequest& r) { return Handle(r); });
    if (!s.ok()) return s.status();
    server_ = std::move(*s);
    return absl::OkStatus();
  }
  FakeHttpServer& server() { return *server_; }
  bool StallReached() const { return stall_reached_.load(); }
  // Requests for the faulty layer so far.
  int LayerRequests() const { return layer_requests_.load(); }
  // From now on the layer is served whole.
  void Heal() { faults_left_ = 0; }
  // Stops serving; a stalled response ends with its connection.
  void Stop() { server_.reset(); }

 private:
  FakeResponse Handle(const FakeRequest& r) {
    FakeResponse out;
    const std::string blobs = "/v2/stall/app/blobs/";
    if (r.path == "/v2/" || r.path == "/v2") {
      out.body = "{}";
    } else if (r.path == "/v2/stall/app/manifests/v1" ||
               r.path == "/v2/stall/app/manifests/" + image_.manifest.digest) {
      out.headers = {{"Content-Type", image_.manifest.media_type},
                     {"Docker-Content-Digest", image_.manifest.digest}};
      out.body = image_.manifest.data;
    } else if (r.path == blobs + image_.config.digest) {
      out.body = image_.config.data;
    } else if (r.path == blobs + image_.layers[0].digest) {
      out.body = image_.layers[0].data;
    } else if (r.path == blobs + image_.layers[1].digest) {
      const std::string& data = image_.layers[1].data;
      ++layer_requests_;
      int left = faults_left_.load();
      while (left != 0 && !faults_left_.compare_exchange_weak(left, left > 0 ? left - 1 : left)) {
      }
      if (left == 0) {
        out.body = data;
        return out;
      }
      out.mode = fault_ == Fault::kStall ? FakeResponse::Mode::kStallAfterHeaders
                                         : FakeResponse::Mode::kCutAfterBody;
      out.body = data.substr(0, data.size() / 2);
      out.promised_length = data.size();
      stall_reached_ = true;
    } else {
      out.status = 404;
      out.headers = {{"Content-Type", "application/json"}};
      out.body = R"({"errors":[{"code":"NOT_FOUND","message":"not here"}]})";
    }
    return out;
  }

  BuiltImage image_;
  const Fault fault_;
  std::atomic<int> faults_left_;
  std::atomic<int> layer_requests_{0};
  std::unique_ptr<FakeHttpServer> server_;
  std::atomic<bool> stall_reached_{false};
};

absl::StatusOr<BuiltImage> TwoLayerImage(const std::string& base = "fine\n", char fill = 'z') {
  return ImageBuilder()
      .AddLayer({TarEntry::File("base", base)}, Compression::kGzip)
      .AddLayer({TarEntry::File("big", std::string(256 << 10, fill))}, Compression::kNone)
      .Build();
}

// Nothing of the faulty layer is kept: no blob, no layer dir, no download.
void ExpectNoFaultyLayer(TestDaemon& d, const BuiltImage& image) {
  const std::string root = d.root_dir();
  EXPECT_FALSE(img::Exists(img::BlobPath(root, image.layers[1].digest)));
  EXPECT_FALSE(img::Exists(img::LayerDir(root, img::ChainIds(image.diff_ids)[1])));
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
}

TEST(ImageFault, StalledLayerIsDeadlineExceededAfterTheProgressTimeout) {
  auto image = TwoLayerImage();
  ASSERT_TRUE(image.ok()) << image.status();
  FaultyLayerRegistry reg(*image);
  ASSERT_TRUE(reg.Start().ok());
  TestDaemon d;
  WriteTestFile(d.config_dir() + "/50-pull.yaml", "image:\n  pull_progress_timeout_seconds: 2\n");
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = reg.server().host() + "/stall/app:v1";

  absl::Notification done;
  absl::Status pull_status = absl::UnknownError("not run");
  std::thread puller([&] {
    // A generous client deadline: the daemon's own timeout must fire first
    // (its message says so; the client's would not).
    pull_status = d.client().PullImage(PullReq(ref), absl::Minutes(5)).status();
    done.Notify();
  });
  // While the pull hangs, the daemon keeps answering (kubelet relists).
  bool stalled = WaitFor([&] { return reg.StallReached() || done.HasBeenNotified(); });
  if (stalled && !done.HasBeenNotified()) {
    auto st = d.client().ImageStatus(StatusReq(ref));
    EXPECT_TRUE(st.ok()) << st.status();
    auto list = d.client().ListImages();
    EXPECT_TRUE(list.ok()) << list.status();
  }
  puller.join();
  EXPECT_TRUE(stalled) << "the daemon never asked for the stalling layer";
  EXPECT_EQ(pull_status.code(), absl::StatusCode::kDeadlineExceeded) << pull_status;
  EXPECT_TRUE(absl::StrContains(pull_status.message(), "no progress")) << pull_status;

  ExpectNoImage(d, ref);
  ExpectNoFaultyLayer(d, *image);
}

// A pull waiting on a stalled registry holds no lock that image removal
// and garbage collection need: another image is removed, and its blobs and
// layers collected, while the pull still waits.
TEST(ImageFault, RemoveImageDoesNotWaitForAStalledPull) {
  auto stalled_image = TwoLayerImage();
  ASSERT_TRUE(stalled_image.ok()) << stalled_image.status();
  auto other_image = TwoLayerImage("other\n", 'y');  // no layer in common
  ASSERT_TRUE(other_image.ok()) << other_image.status();
  FaultyLayerRegistry stalling(*stalled_image);
  ASSERT_TRUE(stalling.Start().ok());
  FaultyLayerRegistry healthy(*other_image, FaultyLayerRegistry::Fault::kStall, /*times=*/0);
  ASSERT_TRUE(healthy.Start().ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string other = healthy.server().host() + "/stall/app:v1";
  ASSERT_TRUE(d.client().PullImage(PullReq(other)).ok()) << d.Log();
  const std::string root = d.root_dir();
  ASSERT_TRUE(img::Exists(img::BlobPath(root, other_image->layers[1].digest)));

  absl::Status pull_status = absl::UnknownError("not run");
  std::thread puller([&] {
    pull_status =
        d.client().PullImage(PullReq(stalling.server().host() + "/stall/app:v1")).status();
  });
  // The stall reached, and the other layer of that pull stored.
  const bool stalled = WaitFor([&] {
    return stalling.StallReached() &&
           img::Exists(img::BlobPath(root, stalled_image->layers[0].digest));
  });
  if (stalled) {
    // Far below the pull's 60 s progress timeout, which would end the stall.
    auto removed = d.client().RemoveImage(img::RemoveReq(other), absl::Seconds(20));
    EXPECT_TRUE(removed.ok()) << "RemoveImage waited for the stalled pull: " << removed.status();
    ExpectNoImage(d, other);
    EXPECT_FALSE(img::Exists(img::BlobPath(root, other_image->layers[1].digest)));
    EXPECT_FALSE(img::Exists(img::LayerDir(root, img::ChainIds(other_image->diff_ids)[1])));
    // The stalled pull's stored blob, which no image refers to yet, was
    // kept for it.
    EXPECT_TRUE(img::Exists(img::BlobPath(root, stalled_image->layers[0].digest)));
  }
  stalling.Stop();
  puller.join();
  ASSERT_TRUE(stalled) << "the daemon never asked for the stalling layer";
  EXPECT_FALSE(pull_status.ok());
}

// The registry drops the connection twice in the middle of a layer: the
// daemon starts the layer over and the pull succeeds, with nothing of the
// cut downloads left.
TEST(ImageFault, LayerCutMidBlobTwiceIsRetriedAndThePullSucceeds) {
  auto image = TwoLayerImage();
  ASSERT_TRUE(image.ok()) << image.status();
  FaultyLayerRegistry reg(*image, FaultyLayerRegistry::Fault::kCut, /*times=*/2);
  ASSERT_TRUE(reg.Start().ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = reg.server().host() + "/stall/app:v1";

  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(reg.LayerRequests(), 3);
  auto st = d.client().ImageStatus(StatusReq(ref));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->has_image());
  const std::string root = d.root_dir();
  EXPECT_TRUE(img::Exists(img::BlobPath(root, image->layers[1].digest)));
  EXPECT_TRUE(img::Exists(img::LayerDir(root, img::ChainIds(image->diff_ids)[1])));
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
}

// A registry that drops the layer's connection every time: after a bounded
// number of attempts the pull is UNAVAILABLE, nothing of the layer is kept,
// and once the registry is well again the same pull works.
TEST(ImageFault, LayerCutEveryTimeIsUnavailableAndALaterPullWorks) {
  auto image = TwoLayerImage();
  ASSERT_TRUE(image.ok()) << image.status();
  FaultyLayerRegistry reg(*image, FaultyLayerRegistry::Fault::kCut);
  ASSERT_TRUE(reg.Start().ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = reg.server().host() + "/stall/app:v1";

  auto failed = d.client().PullImage(PullReq(ref));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_TRUE(absl::StrContains(failed.status().message(), image->layers[1].digest))
      << failed.status();
  EXPECT_TRUE(absl::StrContains(failed.status().message(), "3 attempts")) << failed.status();
  EXPECT_EQ(reg.LayerRequests(), 3);
  ExpectNoImage(d, ref);
  ExpectNoFaultyLayer(d, *image);

  reg.Heal();
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  auto st = d.client().ImageStatus(StatusReq(ref));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->has_image());
}

TEST(ImageFault, DaemonKilledDuringAPullRestartsClean) {
  auto image = TwoLayerImage();
  ASSERT_TRUE(image.ok()) << image.status();
  FaultyLayerRegistry reg(*image);
  ASSERT_TRUE(reg.Start().ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = reg.server().host() + "/stall/app:v1";
  const std::string root = d.root_dir();

  // The puller has its own connection: Kill drops the daemon's client.
  auto client = client::CriClient::Connect(d.endpoint(), absl::Seconds(30));
  ASSERT_TRUE(client.ok()) << client.status();
  std::thread puller([&] { (void)(*client)->PullImage(PullReq(ref), absl::Minutes(5)); });
  // Kill it once the stalled download has started writing.
  bool writing = WaitFor([&] { return reg.StallReached() && !img::Entries(img::IngestDir(root)).empty(); });
  auto killed = d.Kill();
  puller.join();
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_TRUE(writing) << "the pull never reached the stalling layer" << d.Log();

  ASSERT_TRUE(d.Start().ok()) << d.Log();
  ExpectNoImage(d, ref);
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
  EXPECT_FALSE(img::Exists(img::LayerDir(root, img::ChainIds(image->diff_ids)[1])));
  for (const auto& name : img::Entries(img::LayersDir(root))) {
    EXPECT_NE(name[0], '.') << "unpack leftover " << name;
  }
}

// A top layer whose tar stream ends right after its last file's data (no
// padding, no zero blocks; umoci 0.4.7 writes such layers) is pulled and
// unpacked; one cut inside that data is refused and nothing of it is kept.
TEST(ImageFault, LayerEndingAfterItsLastDataIsPulledAndOneCutInsideItIsRefused) {
  auto reg = img::StartRegistry();
  ASSERT_NE(reg, nullptr);
  auto build = [](ImageBuilder::TarEnd end) {
    return ImageBuilder()
        .AddLayer({TarEntry::File("base", "fine\n")}, Compression::kGzip)
        .AddLayer({TarEntry::File("etc/last", std::string(3000, 'z'))}, Compression::kGzip)
        .TopLayerTarEnd(end)
        .Build();
  };
  auto ended = build(ImageBuilder::TarEnd::kAfterLastData);
  ASSERT_TRUE(ended.ok()) << ended.status();
  auto cut = build(ImageBuilder::TarEnd::kInsideLastData);
  ASSERT_TRUE(cut.ok()) << cut.status();
  ASSERT_TRUE(reg->Push(*ended, "umoci/app:v1").ok());
  ASSERT_TRUE(reg->Push(*cut, "umoci/app:cut").ok());
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string root = d.root_dir();

  auto refused = d.client().PullImage(PullReq(reg->host() + "/umoci/app:cut"));
  ASSERT_FALSE(refused.ok());
  EXPECT_FALSE(img::Exists(img::LayerDir(root, img::ChainIds(cut->diff_ids)[1])));
  EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
  for (const auto& name : img::Entries(img::LayersDir(root))) {
    EXPECT_NE(name[0], '.') << "unpack leftover " << name;
  }

  const std::string ref = reg->host() + "/umoci/app:v1";
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  auto data = ReadFile(img::LayerDir(root, img::ChainIds(ended->diff_ids)[1]) + "/diff/etc/last");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, std::string(3000, 'z'));
}

TEST(ImageFault, Schema1ManifestIsAClearError) {
  auto server = FakeHttpServer::Start([](const FakeRequest& r) {
    FakeResponse out;
    if (absl::StrContains(AbslView(r.path), "/manifests/")) {
      out.headers = {{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}};
      out.body = R"({"schemaVersion":1,"name":"old/app","tag":"v1","architecture":"amd64",)"
                 R"("fsLayers":[],"history":[],"signatures":[]})";
    } else {
      out.body = "{}";
    }
    return out;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  const std::string ref = (*server)->host() + "/old/app:v1";
  auto pulled = d.client().PullImage(PullReq(ref));
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kFailedPrecondition) << pulled.status();
  EXPECT_TRUE(absl::StrContains(pulled.status().message(), "schema 1")) << pulled.status();
  EXPECT_TRUE(absl::StrContains(pulled.status().message(), AbslView(ref))) << pulled.status();
  ExpectNoImage(d, ref);
  EXPECT_EQ(img::Entries(d.root_dir() + "/content/blobs/sha256"), std::vector<std::string>{});
}

}  // namespace
}  // namespace crius::testing
