// From registry to container root filesystem without the daemon (containers
// are not served yet): ImageManager pulls a three-layer image over HTTPS from
// the real registry (busybox; a layer deleting a file; a layer replacing a
// directory), and its Rootfs stacks the unpacked layers with overlayfs. The
// merged view must be what the image means, writes must land in the
// container's upper directory, and Unmount/Remove must leave no mount.

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/os.h"
#include "gtest/gtest.h"
#include "image/image_manager.h"
#include "test/e2e/image_e2e_util.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

// Lines of /proc/self/mountinfo that mention `needle`.
std::vector<std::string> MountLinesWith(const std::string& needle) {
  std::vector<std::string> out;
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return {"cannot read mountinfo: " + info.status().ToString()};
  size_t start = 0;
  while (start < info->size()) {
    size_t end = info->find('\n', start);
    if (end == std::string::npos) end = info->size();
    std::string line = info->substr(start, end - start);
    if (line.find(needle) != std::string::npos) out.push_back(line);
    start = end + 1;
  }
  return out;
}

// Whatever the test leaves mounted at `merged` is detached when it ends,
// pass or fail, before the temp dir holding it is deleted.
class MountCleanup {
 public:
  explicit MountCleanup(std::string merged) : merged_(std::move(merged)) {}
  ~MountCleanup() {
    for (int i = 0; i < 8; ++i) {
      auto mounted = image::IsMountPoint(merged_);
      if (!mounted.ok() || !*mounted) return;
      ::umount2(merged_.c_str(), MNT_DETACH);
    }
  }

 private:
  std::string merged_;
};

std::string RandomId() {
  std::random_device rd;
  return absl::StrFormat("ctr-%08x%08x", rd(), rd());
}

bool IsWhiteout(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

TEST(ImageRootfs, PulledLayersStackWithWhiteoutsAndOpaqueDirs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlay mounts, trusted.* xattrs)";
  RegistryOptions ropts;
  ropts.tls = true;
  auto reg = RegistryFixture::Start(ropts);
  ASSERT_TRUE(reg.ok()) << reg.status();

  auto busybox = BusyboxRootfs();
  ASSERT_TRUE(busybox.ok()) << busybox.status();
  std::vector<TarEntry> base = *busybox;
  base.push_back(TarEntry::File("etc/gone.txt", "deleted by the next layer\n"));
  base.push_back(TarEntry::File("etc/kept.txt", "kept\n"));
  base.push_back(TarEntry::Dir("opt"));
  base.push_back(TarEntry::Dir("opt/data"));
  base.push_back(TarEntry::File("opt/data/old1", "old\n"));
  base.push_back(TarEntry::Dir("opt/data/sub"));
  base.push_back(TarEntry::File("opt/data/sub/old2", "old\n"));
  auto built = ImageBuilder()
                   .AddLayer(base, Compression::kGzip)
                   .AddLayer({TarEntry::Dir("etc"), TarEntry::Whiteout("etc/gone.txt")}, Compression::kZstd)
                   .AddLayer({TarEntry::Dir("opt"), TarEntry::Dir("opt/data"), TarEntry::OpaqueDir("opt/data"),
                              TarEntry::File("opt/data/new", "new\n")},
                             Compression::kNone)
                   .Build();
  ASSERT_TRUE(built.ok()) << built.status();
  auto pushed = (*reg)->Push(*built, "rootfs/layered:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();

  TempDir tmp("crius-rootfs-");
  RealOs os;
  image::ImageManagerOptions opts;
  opts.root = tmp.Sub("root");
  // The fixture's registry speaks HTTPS with its own CA.
  opts.registry.hosts.push_back({(*reg)->host(), {}, false, (*reg)->ca_file()});
  auto manager = image::ImageManager::Open(os, opts);
  ASSERT_TRUE(manager.ok()) << manager.status();
  image::ImageManager& m = **manager;

  auto pulled = m.Pull((*reg)->host() + "/rootfs/layered:v1", {});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ((*pulled)->id, built->config.digest);
  auto lowers = m.LowerDirs(**pulled);
  ASSERT_TRUE(lowers.ok()) << lowers.status();
  ASSERT_EQ(lowers->size(), 3u);
  const auto chains = img::ChainIds(built->diff_ids);
  // Topmost first, as overlayfs wants them.
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*lowers)[i], img::LayerDir(opts.root, chains[2 - i]) + "/diff");
  }
  // OCI whiteouts became overlayfs's: a 0/0 device and an opaque marker.
  EXPECT_TRUE(IsWhiteout((*lowers)[1] + "/etc/gone.txt"));
  EXPECT_FALSE(img::Exists((*lowers)[1] + "/etc/.wh.gone.txt"));
  char opaque[8] = {};
  EXPECT_EQ(::lgetxattr(((*lowers)[0] + "/opt/data").c_str(), "trusted.overlay.opaque", opaque,
                        sizeof(opaque)),
            1);
  EXPECT_EQ(opaque[0], 'y');
  EXPECT_FALSE(img::Exists((*lowers)[0] + "/opt/data/.wh..wh..opq"));

  const std::string id = RandomId();
  MountCleanup cleanup(m.rootfs().MergedPath(id));
  auto merged = m.rootfs().Mount(id, *lowers);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*merged, m.rootfs().MergedPath(id));
  ASSERT_EQ(MountLinesWith(" " + *merged + " ").size(), 1u);
  auto state = m.rootfs().State(id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_TRUE(state->mounted);

  // What the image means: busybox, the whited-out file gone, the opaque
  // directory holding only the top layer's content.
  struct stat st;
  ASSERT_EQ(::stat((*merged + "/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode) && (st.st_mode & 0111));
  EXPECT_EQ(::stat((*merged + "/bin/sh").c_str(), &st), 0) << "applet symlink resolves";
  EXPECT_TRUE(img::Exists(*merged + "/etc/passwd"));
  EXPECT_EQ(*ReadFile(*merged + "/etc/kept.txt"), "kept\n");
  EXPECT_FALSE(img::Exists(*merged + "/etc/gone.txt"));
  EXPECT_EQ(img::Entries(*merged + "/opt/data"), std::vector<std::string>{"new"});
  EXPECT_EQ(*ReadFile(*merged + "/opt/data/new"), "new\n");
  EXPECT_FALSE(img::Exists(*merged + "/opt/data/sub/old2"));

  // Writes and deletes land in the container's upper dir; layers stay as
  // they were (another container may share them).
  const std::string upper = opts.root + "/overlay/" + id + "/upper";
  ASSERT_TRUE(WriteFileAtomic(*merged + "/tmp/written", "by the container\n").ok());
  ASSERT_EQ(::unlink((*merged + "/etc/kept.txt").c_str()), 0);
  EXPECT_EQ(*ReadFile(upper + "/tmp/written"), "by the container\n");
  EXPECT_TRUE(IsWhiteout(upper + "/etc/kept.txt"));
  for (const auto& lower : *lowers) EXPECT_FALSE(img::Exists(lower + "/tmp/written")) << lower;
  EXPECT_EQ(*ReadFile((*lowers)[2] + "/etc/kept.txt"), "kept\n");

  // A rootfs in use keeps its image: with the in-use check wired as the
  // daemon does, removal is refused and nothing is collected.
  m.SetInUseCheck([&](const std::string& image_id) { return image_id == built->config.digest; });
  auto refused = m.Remove(built->config.digest);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  for (const auto& lower : *lowers) EXPECT_TRUE(img::Exists(lower)) << lower;

  ASSERT_TRUE(m.rootfs().Unmount(id).ok());
  EXPECT_EQ(MountLinesWith(*merged), std::vector<std::string>{});
  state = m.rootfs().State(id);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_FALSE(state->mounted);
  EXPECT_TRUE(state->exists);
  EXPECT_TRUE(img::Exists(upper + "/tmp/written")) << "unmounting keeps the container's changes";
  EXPECT_TRUE(m.rootfs().Unmount(id).ok()) << "unmounting twice is fine";

  ASSERT_TRUE(m.rootfs().Remove(id).ok());
  EXPECT_FALSE(img::Exists(opts.root + "/overlay/" + id));
  EXPECT_EQ(MountLinesWith(id), std::vector<std::string>{});
  auto listed = m.rootfs().List();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(std::find(listed->begin(), listed->end(), id) == listed->end());
  EXPECT_TRUE(m.rootfs().Remove(id).ok()) << "removing twice is fine";

  // With the container gone the image can go, and its layers with it.
  m.SetInUseCheck(nullptr);
  ASSERT_TRUE(m.Remove(built->config.digest).ok());
  for (const auto& lower : *lowers) EXPECT_FALSE(img::Exists(lower)) << lower;
  EXPECT_EQ(img::VisibleEntries(img::LayersDir(opts.root)), std::vector<std::string>{});
}

TEST(ImageRootfs, RemoveWhileMountedUnmountsFirst) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (overlay mounts)";
  auto reg = RegistryFixture::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto built = ImageBuilder().AddLayer({TarEntry::File("hello", "hi\n")}, Compression::kGzip).Build();
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE((*reg)->Push(*built, "rootfs/small:v1").ok());

  TempDir tmp("crius-rootfs-");
  RealOs os;
  image::ImageManagerOptions opts;
  opts.root = tmp.Sub("root");
  auto manager = image::ImageManager::Open(os, opts);
  ASSERT_TRUE(manager.ok()) << manager.status();
  auto pulled = (*manager)->Pull((*reg)->host() + "/rootfs/small:v1", {});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  auto lowers = (*manager)->LowerDirs(**pulled);
  ASSERT_TRUE(lowers.ok());

  const std::string id = RandomId();
  image::Rootfs& rootfs = (*manager)->rootfs();
  MountCleanup cleanup(rootfs.MergedPath(id));
  auto merged = rootfs.Mount(id, *lowers);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*ReadFile(*merged + "/hello"), "hi\n");
  // Mounting again answers the same path without stacking a second mount.
  auto again = rootfs.Mount(id, *lowers);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *merged);
  EXPECT_EQ(MountLinesWith(" " + *merged + " ").size(), 1u);

  ASSERT_TRUE(rootfs.Remove(id).ok());
  EXPECT_EQ(MountLinesWith(id), std::vector<std::string>{});
  EXPECT_FALSE(img::Exists(opts.root + "/overlay/" + id));
}

}  // namespace
}  // namespace crius::testing
