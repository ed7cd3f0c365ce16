// Pod-level resources for UpdatePodSandboxResources: the sum of kubelet's
// resources and overhead, the control files and values for v1 and v2, and
// the cgroupfs writer against plain files standing in for the hierarchies
// (what it writes, what it refuses). The kernel's side is in the e2e test
// (test/e2e/resize_test.cc) and the systemd side in the VM
// (test/e2e/systemd_test.cc).

#include "sandbox/pod_resources.h"

#include <fcntl.h>

#include <string>

#include "absl/strings/match.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/cgroup_manager.h"
#include "test/unit/common/mock_os.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::sandbox {
namespace {

using ::crius::sandbox::testing::PathExists;
using ::crius::testing::MockOs;
using ::crius::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::NiceMock;

CgroupResources Res(int64_t memory, int64_t quota, int64_t period, int64_t shares) {
  CgroupResources r;
  r.memory_limit_bytes = memory;
  r.cpu_quota = quota;
  r.cpu_period = period;
  r.cpu_shares = shares;
  return r;
}

TEST(PodTotal, AddsTheOverheadToTheContainersSum) {
  CgroupResources total =
      PodTotal(Res(256 << 20, 50000, 100000, 512), Res(64 << 20, 25000, 100000, 102));
  EXPECT_EQ(total, Res(320 << 20, 75000, 100000, 614));
}

TEST(PodTotal, ScalesTheOverheadQuotaToThePodsPeriod) {
  // 0.5 CPU of overhead over a 50 ms period: 25 ms, on top of 1 CPU.
  EXPECT_EQ(PodTotal(Res(0, 50000, 50000, 0), Res(0, 50000, 100000, 0)), Res(0, 75000, 50000, 0));
  // Neither period given: the kernel's default.
  EXPECT_EQ(PodTotal(Res(0, 20000, 0, 0), Res(0, 10000, 0, 0)), Res(0, 30000, 100000, 0));
}

TEST(PodTotal, NoLimitStaysNoLimitWhateverTheOverhead) {
  // A container without a limit leaves the pod without one (kubelet's rule):
  // the overhead alone never limits the pod.
  EXPECT_EQ(PodTotal(Res(0, 0, 0, 0), Res(64 << 20, 25000, 100000, 0)), Res(0, 0, 0, 0));
  // Shares are requests: the overhead's count even alone, capped at the max.
  EXPECT_EQ(PodTotal(Res(0, 0, 0, 0), Res(0, 0, 0, 102)).cpu_shares, 102);
  EXPECT_EQ(PodTotal(Res(0, 0, 0, 262144), Res(0, 0, 0, 1024)).cpu_shares, 262144);
  EXPECT_EQ(PodTotal(Res(128, 0, 0, 0), Res(0, 0, 0, 0)), Res(128, 0, 0, 0));
}

TEST(SharesToWeight, IsRuncsConversion) {
  EXPECT_EQ(SharesToWeight(0), 0u);
  EXPECT_EQ(SharesToWeight(2), 1u);
  EXPECT_EQ(SharesToWeight(1024), 39u);
  EXPECT_EQ(SharesToWeight(512), 20u);
  EXPECT_EQ(SharesToWeight(262144), 10000u);
}

TEST(PodCgroupFiles, V1AndV2) {
  const CgroupResources r = Res(256 << 20, 50000, 0, 512);
  EXPECT_THAT(PodCgroupFiles(r, /*v2=*/false),
              ElementsAre(CgroupFileValue{"memory", "memory.limit_in_bytes", "268435456"},
                          CgroupFileValue{"cpu", "cpu.shares", "512"},
                          CgroupFileValue{"cpu", "cpu.cfs_period_us", "100000"},
                          CgroupFileValue{"cpu", "cpu.cfs_quota_us", "50000"}));
  EXPECT_THAT(PodCgroupFiles(r, /*v2=*/true),
              ElementsAre(CgroupFileValue{"memory", "memory.max", "268435456"},
                          CgroupFileValue{"cpu", "cpu.weight", "20"},
                          CgroupFileValue{"cpu", "cpu.max", "50000 100000"}));
  // -1 lifts the quota; the overhead adds nothing to no limit.
  EXPECT_EQ(PodTotal(Res(0, -1, 0, 0), Res(0, 5000, 0, 0)), Res(0, -1, 100000, 0));
  EXPECT_THAT(PodCgroupFiles(Res(0, -1, 0, 0), true),
              ElementsAre(CgroupFileValue{"cpu", "cpu.max", "max 100000"}));
  EXPECT_THAT(PodCgroupFiles(Res(0, -1, 50000, 0), false),
              ElementsAre(CgroupFileValue{"cpu", "cpu.cfs_period_us", "50000"},
                          CgroupFileValue{"cpu", "cpu.cfs_quota_us", "-1"}));
  // Unset fields are left alone.
  EXPECT_THAT(PodCgroupFiles(Res(0, 0, 20000, 0), false), ElementsAre());
  EXPECT_THAT(PodCgroupFiles(Res(0, 0, 0, 2), true),
              ElementsAre(CgroupFileValue{"cpu", "cpu.weight", "1"}));
}

// Plain files in plain directories stand in for the pod cgroup.
class PodCgroupWriteTest : public ::testing::Test {
 protected:
  void Touch(const std::string& rel, const std::string& content = "") {
    ASSERT_TRUE(MkdirAll(dir_.Path(rel.substr(0, rel.rfind('/')))).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.Path(rel), content).ok());
  }
  std::string Read(const std::string& rel) {
    auto s = ReadFile(dir_.Path(rel));
    return s.ok() ? *s : "<" + s.status().ToString() + ">";
  }
  // v1 as on this machine: memory and cpu,cpuacct hierarchies, and the
  // hybrid layout's controller-less v2 mount, which is left alone.
  CgroupSetup V1Setup(CgroupLayout layout = CgroupLayout::kV1) {
    CgroupSetup s{layout,
                  {{dir_.Path("memory"), false, {"memory"}},
                   {dir_.Path("cpu"), false, {"cpu", "cpuacct"}},
                   {dir_.Path("pids"), false, {"pids"}}}};
    if (layout == CgroupLayout::kHybrid) s.hierarchies.push_back({dir_.Path("unified"), true, {}});
    return s;
  }
  void MakeV1Pod() {
    Touch("memory/kubepods/pod1/memory.limit_in_bytes");
    Touch("memory/kubepods/pod1/memory.usage_in_bytes", "4096\n");
    for (const char* f : {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"}) {
      Touch(std::string("cpu/kubepods/pod1/") + f);
    }
    ASSERT_TRUE(MkdirAll(dir_.Path("unified/kubepods/pod1")).ok());
  }

  TempDir dir_;
  RealOs os_;
};

TEST_F(PodCgroupWriteTest, V1WritesEachControllersHierarchy) {
  MakeV1Pod();
  ASSERT_TRUE(UpdatePodCgroup(os_, V1Setup(CgroupLayout::kHybrid), "/kubepods/pod1",
                              Res(64 << 20, 30000, 60000, 256))
                  .ok());
  EXPECT_EQ(Read("memory/kubepods/pod1/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Read("cpu/kubepods/pod1/cpu.shares"), "256");
  EXPECT_EQ(Read("cpu/kubepods/pod1/cpu.cfs_period_us"), "60000");
  EXPECT_EQ(Read("cpu/kubepods/pod1/cpu.cfs_quota_us"), "30000");
  EXPECT_FALSE(PathExists(dir_.Path("unified/kubepods/pod1/memory.max")));
}

TEST_F(PodCgroupWriteTest, V2WritesTheUnifiedHierarchy) {
  Touch("u/kubepods/pod1/memory.current", "8192\n");
  for (const char* f : {"memory.max", "cpu.weight", "cpu.max"}) {
    Touch(std::string("u/kubepods/pod1/") + f);
  }
  CgroupSetup setup{CgroupLayout::kV2, {{dir_.Path("u"), true, {}}}};
  std::unique_ptr<CgroupManager> m = NewCgroupfsManager(os_, setup);
  PodCgroup cg{"/kubepods/pod1", {}, ""};
  ASSERT_TRUE(m->UpdatePod(cg, Res(1 << 20, 150000, 100000, 1024)).ok());
  EXPECT_EQ(Read("u/kubepods/pod1/memory.max"), "1048576");
  EXPECT_EQ(Read("u/kubepods/pod1/cpu.weight"), "39");
  EXPECT_EQ(Read("u/kubepods/pod1/cpu.max"), "150000 100000");
}

TEST_F(PodCgroupWriteTest, MemoryBelowUsageIsRefusedBeforeAnyWrite) {
  MakeV1Pod();
  absl::Status s = UpdatePodCgroup(os_, V1Setup(), "/kubepods/pod1", Res(1024, 30000, 0, 0));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("below what the pod uses"));
  EXPECT_EQ(Read("memory/kubepods/pod1/memory.limit_in_bytes"), "");
  EXPECT_EQ(Read("cpu/kubepods/pod1/cpu.cfs_quota_us"), "");
}

TEST_F(PodCgroupWriteTest, KernelRefusalsAreFailedPrecondition) {
  MakeV1Pod();
  NiceMock<MockOs> os;
  // EBUSY (the kernel could not reclaim down to the limit) and EINVAL (a
  // child's quota above the new one), as WriteCgroupFile reports them.
  ON_CALL(os, Open).WillByDefault(
      [&](const std::string& p, int flags, mode_t mode) -> absl::StatusOr<UniqueFd> {
        if (absl::EndsWith(p, "memory.limit_in_bytes")) return absl::UnavailableError("EBUSY");
        if (absl::EndsWith(p, "cpu.cfs_quota_us")) return absl::InvalidArgumentError("EINVAL");
        return os_.Open(p, flags, mode);
      });
  absl::Status mem = UpdatePodCgroup(os, V1Setup(), "/kubepods/pod1", Res(1 << 20, 0, 0, 0));
  EXPECT_TRUE(absl::IsFailedPrecondition(mem)) << mem;
  EXPECT_THAT(std::string(mem.message()), HasSubstr("memory limit 1048576 is below"));
  absl::Status cpu = UpdatePodCgroup(os, V1Setup(), "/kubepods/pod1", Res(0, 1000, 0, 0));
  EXPECT_TRUE(absl::IsFailedPrecondition(cpu)) << cpu;
  EXPECT_THAT(std::string(cpu.message()), HasSubstr("cpu.cfs_quota_us=1000"));
}

TEST_F(PodCgroupWriteTest, AGoneOrMissingCgroupIsFailedPrecondition) {
  absl::Status gone = UpdatePodCgroup(os_, V1Setup(), "/kubepods/gone", Res(1 << 20, 0, 0, 2));
  EXPECT_TRUE(absl::IsFailedPrecondition(gone)) << gone;
  EXPECT_THAT(std::string(gone.message()), HasSubstr("does not exist"));
  gone = UpdatePodCgroup(os_, V1Setup(), "/kubepods/gone", Res(0, 0, 0, 2));
  EXPECT_TRUE(absl::IsFailedPrecondition(gone)) << gone;

  std::unique_ptr<CgroupManager> m = NewCgroupfsManager(os_, V1Setup());
  absl::Status none = m->UpdatePod(PodCgroup{}, Res(1 << 20, 0, 0, 0));
  EXPECT_TRUE(absl::IsFailedPrecondition(none)) << none;
  EXPECT_THAT(std::string(none.message()), HasSubstr("no pod-level cgroup"));
}

}  // namespace
}  // namespace crius::sandbox
