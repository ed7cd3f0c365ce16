#include "server/container_metrics.h"

#include <string>
#include <utility>

namespace crius::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One family under construction; Add appends a series.
struct Family {
  MetricFamily f;
  Family(std::string name, std::string help, MetricType type) {
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
  }
  void Add(const std::vector<ClientMetric::Label>& labels, double value) {
    ClientMetric m;
    m.label = labels;
    if (f.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
  }
};

std::vector<ClientMetric::Label> ContainerLabels(const SandboxRecord& pod, const ContainerRecord& c) {
  // Sorted by name, as Prometheus prints them.
  return {{"container", c.config.metadata().name()},
          {"id", c.id},
          {"image", c.image_name},
          {"name", c.id},
          {"namespace", pod.config.metadata().namespace_()},
          {"pod", pod.config.metadata().name()}};
}

}  // namespace

std::vector<MetricFamily> ContainerMetricsCollector::Collect() const {
  return Families(stats_.SamplePods(sandboxes_.List(), containers_.List()));
}

std::vector<MetricFamily> ContainerMetricsCollector::Families(const std::vector<PodSample>& pods) {
  Family cpu("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", MetricType::Counter);
  Family working_set("container_memory_working_set_bytes", "Current working set in bytes.", MetricType::Gauge);
  Family rss("container_memory_rss", "Size of RSS in bytes.", MetricType::Gauge);
  Family usage("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", MetricType::Gauge);
  Family limit("container_spec_memory_limit_bytes", "Memory limit for the container (0: none).", MetricType::Gauge);
  Family ooms("container_oom_events_total", "Count of out of memory events observed for the container.", MetricType::Counter);
  Family procs("container_processes", "Number of processes running inside the container.", MetricType::Gauge);
  Family start("container_start_time_seconds", "Start time of the container since unix epoch in seconds.", MetricType::Gauge);
  Family fs("container_fs_usage_bytes", "Number of bytes that are consumed by the container's writable layer.", MetricType::Gauge);
  Family rx("container_network_receive_bytes_total", "Cumulative count of bytes received.", MetricType::Counter);
  Family tx("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", MetricType::Counter);
  for (const PodSample& pod : pods) {
    const SandboxRecord& p = *pod.record;
    for (const stats::InterfaceStats& i : pod.net.interfaces) {
      const std::vector<ClientMetric::Label> labels = {{"container", "POD"},
                                                       {"id", p.id},
                                                       {"image", ""},
                                                       {"interface", i.name},
                                                       {"name", p.id},
                                                       {"namespace", p.config.metadata().namespace_()},
                                                       {"pod", p.config.metadata().name()}};
      rx.Add(labels, static_cast<double>(i.rx_bytes));
      tx.Add(labels, static_cast<double>(i.tx_bytes));
    }
    for (const ContainerSample& c : pod.containers) {
      if (!c.running) continue;
      const auto labels = ContainerLabels(p, *c.record);
      const stats::CgroupStats& cg = c.cgroup;
      cpu.Add(labels, static_cast<double>(cg.cpu.usage_ns) / 1e9);
      working_set.Add(labels, static_cast<double>(cg.memory.working_set_bytes));
      rss.Add(labels, static_cast<double>(cg.memory.rss_bytes));
      usage.Add(labels, static_cast<double>(cg.memory.usage_bytes));
      limit.Add(labels, static_cast<double>(cg.memory.limit_bytes.value_or(0)));
      ooms.Add(labels, static_cast<double>(cg.oom_events));
      procs.Add(labels, static_cast<double>(cg.processes));
      start.Add(labels, static_cast<double>(c.record->started_at_ns) / 1e9);
      if (c.fs.has_value()) fs.Add(labels, static_cast<double>(c.fs->used_bytes));
    }
  }
  std::vector<MetricFamily> out;
  for (Family* f : {&cpu, &working_set, &rss, &usage, &limit, &ooms, &procs, &start, &fs, &rx, &tx}) {
    out.push_back(std::move(f->f));
  }
  return out;
}

}  // namespace crius::server
