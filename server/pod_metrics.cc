// The CRI metrics RPCs (ListMetricDescriptors, ListPodSandboxMetrics,
// StreamPodSandboxMetrics): the cAdvisor-named series kubelet serves on
// /metrics/cadvisor when it takes them from the runtime. Every series
// carries cAdvisor's container labels (container, id, image, name,
// namespace, pod) plus the extra keys its descriptor lists. Metric values
// are integers on the wire, so *_seconds_* series are whole seconds.

#include <sys/statvfs.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "server/container_manager.h"
#include "server/cri_service.h"
#include "server/sandbox_manager.h"
#include "server/stats_collector.h"
#include "server/stream_batches.h"

namespace crius::server {
namespace {

using runtime::v1::COUNTER;
using runtime::v1::GAUGE;
using runtime::v1::MetricType;

struct SeriesDesc {
  const char* name;
  const char* help;
  std::vector<const char*> extra_labels;
};

const char* const kBaseLabels[] = {"container", "id", "image", "name", "namespace", "pod"};

// Every series ListPodSandboxMetrics may send; EmitContainer and EmitPod
// below must use exactly these names and extra labels.
const std::vector<SeriesDesc>& Series() {
  static const auto* const kSeries = new std::vector<SeriesDesc>{
      {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", {"cpu"}},
      {"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", {}},
      {"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", {}},
      {"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", {}},
      {"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", {}},
      {"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", {}},
      {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", {}},
      {"container_memory_working_set_bytes", "Current working set in bytes.", {}},
      {"container_memory_rss", "Size of RSS in bytes.", {}},
      {"container_memory_cache", "Number of bytes of page cache memory.", {}},
      {"container_memory_swap", "Container swap usage in bytes.", {}},
      {"container_memory_failcnt", "Number of memory usage hits limits.", {}},
      {"container_memory_failures_total", "Cumulative count of memory allocation failures.", {"failure_type", "scope"}},
      {"container_oom_events_total", "Count of out of memory events observed for the container.", {}},
      {"container_spec_memory_limit_bytes", "Memory limit for the container.", {}},
      {"container_spec_cpu_shares", "CPU share of the container.", {}},
      {"container_spec_cpu_quota", "CPU quota of the container.", {}},
      {"container_spec_cpu_period", "CPU period of the container.", {}},
      {"container_processes", "Number of processes running inside the container.", {}},
      {"container_threads", "Number of threads running inside the container.", {}},
      {"container_file_descriptors", "Number of open file descriptors for the container.", {}},
      {"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", {}},
      {"container_last_seen", "Last time a container was seen by the exporter.", {}},
      {"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", {"device"}},
      {"container_fs_inodes_total", "Number of Inodes.", {"device"}},
      {"container_network_receive_bytes_total", "Cumulative count of bytes received.", {"interface"}},
      {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", {"interface"}},
      {"container_network_receive_packets_total", "Cumulative count of packets received.", {"interface"}},
      {"container_network_transmit_packets_total", "Cumulative count of packets transmitted.", {"interface"}},
      {"container_network_receive_errors_total", "Cumulative count of errors encountered while receiving.", {"interface"}},
      {"container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting.", {"interface"}},
      {"container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving.", {"interface"}},
      {"container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting.", {"interface"}},
  };
  return *kSeries;
}

constexpr uint64_t kNsPerSecond = 1000000000;

// Appends series that share one timestamp and one set of base labels.
class Emitter {
 public:
  Emitter(int64_t ts, std::vector<std::string> base,
          google::protobuf::RepeatedPtrField<runtime::v1::Metric>* out)
      : ts_(ts), base_(std::move(base)), out_(out) {}
  void operator()(const char* name, MetricType type, uint64_t value,
                  std::initializer_list<std::string_view> extra = {}) {
    runtime::v1::Metric* m = out_->Add();
    m->set_name(name);
    m->set_timestamp(ts_);
    m->set_metric_type(type);
    for (const auto& v : base_) m->add_label_values(v);
    for (std::string_view v : extra) m->add_label_values(std::string(v));
    m->mutable_value()->set_value(value);
  }

 private:
  int64_t ts_;
  std::vector<std::string> base_;
  google::protobuf::RepeatedPtrField<runtime::v1::Metric>* out_;
};

struct FsInfo {
  std::string device;  // the filesystem holding the writable layers
  uint64_t inodes_total = 0;
};

void EmitCgroup(Emitter& e, const stats::CgroupStats& cg, const std::vector<int>& procs) {
  e("container_cpu_usage_seconds_total", COUNTER, cg.cpu.usage_ns / kNsPerSecond, {"total"});
  e("container_cpu_user_seconds_total", COUNTER, cg.cpu.user_ns / kNsPerSecond);
  e("container_cpu_system_seconds_total", COUNTER, cg.cpu.system_ns / kNsPerSecond);
  e("container_cpu_cfs_periods_total", COUNTER, cg.cpu.periods);
  e("container_cpu_cfs_throttled_periods_total", COUNTER, cg.cpu.throttled_periods);
  e("container_cpu_cfs_throttled_seconds_total", COUNTER, cg.cpu.throttled_ns / kNsPerSecond);
  const stats::MemoryStats& m = cg.memory;
  e("container_memory_usage_bytes", GAUGE, m.usage_bytes);
  e("container_memory_working_set_bytes", GAUGE, m.working_set_bytes);
  e("container_memory_rss", GAUGE, m.rss_bytes);
  e("container_memory_cache", GAUGE, m.cache_bytes);
  e("container_memory_swap", GAUGE, m.swap_bytes.value_or(0));
  e("container_memory_failcnt", COUNTER, m.failcnt);
  e("container_memory_failures_total", COUNTER, m.page_faults, {"pgfault", "container"});
  e("container_memory_failures_total", COUNTER, m.major_page_faults, {"pgmajfault", "container"});
  e("container_oom_events_total", COUNTER, cg.oom_events);
  // cAdvisor reports an unlimited memory limit as 0 and leaves the quota
  // out when there is none.
  e("container_spec_memory_limit_bytes", GAUGE, m.limit_bytes.value_or(0));
  e("container_spec_cpu_shares", GAUGE, cg.cpu.shares);
  if (cg.cpu.quota_us) e("container_spec_cpu_quota", GAUGE, static_cast<uint64_t>(*cg.cpu.quota_us));
  e("container_spec_cpu_period", GAUGE, cg.cpu.period_us);
  e("container_processes", GAUGE, procs.size());
  e("container_threads", GAUGE, cg.threads);
  e("container_file_descriptors", GAUGE, stats::CountOpenFds(procs));
}

void EmitContainer(const stats::CgroupReader& reader, const SandboxRecord& pod, const ContainerSample& s,
                   const FsInfo& fs, runtime::v1::ContainerMetrics* out) {
  const ContainerRecord& r = *s.record;
  out->set_container_id(r.id);
  Emitter e(s.timestamp_ns,
            {r.config.metadata().name(), r.id, r.image_name, r.id, pod.config.metadata().namespace_(),
             pod.config.metadata().name()},
            out->mutable_metrics());
  if (s.running) {
    absl::StatusOr<std::vector<int>> procs = reader.Procs(r.cgroups_path);
    EmitCgroup(e, s.cgroup, procs.ok() ? *procs : std::vector<int>{});
  }
  if (r.started_at_ns > 0) {
    e("container_start_time_seconds", GAUGE, static_cast<uint64_t>(r.started_at_ns) / kNsPerSecond);
  }
  e("container_last_seen", GAUGE, static_cast<uint64_t>(s.timestamp_ns) / kNsPerSecond);
  e("container_fs_usage_bytes", GAUGE, s.fs ? s.fs->used_bytes : 0, {fs.device});
  e("container_fs_inodes_total", GAUGE, fs.inodes_total, {fs.device});
}

void EmitPod(const PodSample& p, runtime::v1::PodSandboxMetrics* out) {
  const SandboxRecord& r = *p.record;
  out->set_pod_sandbox_id(r.id);
  // Pod-level series are the network ones, as cAdvisor reports them on
  // the pod's infra container; container "POD" marks them.
  Emitter e(p.net.timestamp_ns ? p.net.timestamp_ns : p.timestamp_ns,
            {"POD", r.id, "", r.id, r.config.metadata().namespace_(), r.config.metadata().name()},
            out->mutable_metrics());
  for (const stats::InterfaceStats& i : p.net.interfaces) {
    e("container_network_receive_bytes_total", COUNTER, i.rx_bytes, {i.name});
    e("container_network_transmit_bytes_total", COUNTER, i.tx_bytes, {i.name});
    e("container_network_receive_packets_total", COUNTER, i.rx_packets, {i.name});
    e("container_network_transmit_packets_total", COUNTER, i.tx_packets, {i.name});
    e("container_network_receive_errors_total", COUNTER, i.rx_errors, {i.name});
    e("container_network_transmit_errors_total", COUNTER, i.tx_errors, {i.name});
    e("container_network_receive_packets_dropped_total", COUNTER, i.rx_dropped, {i.name});
    e("container_network_transmit_packets_dropped_total", COUNTER, i.tx_dropped, {i.name});
  }
}

}  // namespace

absl::Status CriService::ListMetricDescriptors(const CallContext&,
                                               const runtime::v1::ListMetricDescriptorsRequest&,
                                               runtime::v1::ListMetricDescriptorsResponse* resp) {
  for (const SeriesDesc& s : Series()) {
    auto* d = resp->add_descriptors();
    d->set_name(s.name);
    d->set_help(s.help);
    for (const char* k : kBaseLabels) d->add_label_keys(k);
    for (const char* k : s.extra_labels) d->add_label_keys(k);
  }
  return absl::OkStatus();
}

std::vector<runtime::v1::PodSandboxMetrics> CriService::AllPodMetrics() {
  std::vector<PodSample> samples = SampleMatchingPods({});
  FsInfo fs;
  fs.device = stats_->rootfs_root();
  struct statvfs vfs;
  if (::statvfs(fs.device.c_str(), &vfs) == 0) fs.inodes_total = vfs.f_files;
  std::vector<runtime::v1::PodSandboxMetrics> out(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    EmitPod(samples[i], &out[i]);
    for (const ContainerSample& c : samples[i].containers) {
      EmitContainer(stats_->cgroups(), *samples[i].record, c, fs, out[i].add_container_metrics());
    }
  }
  return out;
}

absl::Status CriService::ListPodSandboxMetrics(const CallContext&,
                                               const runtime::v1::ListPodSandboxMetricsRequest&,
                                               runtime::v1::ListPodSandboxMetricsResponse* resp) {
  if (stats_ == nullptr) return absl::InternalError("stats are not set up in this daemon");
  for (auto& m : AllPodMetrics()) *resp->add_pod_metrics() = std::move(m);
  return absl::OkStatus();
}

absl::Status CriService::StreamPodSandboxMetrics(
    const CallContext&, const runtime::v1::StreamPodSandboxMetricsRequest&,
    const std::function<bool(const runtime::v1::StreamPodSandboxMetricsResponse&)>& send) {
  if (stats_ == nullptr) return absl::InternalError("stats are not set up in this daemon");
  return StreamInBatches<runtime::v1::StreamPodSandboxMetricsResponse>(
      AllPodMetrics(), [](const auto&) { return true; },
      [](auto& m, auto& batch) { *batch.add_pod_sandbox_metrics() = std::move(m); }, send);
}

}  // namespace crius::server
