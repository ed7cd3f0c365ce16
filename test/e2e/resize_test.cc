// UpdatePodSandboxResources (kubelet's in-place pod resize) against a real
// criusd with the cgroupfs driver: the pod cgroup's memory limit, CPU quota
// and period and CPU shares (cgroup v1 here; memory.max, cpu.max and
// cpu.weight on a v2 host) become resources + overhead, the values stay in
// the pod's record across a daemon restart, and what cannot be applied is
// refused with the code kubelet can act on. The systemd driver's side runs
// in the VM (test/e2e/systemd_test.cc).
//
// Pods here use the host network (no CNI needed) and share one PID
// namespace, so crius's pause process lives in the pod cgroup and gives it
// a memory usage to refuse a limit below. Needs root; skips itself otherwise.

#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using runtime::v1::PodSandboxConfig;
using runtime::v1::UpdatePodSandboxResourcesRequest;

constexpr int64_t kMiB = 1 << 20;

class ResizeE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroups, namespaces)";
    auto setup = sandbox::DetectCgroups();
    ASSERT_TRUE(setup.ok()) << setup.status();
    setup_ = *setup;
    ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  }

  client::CriClient& cri() { return d_.client(); }

  std::string Run(const PodSandboxConfig& config) { return reaper_.Run(config); }

  PodSandboxConfig PodWithCgroup(const std::string& name) {
    PodSandboxConfig c = HostNetworkPodConfig(name, /*host_ipc=*/true);
    c.mutable_linux()->set_cgroup_parent(cgroups_.PodParent(c.metadata().uid()));
    return c;
  }

  bool V2() const { return setup_.layout == sandbox::CgroupLayout::kV2; }

  // A control file of the pod cgroup `parent`, from the hierarchy that
  // holds `controller` (the unified one on v2), trimmed.
  std::string CgroupValue(const std::string& parent, const std::string& controller,
                          const std::string& file) {
    for (const auto& h : setup_.hierarchies) {
      if (V2() ? h.v2 : (!h.v2 && sandbox::HasController(h, controller))) {
        auto text = ReadFile(JoinPath(h.mount_point, parent, file));
        EXPECT_TRUE(text.ok()) << text.status();
        return text.ok() ? std::string(absl::StripAsciiWhitespace(*text)) : "";
      }
    }
    ADD_FAILURE() << "no hierarchy with " << controller;
    return "";
  }
  std::string MemoryLimit(const std::string& parent) {
    return CgroupValue(parent, "memory", V2() ? "memory.max" : "memory.limit_in_bytes");
  }
  int64_t MemoryUsage(const std::string& parent) {
    int64_t usage = -1;
    EXPECT_TRUE(absl::SimpleAtoi(
        CgroupValue(parent, "memory", V2() ? "memory.current" : "memory.usage_in_bytes"), &usage));
    return usage;
  }
  // "quota period" (v2 cpu.max's form) on either version.
  std::string CpuMax(const std::string& parent) {
    if (V2()) return CgroupValue(parent, "cpu", "cpu.max");
    return CgroupValue(parent, "cpu", "cpu.cfs_quota_us") + " " +
           CgroupValue(parent, "cpu", "cpu.cfs_period_us");
  }
  // cpu.shares on v1; on v2 cpu.weight, runc's weight for the same shares.
  std::string CpuShares(const std::string& parent) {
    return CgroupValue(parent, "cpu", V2() ? "cpu.weight" : "cpu.shares");
  }

  absl::Status Resize(const std::string& id, const runtime::v1::LinuxContainerResources& resources,
                      const runtime::v1::LinuxContainerResources* overhead = nullptr) {
    UpdatePodSandboxResourcesRequest req;
    req.set_pod_sandbox_id(id);
    *req.mutable_resources() = resources;
    if (overhead != nullptr) *req.mutable_overhead() = *overhead;
    return cri().UpdatePodSandboxResources(req).status();
  }

  static runtime::v1::LinuxContainerResources Res(int64_t memory, int64_t quota, int64_t period,
                                                  int64_t shares) {
    runtime::v1::LinuxContainerResources r;
    r.set_memory_limit_in_bytes(memory);
    r.set_cpu_quota(quota);
    r.set_cpu_period(period);
    r.set_cpu_shares(shares);
    return r;
  }

  sandbox::CgroupSetup setup_;
  TestDaemon d_;
  TestCgroupRoot cgroups_;
  PodReaper reaper_{d_};
};

TEST_F(ResizeE2E, ThePodCgroupGetsResourcesPlusOverheadAndKeepsThemAcrossARestart) {
  const PodSandboxConfig config = PodWithCgroup("resize");
  const std::string parent = config.linux().cgroup_parent();
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());

  const auto resources = Res(256 * kMiB, 50000, 100000, 512);
  const auto overhead = Res(32 * kMiB, 10000, 100000, 100);
  ASSERT_EQ(Resize(id, resources, &overhead), absl::OkStatus()) << d_.Log();
  EXPECT_EQ(MemoryLimit(parent), std::to_string(288 * kMiB));
  EXPECT_EQ(CpuMax(parent), "60000 100000");
  EXPECT_EQ(CpuShares(parent), V2() ? "24" : "612");

  // Smaller again, with another period and no overhead: the new values
  // replace the old ones.
  ASSERT_EQ(Resize(id, Res(128 * kMiB, 25000, 50000, 256)), absl::OkStatus()) << d_.Log();
  EXPECT_EQ(MemoryLimit(parent), std::to_string(128 * kMiB));
  EXPECT_EQ(CpuMax(parent), "25000 50000");
  EXPECT_EQ(CpuShares(parent), V2() ? "10" : "256");

  // What was applied is in the record: verbose status shows it, also after
  // a restart of criusd, and a resize that only sends shares keeps the rest
  // of the cgroup as it is.
  for (int round = 0; round < 2; ++round) {
    auto pod = InspectPod(cri(), id);
    ASSERT_TRUE(pod.ok()) << pod.status();
    ASSERT_TRUE(pod->info.contains("resources") && pod->info.contains("overhead"))
        << pod->info.dump();
    EXPECT_EQ(pod->info["resources"].value("memoryLimitInBytes", int64_t{0}), 128 * kMiB)
        << pod->info.dump();
    EXPECT_EQ(pod->info["resources"].value("cpuPeriod", int64_t{0}), 50000) << pod->info.dump();
    EXPECT_EQ(pod->info["overhead"].value("cpuShares", int64_t{-1}), 100) << pod->info.dump();
    if (round == 0) {
      ASSERT_TRUE(d_.Stop().ok());
      ASSERT_TRUE(d_.Start().ok()) << d_.Log();
    }
  }
  ASSERT_EQ(Resize(id, Res(0, 0, 0, 1024)), absl::OkStatus()) << d_.Log();
  EXPECT_EQ(CpuShares(parent), V2() ? "39" : "1024");
  EXPECT_EQ(MemoryLimit(parent), std::to_string(128 * kMiB));
  EXPECT_EQ(CpuMax(parent), "25000 50000");
  // A quota of -1 lifts the limit.
  ASSERT_EQ(Resize(id, Res(0, -1, 100000, 0)), absl::OkStatus()) << d_.Log();
  EXPECT_EQ(CpuMax(parent), V2() ? "max 100000" : "-1 100000");
}

TEST_F(ResizeE2E, WhatCannotBeAppliedIsRefusedWithAClearCode) {
  const PodSandboxConfig config = PodWithCgroup("resize-refused");
  const std::string parent = config.linux().cgroup_parent();
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(Resize(id, Res(64 * kMiB, 0, 0, 0)), absl::OkStatus()) << d_.Log();

  // Unknown pod.
  absl::Status s = Resize("0123456789abcdef", Res(64 * kMiB, 0, 0, 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;

  // Negative values never reach the pod (the validation layer).
  s = Resize(id, Res(-1, 0, 0, 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "resources.memory_limit_in_bytes")) << s;
  const auto bad_overhead = Res(0, 0, 0, -5);
  s = Resize(id, Res(64 * kMiB, 0, 0, 0), &bad_overhead);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "overhead.cpu_shares")) << s;

  // Below what the pod uses (its pause process): refused, limit unchanged.
  const int64_t usage = MemoryUsage(parent);
  ASSERT_GT(usage, 4096) << "the pause process should be charged to the pod cgroup";
  s = Resize(id, Res(4096, 0, 0, 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "below what the pod uses")) << s;
  EXPECT_EQ(MemoryLimit(parent), std::to_string(64 * kMiB));

  // A pod without a pod-level cgroup has nothing to resize.
  const std::string bare = Run(HostNetworkPodConfig("resize-bare", /*host_ipc=*/true));
  ASSERT_FALSE(bare.empty());
  s = Resize(bare, Res(64 * kMiB, 0, 0, 0));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "no pod-level cgroup")) << s;
}

}  // namespace
}  // namespace crius::testing
