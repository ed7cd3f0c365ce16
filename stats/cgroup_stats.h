#pragma once
// The figures of one cgroup that the CRI stats RPCs and the Prometheus
// collectors (cAdvisor-named series) report, read straight from cgroupfs on
// v1, v2 or hybrid hosts. One reader serves both so they always agree.
//
// Cost: a Read opens and reads each needed control file once, into a stack
// buffer; it spawns nothing and takes no lock, so callers may read many
// cgroups in parallel without holding any manager lock.
//
// Sources:
//   v1 (and hybrid, whose v2 mount carries no controllers):
//     cpuacct.usage, cpuacct.stat (USER_HZ ticks), cpu.stat, cpu.cfs_quota_us,
//     cpu.cfs_period_us, cpu.shares, memory.usage_in_bytes, memory.stat
//     (total_* keys: hierarchical), memory.limit_in_bytes, memory.failcnt,
//     memory.memsw.usage_in_bytes, memory.oom_control (oom_kill),
//     pids.current, cgroup.procs.
//   v2: cpu.stat, cpu.max, cpu.weight, memory.current, memory.stat,
//     memory.max, memory.swap.current, memory.events, pids.current,
//     cgroup.procs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sandbox/cgroup.h"

namespace crius::stats {

struct CpuStats {
  uint64_t usage_ns = 0;   // total CPU time of every task, ever
  uint64_t user_ns = 0;    // of which in user mode
  uint64_t system_ns = 0;  // of which in kernel mode
  // CFS bandwidth control (zero when no quota ever applied).
  uint64_t periods = 0;
  uint64_t throttled_periods = 0;
  uint64_t throttled_ns = 0;
  // Spec: shares in v1 units (v2 cpu.weight is converted back to them the
  // way runc converts shares to weight), quota and period in microseconds;
  // quota is nullopt when unlimited.
  uint64_t shares = 0;
  std::optional<int64_t> quota_us;
  uint64_t period_us = 0;
};

struct MemoryStats {
  uint64_t usage_bytes = 0;        // v1 usage_in_bytes, v2 memory.current
  uint64_t working_set_bytes = 0;  // usage minus inactive file, never below 0
  uint64_t rss_bytes = 0;          // v1 total_rss, v2 anon
  uint64_t cache_bytes = 0;        // v1 total_cache, v2 file
  uint64_t inactive_file_bytes = 0;
  uint64_t mapped_file_bytes = 0;  // v1 total_mapped_file, v2 file_mapped
  // Swap in use by the cgroup: v1 memsw usage minus usage (0 without
  // memsw accounting), v2 memory.swap.current. nullopt when not available.
  std::optional<uint64_t> swap_bytes;
  uint64_t page_faults = 0;        // pgfault
  uint64_t major_page_faults = 0;  // pgmajfault
  // Times the limit was hit: v1 memory.failcnt, v2 memory.events "max".
  uint64_t failcnt = 0;
  // nullopt when unlimited (v1 reports a huge page-rounded number, v2 "max").
  std::optional<uint64_t> limit_bytes;
};

struct CgroupStats {
  int64_t timestamp_ns = 0;  // wall clock (CLOCK_REALTIME) when read
  CpuStats cpu;
  MemoryStats memory;
  // OOM: v1 memory.oom_control oom_kill; v2 memory.events oom / oom_kill.
  uint64_t oom_events = 0;
  uint64_t oom_kills = 0;
  uint64_t threads = 0;    // pids.current: tasks (threads) in the subtree
  uint64_t processes = 0;  // lines of cgroup.procs (this cgroup only, v1 and v2)
  // Which controllers were found for this cgroup; a missing controller
  // leaves its figures at zero rather than failing the whole read.
  bool has_cpu = false;
  bool has_memory = false;
  bool has_pids = false;
};

// Where each controller's hierarchy is mounted, from a CgroupSetup.
class CgroupReader {
 public:
  // The controllers' mount points in `setup`. A hybrid host reads the v1
  // controllers (its v2 mount holds none).
  explicit CgroupReader(const sandbox::CgroupSetup& setup);

  // Reads the cgroup at `path` (as in linux.cgroupsPath or the pod's
  // cgroup_parent: "/kubepods/pod1/abc", relative to each hierarchy root).
  // NotFound when the cgroup exists in no hierarchy the reader knows;
  // a single controller missing is not an error (see has_*).
  absl::StatusOr<CgroupStats> Read(std::string_view path) const;

  // The pids in the cgroup's cgroup.procs (this cgroup only; the pids
  // hierarchy on v1, else memory). NotFound when the cgroup is missing.
  absl::StatusOr<std::vector<int>> Procs(std::string_view path) const;

  bool v2() const { return v2_; }
  // For tests and diagnostics: the directory of `controller` ("cpu",
  // "cpuacct", "memory", "pids"; any name on v2) for `path`, or "" when
  // the controller is not mounted.
  std::string Dir(std::string_view controller, std::string_view path) const;

 private:
  bool v2_ = false;
  std::string unified_;  // v2 mount
  std::string cpu_;      // v1 mounts (may be one dir for "cpu,cpuacct")
  std::string cpuacct_;
  std::string memory_;
  std::string pids_;
};

// Open file descriptors of `pids` (entries of /proc/<pid>/fd); pids that
// exited meanwhile count nothing. For container_file_descriptors.
uint64_t CountOpenFds(const std::vector<int>& pids);

}  // namespace crius::stats
