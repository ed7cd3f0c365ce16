#pragma once
// StatsCollector samples what containers and pods use, for the CRI stats
// and metrics RPCs: the cgroup figures (stats/cgroup_stats.h), each pod's
// network counters read in its netns, and the cached writable-layer usage.
// It keeps the previous CPU sample of every container and pod, so
// usage_nano_cores is a rate between two reads.
//
// Callers hand it snapshots of the records (the managers' List/Get), so no
// manager lock is held while files are read. Thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/container_record.h"
#include "server/sandbox_record.h"
#include "stats/cgroup_stats.h"
#include "stats/fs_usage.h"
#include "stats/net_stats.h"

namespace crius::server {

using ContainerPtr = std::shared_ptr<const ContainerRecord>;
using SandboxPtr = std::shared_ptr<const SandboxRecord>;

struct ContainerSample {
  ContainerPtr record;
  int64_t timestamp_ns = 0;
  // False when there is no cgroup to read (created, exited, or not yet
  // placed): CPU and memory are then reported as zero.
  bool running = false;
  stats::CgroupStats cgroup;
  uint64_t nano_cores = 0;
  std::optional<stats::FsUsage> fs;  // nullopt until first measured
  std::string fs_mountpoint;
};

struct PodSample {
  SandboxPtr record;
  int64_t timestamp_ns = 0;
  // The pod cgroup's own figures, or (no cgroup_parent) the sum of its
  // running containers'.
  bool has_cgroup = false;
  stats::CgroupStats cgroup;
  uint64_t nano_cores = 0;
  stats::NetStats net;  // empty for host-network pods or when unreadable
  std::vector<ContainerSample> containers;
};

struct StatsCollectorOptions {
  std::string rootfs_root;  // containers' upper dirs are <root>/<id>/upper
  stats::FsUsageCacheOptions fs;
};

class StatsCollector {
 public:
  // `net` may be null (network counters then stay empty).
  StatsCollector(const sandbox::CgroupSetup& cgroups, std::unique_ptr<stats::NetStatsReader> net,
                 StatsCollectorOptions options);

  ContainerSample SampleContainer(const ContainerPtr& record) ABSL_LOCKS_EXCLUDED(mu_);
  // Samples each pod with its containers (taken from `containers` by
  // sandbox id); one round trip to the netns reader for all pods.
  std::vector<PodSample> SamplePods(const std::vector<SandboxPtr>& pods,
                                    const std::vector<ContainerPtr>& containers)
      ABSL_LOCKS_EXCLUDED(mu_);

  const stats::CgroupReader& cgroups() const { return cgroups_; }
  const std::string& rootfs_root() const { return options_.rootfs_root; }

  // After a full list (no filter), forgets what belongs to objects not in
  // it, so state of removed containers and pods does not pile up: CPU
  // samples and writable-layer tracking of containers; CPU samples and
  // cached netns fds of pods.
  void PruneContainers(const std::set<std::string>& ids) ABSL_LOCKS_EXCLUDED(mu_);
  void PrunePods(const std::set<std::string>& ids, const std::set<std::string>& netns)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct CpuPoint {
    uint64_t usage_ns = 0;
    int64_t at_ns = 0;
  };
  // The CPU rate of `id` since its previous kept sample; on the first
  // sample, the average since `started_ns` (0: unknown, rate 0).
  using CpuPoints = std::map<std::string, CpuPoint>;
  uint64_t Rate(CpuPoints& points, const std::string& id, uint64_t usage_ns, int64_t now_ns,
                int64_t started_ns) ABSL_LOCKS_EXCLUDED(mu_);
  PodSample SamplePod(const SandboxPtr& pod, std::vector<ContainerSample> containers);

  const stats::CgroupReader cgroups_;
  const std::unique_ptr<stats::NetStatsReader> net_;
  const StatsCollectorOptions options_;
  stats::FsUsageCache fs_;
  absl::Mutex mu_;
  CpuPoints container_cpu_ ABSL_GUARDED_BY(mu_);
  CpuPoints pod_cpu_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crius::server
