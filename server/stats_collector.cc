#include "server/stats_collector.h"

#include <iterator>
#include <unordered_map>
#include <utility>

#include "absl/time/clock.h"
#include "common/files.h"
#include "common/log.h"

namespace crius::server {
namespace {

// A kept CPU sample is replaced only once it is this old, so two callers
// (kubelet and a crictl user, say) asking microseconds apart still get a
// rate over a meaningful window instead of a noisy one over a few reads.
constexpr int64_t kMinRateWindowNs = 500'000'000;

// Sums the figures a pod without a cgroup of its own reports: those of its
// running containers.
void AddTo(stats::CgroupStats& sum, const stats::CgroupStats& c) {
  sum.cpu.usage_ns += c.cpu.usage_ns;
  sum.cpu.user_ns += c.cpu.user_ns;
  sum.cpu.system_ns += c.cpu.system_ns;
  sum.memory.usage_bytes += c.memory.usage_bytes;
  sum.memory.working_set_bytes += c.memory.working_set_bytes;
  sum.memory.rss_bytes += c.memory.rss_bytes;
  sum.memory.cache_bytes += c.memory.cache_bytes;
  sum.memory.page_faults += c.memory.page_faults;
  sum.memory.major_page_faults += c.memory.major_page_faults;
  sum.threads += c.threads;
  sum.processes += c.processes;
}

}  // namespace

StatsCollector::StatsCollector(const sandbox::CgroupSetup& cgroups,
                               std::unique_ptr<stats::NetStatsReader> net,
                               StatsCollectorOptions options)
    : cgroups_(cgroups), net_(std::move(net)), options_(std::move(options)), fs_(options_.fs) {}

uint64_t StatsCollector::Rate(CpuPoints& points, const std::string& id, uint64_t usage_ns,
                              int64_t now_ns, int64_t started_ns) {
  absl::MutexLock l(&mu_);
  auto [it, inserted] = points.try_emplace(id, CpuPoint{usage_ns, now_ns});
  if (inserted) {
    if (started_ns <= 0 || now_ns <= started_ns) return 0;
    return static_cast<uint64_t>(static_cast<long double>(usage_ns) * 1e9 / (now_ns - started_ns));
  }
  CpuPoint prev = it->second;
  if (now_ns - prev.at_ns >= kMinRateWindowNs) it->second = CpuPoint{usage_ns, now_ns};
  if (now_ns <= prev.at_ns || usage_ns < prev.usage_ns) return 0;  // counter reset: no rate
  return static_cast<uint64_t>(static_cast<long double>(usage_ns - prev.usage_ns) * 1e9 /
                               (now_ns - prev.at_ns));
}

ContainerSample StatsCollector::SampleContainer(const ContainerPtr& record) {
  ContainerSample s;
  s.record = record;
  const ContainerRecord& r = *record;
  if (r.state == runtime::v1::CONTAINER_RUNNING && !r.cgroups_path.empty()) {
    absl::StatusOr<stats::CgroupStats> cg = cgroups_.Read(r.cgroups_path);
    if (cg.ok()) {
      s.running = true;
      s.cgroup = *cg;
      s.nano_cores = Rate(container_cpu_, r.id, cg->cpu.usage_ns, cg->timestamp_ns, r.started_at_ns);
    } else if (!absl::IsNotFound(cg.status())) {
      CRIUS_LOG(kWarn) << "stats of container " << r.id << ": " << cg.status();
    }
  }
  s.timestamp_ns = s.running ? s.cgroup.timestamp_ns : absl::GetCurrentTimeNanos();
  // The upper dir exists from create until remove, running or not.
  s.fs_mountpoint = options_.rootfs_root;
  fs_.Track(r.id, JoinPath(options_.rootfs_root, r.id, "upper"));
  s.fs = fs_.Get(r.id);
  return s;
}

PodSample StatsCollector::SamplePod(const SandboxPtr& pod, std::vector<ContainerSample> containers) {
  PodSample p;
  p.record = pod;
  p.containers = std::move(containers);
  if (!pod->cgroup.path.empty()) {
    absl::StatusOr<stats::CgroupStats> cg = cgroups_.Read(pod->cgroup.path);
    if (cg.ok()) {
      p.has_cgroup = true;
      p.cgroup = *cg;
      p.nano_cores = Rate(pod_cpu_, pod->id, cg->cpu.usage_ns, cg->timestamp_ns, pod->created_at_ns);
    } else if (!absl::IsNotFound(cg.status())) {
      CRIUS_LOG(kWarn) << "stats of pod " << pod->id << ": " << cg.status();
    }
  }
  if (!p.has_cgroup) {
    // No pod cgroup (no cgroup_parent given): the pod uses what its
    // containers use.
    p.cgroup.timestamp_ns = absl::GetCurrentTimeNanos();
    for (const ContainerSample& c : p.containers) {
      if (!c.running) continue;
      p.has_cgroup = true;
      AddTo(p.cgroup, c.cgroup);
      p.nano_cores += c.nano_cores;
    }
  }
  p.timestamp_ns = p.cgroup.timestamp_ns;
  return p;
}

std::vector<PodSample> StatsCollector::SamplePods(const std::vector<SandboxPtr>& pods,
                                                  const std::vector<ContainerPtr>& containers) {
  std::unordered_map<std::string, std::vector<ContainerSample>> by_pod;
  for (const SandboxPtr& pod : pods) by_pod[pod->id];
  for (const ContainerPtr& c : containers) {
    auto it = by_pod.find(c->sandbox_id);
    if (it != by_pod.end()) it->second.push_back(SampleContainer(c));
  }
  std::vector<PodSample> out;
  out.reserve(pods.size());
  std::vector<std::string> netns;
  netns.reserve(pods.size());
  for (const SandboxPtr& pod : pods) {
    out.push_back(SamplePod(pod, std::move(by_pod[pod->id])));
    // A stopped pod's netns is already gone: nothing to read.
    netns.push_back(pod->state == runtime::v1::SANDBOX_READY ? pod->namespaces.net : "");
  }
  if (net_ != nullptr) {
    std::vector<absl::StatusOr<stats::NetStats>> nets = net_->Read(netns);
    for (size_t i = 0; i < out.size(); ++i) {
      if (nets[i].ok()) {
        out[i].net = std::move(*nets[i]);
      } else {
        CRIUS_LOG(kWarn) << "network stats of pod " << pods[i]->id << ": " << nets[i].status();
      }
    }
  }
  return out;
}

namespace {
void EraseExcept(std::map<std::string, auto>& m, const std::set<std::string>& keep) {
  for (auto it = m.begin(); it != m.end();) it = keep.count(it->first) ? std::next(it) : m.erase(it);
}
}  // namespace

void StatsCollector::PruneContainers(const std::set<std::string>& ids) {
  {
    absl::MutexLock l(&mu_);
    EraseExcept(container_cpu_, ids);
  }
  fs_.RetainOnly(ids);
}

void StatsCollector::PrunePods(const std::set<std::string>& ids, const std::set<std::string>& netns) {
  {
    absl::MutexLock l(&mu_);
    EraseExcept(pod_cpu_, ids);
  }
  if (net_ != nullptr) net_->RetainOnly(netns);
}

}  // namespace crius::server
