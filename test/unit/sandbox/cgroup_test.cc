// Pod cgroups: layout detection and path checks from synthetic mount
// tables, create/remove bookkeeping on plain directories (no root), and the
// real hierarchies of this machine (root).

#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/mock_os.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::sandbox {
namespace {

using ::crius::testing::MockOs;
using ::crius::testing::TempDir;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using namespace ::crius::sandbox::testing;  // NOLINT

constexpr char kHybridMountInfo[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,noprefix,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,xattr,release_agent=/x,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    // The memory hierarchy again, and a sub-cgroup bind-mounted elsewhere.
    "50 23 0:32 / /mnt/memory rw,relatime - cgroup cgroup rw,memory\n"
    "51 23 0:29 /sub /mnt/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n";

CgroupSetup Detect(const std::string& text) {
  auto mounts = ParseMountInfo(text);
  EXPECT_TRUE(mounts.ok()) << mounts.status();
  auto setup = DetectCgroups(mounts.value_or(std::vector<MountInfo>{}));
  EXPECT_TRUE(setup.ok()) << setup.status();
  return setup.value_or(CgroupSetup{});
}

TEST(DetectCgroups, HybridListsEachHierarchyOnceWithItsControllers) {
  CgroupSetup setup = Detect(kHybridMountInfo);
  EXPECT_EQ(setup.layout, CgroupLayout::kHybrid);
  std::vector<std::string> points;
  for (const auto& h : setup.hierarchies) points.push_back(h.mount_point);
  EXPECT_THAT(points, ElementsAre("/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuset",
                                  "/sys/fs/cgroup/memory", "/sys/fs/cgroup/systemd",
                                  "/sys/fs/cgroup/unified"));
  EXPECT_THAT(setup.hierarchies[0].controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_THAT(setup.hierarchies[1].controllers, ElementsAre("cpuset"));
  EXPECT_THAT(setup.hierarchies[3].controllers, ElementsAre("name=systemd"));
  EXPECT_TRUE(setup.hierarchies[4].v2);
  EXPECT_FALSE(setup.hierarchies[0].v2);
}

TEST(DetectCgroups, PureV1AndPureV2) {
  EXPECT_EQ(Detect("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n").layout,
            CgroupLayout::kV1);
  CgroupSetup v2 = Detect("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  EXPECT_EQ(v2.layout, CgroupLayout::kV2);
  ASSERT_EQ(v2.hierarchies.size(), 1u);
  EXPECT_EQ(v2.hierarchies[0].mount_point, "/sys/fs/cgroup");
}

TEST(DetectCgroups, NoCgroupsIsFailedPrecondition) {
  auto mounts = ParseMountInfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
  ASSERT_TRUE(mounts.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(DetectCgroups(*mounts).status()));
}

TEST(ValidateCgroupPath, AcceptsKubeletsCgroupfsForm) {
  EXPECT_TRUE(ValidateCgroupPath("/kubepods/burstable/pod0c1e2f").ok());
  EXPECT_TRUE(ValidateCgroupPath("/kubepods/pod0c1e2f/").ok());
}

TEST(ValidateCgroupPath, RefusesSystemdSlices) {
  for (const char* p :
       {"kubepods-burstable-pod1.slice", "/kubepods.slice/pod1", "/kubepods/kubepods-pod1.slice"}) {
    absl::Status s = ValidateCgroupPath(p);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << p;
    EXPECT_THAT(std::string(s.message()), HasSubstr("cgroupfs cgroup manager")) << p;
  }
}

TEST(ValidateCgroupPath, RefusesPathsThatEscapeOrAreNotPods) {
  for (const char* p : {"", "/", "relative/pod", "/a/../b", "/a/./b", "/a//b", "/..", "/a/\n"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateCgroupPath(p))) << "\"" << p << "\"";
  }
}

// Plain directories stand in for two v1 hierarchies: one where kubelet has
// already made the parent, one where nothing exists yet.
TEST(CreatePodCgroup, RecordsAndRemovesOnlyWhatItCreated) {
  TempDir dir;
  RealOs os;
  ASSERT_TRUE(MkdirAll(dir.Path("h1/kubepods")).ok());
  ASSERT_TRUE(MkdirAll(dir.Path("h2")).ok());
  CgroupSetup setup{CgroupLayout::kV1,
                    {{dir.Path("h1"), false, {"memory"}}, {dir.Path("h2"), false, {"pids"}}}};
  auto cg = CreatePodCgroup(os, setup, "/kubepods/pod1");
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->path, "/kubepods/pod1");
  EXPECT_THAT(cg->created, ElementsAre(dir.Path("h1/kubepods/pod1"), dir.Path("h2/kubepods"),
                                       dir.Path("h2/kubepods/pod1")));
  // Creating again is fine and claims nothing new.
  auto again = CreatePodCgroup(os, setup, "/kubepods/pod1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->created.empty());

  ASSERT_TRUE(RemovePodCgroup(os, *cg).ok());
  EXPECT_TRUE(PathExists(dir.Path("h1/kubepods")));  // not ours
  EXPECT_FALSE(PathExists(dir.Path("h1/kubepods/pod1")));
  EXPECT_FALSE(PathExists(dir.Path("h2/kubepods")));
  EXPECT_TRUE(RemovePodCgroup(os, *cg).ok());  // idempotent
}

TEST(CreatePodCgroup, FailureRemovesWhatWasCreated) {
  TempDir dir;
  RealOs real;
  NiceMock<MockOs> os;
  ON_CALL(os, Mkdir).WillByDefault([&](auto&&... a) { return real.Mkdir(a...); });
  ON_CALL(os, Rmdir).WillByDefault([&](auto&&... a) { return real.Rmdir(a...); });
  EXPECT_CALL(os, Mkdir).Times(::testing::AnyNumber());
  EXPECT_CALL(os, Mkdir(EndsWith("h2/kubepods/pod1"), ::testing::_))
      .WillOnce(::testing::Return(absl::PermissionDeniedError("injected")));
  ASSERT_TRUE(MkdirAll(dir.Path("h1")).ok());
  ASSERT_TRUE(MkdirAll(dir.Path("h2")).ok());
  CgroupSetup setup{CgroupLayout::kV1,
                    {{dir.Path("h1"), false, {"memory"}}, {dir.Path("h2"), false, {"pids"}}}};
  auto cg = CreatePodCgroup(os, setup, "/kubepods/pod1");
  EXPECT_TRUE(absl::IsPermissionDenied(cg.status())) << cg.status();
  EXPECT_FALSE(PathExists(dir.Path("h1/kubepods")));
  EXPECT_FALSE(PathExists(dir.Path("h2/kubepods")));
}

// A fake v2 root: the controllers it offers get enabled for its children.
TEST(CreatePodCgroup, PureV2EnablesControllersAlongThePath) {
  TempDir dir;
  RealOs real;
  NiceMock<MockOs> os;
  ON_CALL(os, Mkdir).WillByDefault([&](auto&&... a) { return real.Mkdir(a...); });
  ON_CALL(os, Rmdir).WillByDefault([&](auto&&... a) { return real.Rmdir(a...); });
  // Appending keeps every write visible in the plain file standing in for
  // cgroup.subtree_control.
  ON_CALL(os, Open).WillByDefault([&](const std::string& p, int flags, mode_t mode) {
    return real.Open(p, flags | O_APPEND, mode);
  });
  ASSERT_TRUE(MkdirAll(dir.Path("u/kubepods")).ok());
  for (const char* d : {"u", "u/kubepods"}) {
    ASSERT_TRUE(
        WriteFileAtomic(JoinPath(dir.Path(d), "cgroup.controllers"), "cpu memory pids\n").ok());
    ASSERT_TRUE(WriteFileAtomic(JoinPath(dir.Path(d), "cgroup.subtree_control"), "cpu\n").ok());
  }
  CgroupSetup setup{CgroupLayout::kV2, {{dir.Path("u"), true, {}}}};
  auto cg = CreatePodCgroup(os, setup, "/kubepods/pod1");
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(ReadFile(dir.Path("u/cgroup.subtree_control")).value(), "cpu\n+memory+pids");
  EXPECT_EQ(ReadFile(dir.Path("u/kubepods/cgroup.subtree_control")).value(), "cpu\n+memory+pids");
  EXPECT_THAT(cg->created, ElementsAre(dir.Path("u/kubepods/pod1")));
  EXPECT_TRUE(RemovePodCgroup(os, *cg).ok());
}

// --- This machine's real hierarchies. ---

class CgroupKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CRIUS_REQUIRE_ROOT();
    auto setup = DetectCgroups();
    ASSERT_TRUE(setup.ok()) << setup.status();
    setup_ = *setup;
    top_ = "/" + UniqueName("crius-test");
    pod_ = top_ + "/pod" + UniqueName("uid");
  }

  // Whatever a test left, pass or fail: children first, then the top.
  void TearDown() override {
    for (const auto& h : setup_.hierarchies) {
      for (const std::string& p : {pod_ + "/ctr", pod_, top_}) {
        if (!top_.empty()) ::rmdir(JoinPath(h.mount_point, p).c_str());
      }
    }
  }

  void ExpectInEveryHierarchy(const std::string& path, bool present) {
    for (const auto& h : setup_.hierarchies) {
      EXPECT_EQ(PathExists(JoinPath(h.mount_point, path)), present) << h.mount_point << path;
    }
  }

  absl::Status JoinCgroup(pid_t pid) {
    for (const auto& h : setup_.hierarchies) {
      auto fd = os_.Open(JoinPath(h.mount_point, pod_, "cgroup.procs"), O_WRONLY, 0);
      if (!fd.ok()) return fd.status();
      std::string s = std::to_string(pid);
      if (::write(fd->get(), s.data(), s.size()) < 0) return ErrnoStatus("join " + h.mount_point);
    }
    return absl::OkStatus();
  }

  RealOs os_;
  CgroupSetup setup_;
  std::string top_, pod_;
};

TEST_F(CgroupKernelTest, DetectsThisMachinesLayout) {
  bool v1 = false, v2 = false;
  for (const auto& h : setup_.hierarchies) (h.v2 ? v2 : v1) = true;
  CgroupLayout want = v1 && v2 ? CgroupLayout::kHybrid : v1 ? CgroupLayout::kV1 : CgroupLayout::kV2;
  EXPECT_EQ(setup_.layout, want) << CgroupLayoutName(setup_.layout);
  if (PathExists("/sys/fs/cgroup/systemd/cgroup.procs")) {
    bool named = false;
    for (const auto& h : setup_.hierarchies) {
      named = named || std::find(h.controllers.begin(), h.controllers.end(), "name=systemd") !=
                           h.controllers.end();
    }
    EXPECT_TRUE(named) << "named hierarchies count too";
  }
}

TEST_F(CgroupKernelTest, CreatesInEveryHierarchyAndRemovesEverything) {
  auto cg = CreatePodCgroup(os_, setup_, pod_);
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->created.size(), 2 * setup_.hierarchies.size());
  ExpectInEveryHierarchy(pod_, true);
  for (const auto& h : setup_.hierarchies) {
    if (std::find(h.controllers.begin(), h.controllers.end(), "cpuset") == h.controllers.end()) {
      continue;
    }
    auto cpus = ReadFile(JoinPath(h.mount_point, pod_, "cpuset.cpus"));
    ASSERT_TRUE(cpus.ok()) << cpus.status();
    EXPECT_NE(*cpus, "\n") << "a cpuset cgroup without cpus cannot hold processes";
  }
  auto pids = PodCgroupPids(setup_, pod_);
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_TRUE(pids->empty());

  ASSERT_TRUE(RemovePodCgroup(os_, *cg).ok());
  ExpectInEveryHierarchy(pod_, false);
  ExpectInEveryHierarchy(top_, false);
  EXPECT_TRUE(RemovePodCgroup(os_, *cg).ok());
  EXPECT_TRUE(absl::IsNotFound(PodCgroupPids(setup_, pod_).status()));
}

TEST_F(CgroupKernelTest, KeepsParentsItDidNotCreate) {
  auto parent = CreatePodCgroup(os_, setup_, top_);  // stands in for kubelet's /kubepods
  ASSERT_TRUE(parent.ok()) << parent.status();
  auto cg = CreatePodCgroup(os_, setup_, pod_);
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->created.size(), setup_.hierarchies.size());
  ASSERT_TRUE(RemovePodCgroup(os_, *cg).ok());
  ExpectInEveryHierarchy(pod_, false);
  ExpectInEveryHierarchy(top_, true);
  ASSERT_TRUE(RemovePodCgroup(os_, *parent).ok());
  ExpectInEveryHierarchy(top_, false);
}

TEST_F(CgroupKernelTest, ProcessesBlockRemovalUntilTheyAreGone) {
  auto cg = CreatePodCgroup(os_, setup_, pod_);
  ASSERT_TRUE(cg.ok()) << cg.status();
  SubprocessOptions o;
  o.argv = {Tool("sleep"), "1000"};
  auto child = Subprocess::Start(o);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(JoinCgroup(child->pid()).ok());

  auto pids = PodCgroupPids(setup_, pod_);
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, ElementsAre(child->pid()));
  absl::Status busy = RemovePodCgroup(os_, *cg);
  EXPECT_TRUE(absl::IsFailedPrecondition(busy)) << busy;
  ExpectInEveryHierarchy(pod_, true);

  ASSERT_TRUE(child->Signal(SIGKILL).ok());
  ASSERT_TRUE(child->Wait().ok());
  ASSERT_TRUE(RemovePodCgroup(os_, *cg).ok());
  ExpectInEveryHierarchy(pod_, false);
  ExpectInEveryHierarchy(top_, false);
}

TEST_F(CgroupKernelTest, RemovesEmptyContainerCgroupsLeftInsideThePod) {
  auto cg = CreatePodCgroup(os_, setup_, pod_);
  ASSERT_TRUE(cg.ok()) << cg.status();
  for (const auto& h : setup_.hierarchies) {
    ASSERT_EQ(::mkdir(JoinPath(h.mount_point, pod_, "ctr").c_str(), 0755), 0);
  }
  ASSERT_TRUE(RemovePodCgroup(os_, *cg).ok());
  ExpectInEveryHierarchy(pod_, false);
}

TEST_F(CgroupKernelTest, SliceIsRefusedBeforeTouchingAnything) {
  auto cg = CreatePodCgroup(os_, setup_, "kubepods-burstable-pod1.slice");
  EXPECT_TRUE(absl::IsInvalidArgument(cg.status())) << cg.status();
  EXPECT_THAT(std::string(cg.status().message()), HasSubstr("a systemd slice"));
}

}  // namespace
}  // namespace crius::sandbox
