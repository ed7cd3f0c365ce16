// The CRI stats RPCs: ContainerStats, ListContainerStats,
// StreamContainerStats, PodSandboxStats, ListPodSandboxStats and
// StreamPodSandboxStats. Records come from the managers' snapshots; the
// figures from the StatsCollector, which reads cgroupfs and the pods'
// netns without holding any manager lock.

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/container_manager.h"
#include "server/cri_service.h"
#include "server/record_lookup.h"
#include "server/sandbox_manager.h"
#include "server/stats_collector.h"
#include "server/stream_batches.h"

namespace crius::server {
namespace {

using runtime::v1::ContainerStatsFilter;
using runtime::v1::PodSandboxStatsFilter;

bool Matches(const ContainerStatsFilter& f, const ContainerRecord& r) {
  if (!f.id().empty() && r.id.compare(0, f.id().size(), f.id()) != 0) return false;
  if (!f.pod_sandbox_id().empty() &&
      r.sandbox_id.compare(0, f.pod_sandbox_id().size(), f.pod_sandbox_id()) != 0) {
    return false;
  }
  return LabelsMatch(f.label_selector(), r.config.labels());
}

bool Matches(const PodSandboxStatsFilter& f, const SandboxRecord& r) {
  if (!f.id().empty() && r.id.compare(0, f.id().size(), f.id()) != 0) return false;
  return LabelsMatch(f.label_selector(), r.config.labels());
}

bool Empty(const ContainerStatsFilter& f) {
  return f.id().empty() && f.pod_sandbox_id().empty() && f.label_selector().empty();
}
bool Empty(const PodSandboxStatsFilter& f) { return f.id().empty() && f.label_selector().empty(); }

void FillCpu(int64_t ts, const stats::CgroupStats& cg, uint64_t nano_cores, runtime::v1::CpuUsage* out) {
  out->set_timestamp(ts);
  out->mutable_usage_core_nano_seconds()->set_value(cg.cpu.usage_ns);
  out->mutable_usage_nano_cores()->set_value(nano_cores);
}

void FillMemory(int64_t ts, const stats::CgroupStats& cg, runtime::v1::MemoryUsage* out) {
  const stats::MemoryStats& m = cg.memory;
  out->set_timestamp(ts);
  out->mutable_working_set_bytes()->set_value(m.working_set_bytes);
  if (m.limit_bytes) {
    // What the container can still use before it is reclaimed or killed.
    uint64_t avail = *m.limit_bytes > m.working_set_bytes ? *m.limit_bytes - m.working_set_bytes : 0;
    out->mutable_available_bytes()->set_value(avail);
  }
  out->mutable_usage_bytes()->set_value(m.usage_bytes);
  out->mutable_rss_bytes()->set_value(m.rss_bytes);
  out->mutable_page_faults()->set_value(m.page_faults);
  out->mutable_major_page_faults()->set_value(m.major_page_faults);
}

void FillContainerStats(const ContainerSample& s, runtime::v1::ContainerStats* out) {
  const ContainerRecord& r = *s.record;
  auto* attrs = out->mutable_attributes();
  attrs->set_id(r.id);
  *attrs->mutable_metadata() = r.config.metadata();
  *attrs->mutable_labels() = r.config.labels();
  *attrs->mutable_annotations() = r.config.annotations();
  // A container that does not run has zero CPU and memory, stamped now.
  FillCpu(s.timestamp_ns, s.cgroup, s.nano_cores, out->mutable_cpu());
  FillMemory(s.timestamp_ns, s.cgroup, out->mutable_memory());
  if (s.running && s.cgroup.memory.swap_bytes) {
    out->mutable_swap()->set_timestamp(s.timestamp_ns);
    out->mutable_swap()->mutable_swap_usage_bytes()->set_value(*s.cgroup.memory.swap_bytes);
  }
  auto* fs = out->mutable_writable_layer();
  fs->set_timestamp(s.fs ? s.fs->timestamp_ns : s.timestamp_ns);
  fs->mutable_fs_id()->set_mountpoint(s.fs_mountpoint);
  fs->mutable_used_bytes()->set_value(s.fs ? s.fs->used_bytes : 0);
  fs->mutable_inodes_used()->set_value(s.fs ? s.fs->inodes_used : 0);
}

void FillInterface(const stats::InterfaceStats& i, runtime::v1::NetworkInterfaceUsage* out) {
  out->set_name(i.name);
  out->mutable_rx_bytes()->set_value(i.rx_bytes);
  out->mutable_rx_errors()->set_value(i.rx_errors);
  out->mutable_tx_bytes()->set_value(i.tx_bytes);
  out->mutable_tx_errors()->set_value(i.tx_errors);
}

void FillPodStats(const PodSample& p, runtime::v1::PodSandboxStats* out) {
  const SandboxRecord& r = *p.record;
  auto* attrs = out->mutable_attributes();
  attrs->set_id(r.id);
  *attrs->mutable_metadata() = r.config.metadata();
  *attrs->mutable_labels() = r.config.labels();
  *attrs->mutable_annotations() = r.config.annotations();
  auto* linux = out->mutable_linux();
  FillCpu(p.timestamp_ns, p.cgroup, p.nano_cores, linux->mutable_cpu());
  FillMemory(p.timestamp_ns, p.cgroup, linux->mutable_memory());
  auto* net = linux->mutable_network();
  net->set_timestamp(p.net.timestamp_ns ? p.net.timestamp_ns : p.timestamp_ns);
  const stats::InterfaceStats* def = nullptr;
  for (const auto& i : p.net.interfaces) {
    if (def == nullptr || i.name == "eth0") def = &i;
    FillInterface(i, net->add_interfaces());
  }
  // The interface CNI set up is eth0; without one, the first listed.
  if (def != nullptr) FillInterface(*def, net->mutable_default_interface());
  auto* proc = linux->mutable_process();
  proc->set_timestamp(p.timestamp_ns);
  // Tasks in the pod (pids.current), the figure a pod's pids limit counts.
  proc->mutable_process_count()->set_value(p.cgroup.threads);
  for (const ContainerSample& c : p.containers) FillContainerStats(c, linux->add_containers());
}

absl::Status NoStats() { return absl::InternalError("stats are not set up in this daemon"); }

}  // namespace

absl::Status CriService::ContainerStats(const CallContext&, const runtime::v1::ContainerStatsRequest& req,
                                        runtime::v1::ContainerStatsResponse* resp) {
  if (stats_ == nullptr) return NoStats();
  if (req.container_id().empty()) return absl::InvalidArgumentError("container_id is required");
  ASSIGN_OR_RETURN(ContainerPtr r, containers_->Get(req.container_id()));
  FillContainerStats(stats_->SampleContainer(r), resp->mutable_stats());
  return absl::OkStatus();
}

absl::Status CriService::ListContainerStats(const CallContext&,
                                            const runtime::v1::ListContainerStatsRequest& req,
                                            runtime::v1::ListContainerStatsResponse* resp) {
  if (stats_ == nullptr) return NoStats();
  std::vector<ContainerPtr> all = containers_->List();
  for (const ContainerPtr& r : all) {
    if (!Matches(req.filter(), *r)) continue;
    FillContainerStats(stats_->SampleContainer(r), resp->add_stats());
  }
  if (Empty(req.filter())) {
    std::set<std::string> ids;
    for (const ContainerPtr& r : all) ids.insert(r->id);
    stats_->PruneContainers(ids);
  }
  return absl::OkStatus();
}

absl::Status CriService::StreamContainerStats(
    const CallContext&, const runtime::v1::StreamContainerStatsRequest& req,
    const std::function<bool(const runtime::v1::StreamContainerStatsResponse&)>& send) {
  if (stats_ == nullptr) return NoStats();
  return StreamInBatches<runtime::v1::StreamContainerStatsResponse>(
      containers_->List(), [&](const ContainerPtr& r) { return Matches(req.filter(), *r); },
      [&](const ContainerPtr& r, auto& batch) {
        FillContainerStats(stats_->SampleContainer(r), batch.add_container_stats());
      },
      send);
}

absl::Status CriService::PodSandboxStats(const CallContext&, const runtime::v1::PodSandboxStatsRequest& req,
                                         runtime::v1::PodSandboxStatsResponse* resp) {
  if (stats_ == nullptr) return NoStats();
  if (req.pod_sandbox_id().empty()) return absl::InvalidArgumentError("pod_sandbox_id is required");
  ASSIGN_OR_RETURN(SandboxPtr pod, sandboxes_->Get(req.pod_sandbox_id()));
  std::vector<ContainerPtr> mine;
  for (ContainerPtr& c : containers_->List()) {
    if (c->sandbox_id == pod->id) mine.push_back(std::move(c));
  }
  std::vector<PodSample> samples = stats_->SamplePods({pod}, mine);
  FillPodStats(samples.front(), resp->mutable_stats());
  return absl::OkStatus();
}

std::vector<PodSample> CriService::SampleMatchingPods(const runtime::v1::PodSandboxStatsFilter& filter) {
  std::vector<SandboxPtr> all = sandboxes_->List();
  std::vector<SandboxPtr> pods;
  for (const SandboxPtr& p : all) {
    if (Matches(filter, *p)) pods.push_back(p);
  }
  std::vector<PodSample> samples = stats_->SamplePods(pods, containers_->List());
  if (Empty(filter)) {
    std::set<std::string> ids, netns;
    for (const SandboxPtr& p : all) {
      ids.insert(p->id);
      if (p->state == runtime::v1::SANDBOX_READY && !p->namespaces.net.empty()) {
        netns.insert(p->namespaces.net);
      }
    }
    stats_->PrunePods(ids, netns);
  }
  return samples;
}

absl::Status CriService::ListPodSandboxStats(const CallContext&,
                                             const runtime::v1::ListPodSandboxStatsRequest& req,
                                             runtime::v1::ListPodSandboxStatsResponse* resp) {
  if (stats_ == nullptr) return NoStats();
  for (const PodSample& p : SampleMatchingPods(req.filter())) FillPodStats(p, resp->add_stats());
  return absl::OkStatus();
}

absl::Status CriService::StreamPodSandboxStats(
    const CallContext&, const runtime::v1::StreamPodSandboxStatsRequest& req,
    const std::function<bool(const runtime::v1::StreamPodSandboxStatsResponse&)>& send) {
  if (stats_ == nullptr) return NoStats();
  return StreamInBatches<runtime::v1::StreamPodSandboxStatsResponse>(
      SampleMatchingPods(req.filter()), [](const PodSample&) { return true; },
      [](const PodSample& p, auto& batch) { FillPodStats(p, batch.add_pod_sandbox_stats()); }, send);
}

}  // namespace crius::server
