#include "image/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/files.h"
#include "common/os.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/digest.h"
#include "image/layer_store.h"
#include "test/unit/common/mock_os.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/image_store/tar_builder.h"

namespace crius::image {
namespace {

using testing::Compression;
using testing::TarBuilder;
using testing::TempDir;

bool Exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

// The /proc/self/mountinfo line of the mount at `path` ("" if none).
std::string MountInfoLine(const std::string& path) {
  std::string info = *ReadFile("/proc/self/mountinfo");
  size_t at = info.find(" " + path + " ");
  if (at == std::string::npos) return "";
  size_t begin = info.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return info.substr(begin, info.find('\n', at) - begin);
}

// Detaches whatever is still mounted at `path` when the test ends, pass or
// fail, so a failed assertion never leaves a mount behind.
class MountGuard {
 public:
  explicit MountGuard(std::string path) : path_(std::move(path)) {}
  ~MountGuard() {
    for (int i = 0; i < 8; ++i) {
      absl::StatusOr<bool> m = IsMountPoint(path_);
      if (!m.ok() || !*m) return;
      ::umount2(path_.c_str(), MNT_DETACH);
    }
  }

 private:
  std::string path_;
};

class RootfsTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlay mounts)";
    auto r = Rootfs::Open(os_, {.root = tmp_.Path("overlay"), .force_legacy_mount = GetParam()});
    ASSERT_TRUE(r.ok()) << r.status();
    rootfs_ = std::move(r).value();
  }
  MountGuard& Guard(const std::string& id) {
    guards_.push_back(std::make_unique<MountGuard>(rootfs_->MergedPath(id)));
    return *guards_.back();
  }

  RealOs os_;
  TempDir tmp_;
  std::unique_ptr<Rootfs> rootfs_;
  std::vector<std::unique_ptr<MountGuard>> guards_;  // destroyed before tmp_
};

TEST_P(RootfsTest, StackedLayersApplyWhiteoutsAndOpaqueDirs) {
  auto layers = LayerStore::Open(tmp_.path());
  ASSERT_TRUE(layers.ok()) << layers.status();
  TarBuilder base, top;
  base.File("etc/passwd", "root:x:0:0\n")
      .File("etc/group", "root:x:0:\n")
      .File("var/cache/a", "a")
      .File("var/cache/sub/b", "b")
      .File("keep/file", "k");
  top.Add({.path = "etc/.wh.passwd"})
      .Add({.path = "var/cache/.wh..wh..opq"})
      .File("var/cache/c", "c")
      .File("keep/file", "new");
  std::vector<std::string> diff_ids, blobs;
  int n = 0;
  for (const TarBuilder* b : {&base, &top}) {
    std::string tar = b->Tar();
    std::string path = tmp_.Path("blob" + std::to_string(n++));
    ASSERT_TRUE(WriteFileAtomic(path, TarBuilder::Compress(tar, Compression::kZstd)).ok());
    blobs.push_back(path);
    diff_ids.push_back(Sha256Digest(tar));
  }
  std::vector<std::string> chain = ChainIds(diff_ids);
  std::vector<std::string> lowers;  // topmost first
  for (int i = 1; i >= 0; --i) {
    auto info = (*layers)->Ensure(chain[i], blobs[i], diff_ids[i]);
    ASSERT_TRUE(info.ok()) << info.status();
    lowers.push_back(info->path);
  }

  Guard("c1");
  auto merged = rootfs_->Mount("c1", lowers);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_FALSE(Exists(*merged + "/etc/passwd"));
  EXPECT_EQ(*ReadFile(*merged + "/etc/group"), "root:x:0:\n");
  EXPECT_FALSE(Exists(*merged + "/var/cache/a"));
  EXPECT_FALSE(Exists(*merged + "/var/cache/sub"));
  EXPECT_EQ(*ReadFile(*merged + "/var/cache/c"), "c");
  EXPECT_EQ(*ReadFile(*merged + "/keep/file"), "new");

  // Writes land in the container's upper directory, not in the layers.
  ASSERT_TRUE(WriteFileAtomic(*merged + "/etc/passwd", "new passwd").ok());
  EXPECT_EQ(*ReadFile(tmp_.Path("overlay/c1/upper/etc/passwd")), "new passwd");
  EXPECT_EQ(*ReadFile(lowers[1] + "/etc/passwd"), "root:x:0:0\n");

  // Idempotent.
  auto again = rootfs_->Mount("c1", lowers);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *merged);
  auto state = rootfs_->State("c1");
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->exists);
  EXPECT_TRUE(state->mounted);
  EXPECT_EQ(state->merged, *merged);
  EXPECT_EQ(*rootfs_->List(), std::vector<std::string>{"c1"});

  ASSERT_TRUE(rootfs_->Unmount("c1").ok());
  ASSERT_TRUE(rootfs_->Unmount("c1").ok());
  EXPECT_FALSE(*IsMountPoint(*merged));
  ASSERT_TRUE(rootfs_->Remove("c1").ok());
  ASSERT_TRUE(rootfs_->Remove("c1").ok());
  EXPECT_FALSE(Exists(tmp_.Path("overlay/c1")));
  state = rootfs_->State("c1");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->exists);
  EXPECT_FALSE(state->mounted);
}

TEST_P(RootfsTest, SixtyLayersWithLongPathsMount) {
  // Each path is ~250 bytes: 60 of them are far past mount(2)'s one page.
  std::vector<std::string> lowers;  // topmost first
  size_t total = 0;
  for (int i = 59; i >= 0; --i) {
    std::string dir =
        tmp_.Path("layers/" + std::string(200, 'x') + "-layer-" + std::to_string(i) + "/diff");
    ASSERT_TRUE(MkdirAll(dir).ok());
    ASSERT_TRUE(WriteFileAtomic(dir + "/f" + std::to_string(i), std::to_string(i)).ok());
    ASSERT_TRUE(WriteFileAtomic(dir + "/shared", std::to_string(i)).ok());
    total += dir.size() + 1;
    lowers.push_back(dir);
  }
  ASSERT_GT(total, 4096u);
  Guard("many");
  auto merged = rootfs_->Mount("many", lowers);
  ASSERT_TRUE(merged.ok()) << merged.status();
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(*ReadFile(*merged + "/f" + std::to_string(i)), std::to_string(i));
  }
  EXPECT_EQ(*ReadFile(*merged + "/shared"), "59");  // the topmost layer wins
  // Which way it was mounted: the fallback names layers by short links.
  std::string line = MountInfoLine(*merged);
  EXPECT_NE(line.find(" overlay "), std::string::npos) << line;
  EXPECT_EQ(line.find("lowerdir=l/") != std::string::npos, GetParam()) << line;
  ASSERT_TRUE(rootfs_->Remove("many").ok());
  EXPECT_FALSE(*IsMountPoint(*merged));
  EXPECT_FALSE(Exists(tmp_.Path("overlay/many")));
  ASSERT_TRUE(rootfs_->PruneLinks().ok());
}

TEST_P(RootfsTest, BusyRootfsIsDetached) {
  std::string layer = tmp_.Path("layer");
  ASSERT_TRUE(MkdirAll(layer).ok());
  ASSERT_TRUE(WriteFileAtomic(layer + "/file", "x").ok());
  Guard("busy");
  auto merged = rootfs_->Mount("busy", {layer});
  ASSERT_TRUE(merged.ok()) << merged.status();
  {
    UniqueFd held(::open((*merged + "/file").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(held.valid());
    ASSERT_TRUE(rootfs_->Remove("busy").ok());
    EXPECT_FALSE(*IsMountPoint(*merged));
  }
  EXPECT_FALSE(Exists(tmp_.Path("overlay/busy")));
}

TEST_P(RootfsTest, ImageWithoutLayersAndBadIds) {
  Guard("empty");
  auto merged = rootfs_->Mount("empty", {});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(*IsMountPoint(*merged));
  ASSERT_TRUE(rootfs_->Remove("empty").ok());
  for (const char* bad : {"", "l", "../x", "a/b", ".hidden", "-x"}) {
    EXPECT_EQ(rootfs_->Mount(bad, {}).status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(rootfs_->Remove(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(rootfs_->Mount("rel", {"relative/dir"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// One container's unmount that takes long (a busy filesystem, a slow
// disk) holds up no other container's mount: the lock is per container.
TEST_P(RootfsTest, ASlowUnmountDoesNotHoldUpAnotherContainersMount) {
  RealOs real;
  ::testing::NiceMock<testing::MockOs> os;
  absl::Notification in_unmount, release;
  ON_CALL(os, Mount).WillByDefault(
      [&](const std::string& src, const std::string& target, const std::string& type,
          unsigned long flags,
          const std::string& data) { return real.Mount(src, target, type, flags, data); });
  auto slow = Rootfs::Open(os, {.root = tmp_.Path("overlay2"), .force_legacy_mount = GetParam()});
  ASSERT_TRUE(slow.ok()) << slow.status();
  Rootfs& r = **slow;
  const std::string slow_merged = r.MergedPath("slow");
  ON_CALL(os, Unmount).WillByDefault([&](const std::string& target, int flags) {
    if (target == slow_merged && !in_unmount.HasBeenNotified()) {
      in_unmount.Notify();
      release.WaitForNotification();
    }
    return real.Unmount(target, flags);
  });
  MountGuard slow_guard(slow_merged);
  MountGuard fast_guard(r.MergedPath("fast"));
  ASSERT_TRUE(r.Mount("slow", {}).ok());

  absl::Status unmounted = absl::UnknownError("not run");
  std::thread unmounter([&] { unmounted = r.Unmount("slow"); });
  in_unmount.WaitForNotification();
  absl::StatusOr<std::string> fast = absl::UnknownError("not run");
  absl::Notification mounted;
  std::thread mounter([&] {
    fast = r.Mount("fast", {});
    mounted.Notify();
  });
  // A deadline, not a timing: with one lock for every container the mount
  // waits for the release below, which only comes after it.
  EXPECT_TRUE(mounted.WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "Mount of another container waited for the unmount in progress";
  release.Notify();
  mounter.join();
  unmounter.join();
  EXPECT_TRUE(fast.ok()) << fast.status();
  EXPECT_TRUE(unmounted.ok()) << unmounted;
  EXPECT_FALSE(*IsMountPoint(slow_merged));
  EXPECT_TRUE(r.Remove("fast").ok());
  EXPECT_TRUE(r.Remove("slow").ok());
}

INSTANTIATE_TEST_SUITE_P(MountApi, RootfsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "LegacyMount" : "NewMountApi";
                         });

TEST(IsMountPointTest, KnowsRootAndNonMounts) {
  EXPECT_TRUE(*IsMountPoint("/"));
  EXPECT_TRUE(*IsMountPoint("/proc"));
  EXPECT_FALSE(*IsMountPoint("/proc/self/fd/../nonexistent-dir-xyz"));
}

}  // namespace
}  // namespace crius::image
