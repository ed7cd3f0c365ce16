#pragma once
// Pod-level CPU and memory: what a pod cgroup is sized to at creation (the
// systemd driver's slice) and on UpdatePodSandboxResources (kubelet's
// in-place pod resize).
//
// What the pod cgroup gets. kubelet sends two LinuxContainerResources: the
// sum of its containers' (`resources`) and the RuntimeClass's pod overhead
// (`overhead`). kubelet itself sizes the pod cgroup to their sum (a memory
// limit or CPU quota only when every container has one, the overhead added
// on top; CPU shares from all requests plus the overhead's), and CRI-O and
// containerd leave the cgroup to kubelet: they keep the values and pass them
// to NRI plugins. crius writes the same sum into the pod cgroup, so a pod
// run without kubelet (crictl, criusctl) is resized too and a kubelet pod
// gets the values kubelet already wrote:
//   memory limit = resources.memory + overhead.memory   (only if resources has one)
//   CPU quota    = resources.quota + overhead.quota, the overhead's scaled
//                  to resources' period                 (only if resources has one)
//   CPU shares   = resources.shares + overhead.shares   (either; at most 262144)
// A field left at 0 is not touched (as `runc update` does): 0 never means
// "unlimited"; a CPU quota of -1 does (v1 cfs_quota_us -1, v2 cpu.max "max").

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/os.h"
#include "sandbox/cgroup.h"

namespace crius::sandbox {

// Pod-level limits; 0 means unset.
struct CgroupResources {
  int64_t memory_limit_bytes = 0;
  int64_t cpu_quota = 0;   // microseconds per cpu_period; -1: unlimited
  int64_t cpu_period = 0;  // microseconds; 0 => 100000
  int64_t cpu_shares = 0;  // v1 shares; v2 gets the weight runc derives from them
  int64_t pids_limit = 0;

  bool operator==(const CgroupResources&) const = default;
};

inline constexpr int64_t kDefaultCpuPeriod = 100000;
inline constexpr int64_t kUnlimitedCpuQuota = -1;

// runc's conversion of CPU shares (2..262144) to a cgroup v2 weight
// (1..10000); 0 for 0.
uint64_t SharesToWeight(int64_t shares);

// The pod cgroup's values for kubelet's `resources` plus `overhead` (the
// rules above). pids_limit is not a pod-level CRI field and stays 0.
CgroupResources PodTotal(const CgroupResources& resources, const CgroupResources& overhead);

// One control file and the value written to it.
struct CgroupFileValue {
  std::string controller;  // the v1 hierarchy that holds it: "memory", "cpu"
  std::string file;        // "memory.limit_in_bytes", "cpu.max"
  std::string value;
  bool operator==(const CgroupFileValue&) const = default;
};

// The files (in write order) that set `res` on a pod cgroup: v1
// memory.limit_in_bytes, cpu.shares, cpu.cfs_period_us, cpu.cfs_quota_us;
// v2 memory.max, cpu.weight, cpu.max ("<quota> <period>").
std::vector<CgroupFileValue> PodCgroupFiles(const CgroupResources& res, bool v2);

// FailedPrecondition when `limit` (> 0) is below what the pod cgroup `path`
// uses now (memory.usage_in_bytes on v1, memory.current on v2): lowering a
// limit below usage makes v1 refuse (EBUSY) and v2 reclaim and then
// OOM-kill, so it is refused up front, as kubelet does before a resize.
// A cgroup without a memory controller passes.
absl::Status CheckMemoryLimit(const CgroupSetup& setup, const std::string& path, int64_t limit);

// The cgroupfs driver's resize: CheckMemoryLimit, then PodCgroupFiles
// written into the pod cgroup `path` of each hierarchy that holds the
// controller (the unified one on pure v2; the v1 ones on hybrid).
// FailedPrecondition when the cgroup is gone or the kernel refuses a value
// (EBUSY, EINVAL: the cgroup's present state, e.g. a container with a larger
// CPU quota on v1).
absl::Status UpdatePodCgroup(Os& os, const CgroupSetup& setup, const std::string& path,
                             const CgroupResources& res);

}  // namespace crius::sandbox
