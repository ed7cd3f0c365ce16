// A full disk under the daemon's root (images, layers, records, container
// writable layers): a small tmpfs mounted on the test daemon's root dir. A
// pull that runs out of space while downloading or while unpacking, and a
// RunPodSandbox, StopPodSandbox or CreateContainer whose record cannot be
// written, must fail with RESOURCE_EXHAUSTED, keep no partial blob, layer or
// record, and work once space returns, also across a restart of the daemon.
// Needs root (mount).

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/container_util.h"
#include "test/e2e/image_e2e_util.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using img::PullReq;
using img::StatusReq;
using ::testing::IsEmpty;

// A tmpfs of `size` on `dir` while this object lives; Resize changes its
// size in place (the files stay).
class SmallDisk {
 public:
  SmallDisk(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    EXPECT_TRUE(MkdirAll(dir_).ok());
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                       absl::StrCat("size=", size, ",mode=0755").c_str()) == 0;
    EXPECT_TRUE(mounted_) << "mount tmpfs on " << dir_ << ": " << std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_) (void)::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return mounted_; }
  void Resize(const std::string& size) {
    ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV,
                      absl::StrCat("size=", size, ",mode=0755").c_str()),
              0)
        << std::strerror(errno);
  }
  // Writes a file until the disk is full; removing it gives the space back.
  void Fill() {
    UniqueFd fd(::open(filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid()) << std::strerror(errno);
    const std::string chunk(64 << 10, 'f');
    for (;;) {
      ssize_t n = ::write(fd.get(), chunk.data(), chunk.size());
      if (n > 0) continue;
      ASSERT_EQ(errno, ENOSPC) << std::strerror(errno);
      break;
    }
    // The last pages too, byte by byte.
    while (::write(fd.get(), "f", 1) == 1) {
    }
  }
  void Free() { ASSERT_EQ(::unlink(filler().c_str()), 0) << std::strerror(errno); }

 private:
  std::string filler() const { return dir_ + "/filler"; }
  std::string dir_;
  bool mounted_ = false;
};

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  }

  // Pushes a busybox-free image of one small layer and `big` (a layer
  // holding a file of `size` bytes, compressed with `compression`).
  std::string PushImage(size_t size, Compression compression) {
    registry_ = img::StartRegistry();
    if (registry_ == nullptr) return "";
    auto image = ImageBuilder()
                     .AddLayer({TarEntry::File("base", "fine\n")}, Compression::kGzip)
                     .AddLayer({TarEntry::File("big", std::string(size, 'z'))}, compression)
                     .Build();
    EXPECT_TRUE(image.ok()) << image.status();
    if (!image.ok()) return "";
    image_ = *image;
    EXPECT_TRUE(registry_->Push(image_, "full/app:v1").ok());
    return registry_->host() + "/full/app:v1";
  }

  void ExpectNoImageAndNoPartialLayer(const std::string& ref) {
    auto list = d_.client().ListImages();
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_EQ(list->images_size(), 0);
    auto st = d_.client().ImageStatus(StatusReq(ref));
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_FALSE(st->has_image());
    const std::string root = d_.root_dir();
    EXPECT_EQ(img::Entries(img::IngestDir(root)), std::vector<std::string>{});
    EXPECT_FALSE(img::Exists(img::BlobPath(root, image_.layers[1].digest)));
    EXPECT_FALSE(img::Exists(img::LayerDir(root, img::ChainIds(image_.diff_ids)[1])));
    for (const auto& name : img::Entries(img::LayersDir(root))) {
      EXPECT_NE(name[0], '.') << "unpack leftover " << name;
    }
  }

  // On a 1 MiB root, pulls an image whose top layer holds a 4 MiB file
  // (compressed with `compression`): RESOURCE_EXHAUSTED and nothing of the
  // layer kept. `check_image` looks at the image before the daemon starts.
  // Once space is back the same pull works, and the image outlives a restart.
  void ExpectPullOutOfSpaceThenWorks(Compression compression,
                                     const std::function<void()>& check_image = nullptr) {
    SmallDisk disk(d_.root_dir(), "1m");
    ASSERT_TRUE(disk.mounted());
    const std::string ref = PushImage(4 << 20, compression);
    ASSERT_FALSE(ref.empty());
    if (check_image) check_image();
    ASSERT_TRUE(d_.Start().ok()) << d_.Log();

    auto failed = d_.client().PullImage(PullReq(ref));
    ASSERT_FALSE(failed.ok());
    ExpectResourceExhausted(failed.status());
    ExpectNoImageAndNoPartialLayer(ref);

    disk.Resize("64m");
    auto pulled = d_.client().PullImage(PullReq(ref));
    ASSERT_TRUE(pulled.ok()) << pulled.status() << d_.Log();
    ASSERT_TRUE(d_.Stop().ok());
    ASSERT_TRUE(d_.Start().ok()) << d_.Log();
    auto st = d_.client().ImageStatus(StatusReq(ref));
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_TRUE(st->has_image());
  }

  void ExpectResourceExhausted(const absl::Status& s) {
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "No space left on device")) << s;
  }

  TestDaemon d_;
  std::unique_ptr<RegistryFixture> registry_;
  BuiltImage image_;
};

// The layer does not fit while it downloads (stored as it comes, no
// compression to hide its size).
TEST_F(DiskFull, PullOutOfSpaceWhileDownloadingIsResourceExhausted) {
  ExpectPullOutOfSpaceThenWorks(Compression::kNone);
}

// The compressed layer fits; its content does not, while it unpacks.
TEST_F(DiskFull, PullOutOfSpaceWhileUnpackingIsResourceExhausted) {
  ExpectPullOutOfSpaceThenWorks(Compression::kGzip, [this] {
    EXPECT_LT(image_.layers[1].data.size(), 256u << 10) << "the layer should compress well";
  });
}

// No room for the pod's record: RunPodSandbox is RESOURCE_EXHAUSTED and
// leaves no record, whole or partial; once space returns the retry works
// and the pod comes back after a restart.
TEST_F(DiskFull, RunPodSandboxWithoutRoomForItsRecordIsResourceExhausted) {
  SmallDisk disk(d_.root_dir(), "4m");
  ASSERT_TRUE(disk.mounted());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  const std::string records = d_.root_dir() + "/sandboxes";
  auto config = HostNetworkPodConfig("full");
  config.set_log_directory(d_.dir() + "/logs");

  disk.Fill();
  auto failed = RunPod(d_.client(), config);
  ASSERT_FALSE(failed.ok()) << "ran " << *failed;
  ExpectResourceExhausted(failed.status());
  EXPECT_THAT(img::Entries(records), IsEmpty());
  auto listed = d_.client().ListPodSandbox();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->items_size(), 0);
  EXPECT_THAT(MountsUnder(d_.state_dir() + "/"), IsEmpty());

  disk.Free();
  auto id = RunPod(d_.client(), config);
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(d_.Stop().ok());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  auto pod = InspectPod(d_.client(), *id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->status.state(), runtime::v1::SANDBOX_READY);
  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(*id);
  EXPECT_TRUE(d_.client().StopPodSandbox(stop).ok()) << d_.Log();
  runtime::v1::RemovePodSandboxRequest rm;
  rm.set_pod_sandbox_id(*id);
  EXPECT_TRUE(d_.client().RemovePodSandbox(rm).ok()) << d_.Log();
  EXPECT_THAT(img::Entries(records), IsEmpty());
}

// The disk fills while a pod runs: StopPodSandbox cannot write the stopped
// state (RESOURCE_EXHAUSTED) but the record on disk stays whole, a daemon
// restarted on the still-full disk starts and recovers the pod, and once
// space returns the pod is stopped and removed without a trace.
TEST_F(DiskFull, StopOnAFullDiskKeepsAWholeRecordAndARestartRecovers) {
  SmallDisk disk(d_.root_dir(), "4m");
  ASSERT_TRUE(disk.mounted());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  const std::string records = d_.root_dir() + "/sandboxes";
  auto config = HostNetworkPodConfig("full-stop");
  config.set_log_directory(d_.dir() + "/logs");
  auto id = RunPod(d_.client(), config);
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  auto record = ReadFile(records + "/" + *id + ".json");
  ASSERT_TRUE(record.ok()) << record.status();

  disk.Fill();
  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(*id);
  auto stopped = d_.client().StopPodSandbox(stop);
  if (!stopped.ok()) ExpectResourceExhausted(stopped.status());
  EXPECT_THAT(img::Entries(records), ::testing::ElementsAre(*id + ".json"));
  EXPECT_EQ(ReadFile(records + "/" + *id + ".json").value_or(""), *record)
      << "the record changed although nothing could be written";

  ASSERT_TRUE(d_.Kill().ok());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  auto pod = InspectPod(d_.client(), *id);
  ASSERT_TRUE(pod.ok()) << pod.status();

  disk.Free();
  EXPECT_TRUE(d_.client().StopPodSandbox(stop).ok()) << d_.Log();
  runtime::v1::RemovePodSandboxRequest rm;
  rm.set_pod_sandbox_id(*id);
  EXPECT_TRUE(d_.client().RemovePodSandbox(rm).ok()) << d_.Log();
  EXPECT_THAT(img::Entries(records), IsEmpty());
  EXPECT_THAT(MountsUnder(d_.state_dir() + "/"), IsEmpty());
}

// The container fixture (busybox pulled, one pod) on a 32 MiB root.
class DiskFullContainer : public ContainerE2E {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    ContainerE2E::SetUp();
  }
  void BeforeDaemonStart() override {
    disk_ = std::make_unique<SmallDisk>(d_.root_dir(), "32m");
    ASSERT_TRUE(disk_->mounted());
  }
  std::unique_ptr<SmallDisk> disk_;
};

// No room for a container's record or writable layer: CreateContainer is
// RESOURCE_EXHAUSTED and leaves no record, rootfs or overlay mount; once
// space returns the retry runs, and the container outlives a restart.
TEST_F(DiskFullContainer, CreateContainerWithoutRoomIsResourceExhausted) {
  const std::string records = d_.root_dir() + "/containers";
  disk_->Fill();
  auto failed = Create("web", {"/bin/sleep", "1000"});
  ASSERT_FALSE(failed.ok()) << "created " << *failed;
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kResourceExhausted) << failed.status();
  EXPECT_THAT(img::Entries(records), IsEmpty());
  EXPECT_THAT(img::VisibleEntries(d_.root_dir() + "/overlay"), ::testing::Each(::testing::Eq("l")));
  EXPECT_THAT(MountsUnder(d_.root_dir() + "/overlay/"), IsEmpty());
  auto listed = d_.client().ListContainers({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->containers_size(), 0);

  disk_->Free();
  auto id = Create("web", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  WaitFor(*id, runtime::v1::CONTAINER_RUNNING);
  ASSERT_TRUE(d_.Stop().ok());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  WaitFor(*id, runtime::v1::CONTAINER_RUNNING);
  runtime::v1::RemoveContainerRequest rm;
  rm.set_container_id(*id);
  EXPECT_TRUE(d_.client().RemoveContainer(rm).ok()) << d_.Log();
  EXPECT_THAT(img::Entries(records), IsEmpty());
}

}  // namespace
}  // namespace crius::testing
