#pragma once
// The per-container series on /metrics, with cAdvisor's names and the labels
// dashboards select on: container (the CRI container name), pod, namespace,
// id (the container id), image (as the container named it) and name (the
// container id too: crius has no separate runtime name). Pod network
// counters carry container="POD", id = the pod id and `interface`.
//
// Built at every scrape from the same StatsCollector the CRI stats RPCs
// read (one cgroup reader, one netns reader), so the two never disagree.
// Only running containers have cgroup figures, as with cAdvisor.

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "server/container_manager.h"
#include "server/sandbox_manager.h"
#include "server/stats_collector.h"

namespace crius::server {

class ContainerMetricsCollector : public prometheus::Collectable {
 public:
  // All three must outlive the collector's use (the daemon stops serving
  // metrics before it tears them down).
  ContainerMetricsCollector(SandboxManager& sandboxes, ContainerManager& containers, StatsCollector& stats)
      : sandboxes_(sandboxes), containers_(containers), stats_(stats) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

  // The families for these samples (what Collect serves), for tests.
  static std::vector<prometheus::MetricFamily> Families(const std::vector<PodSample>& pods);

 private:
  SandboxManager& sandboxes_;
  ContainerManager& containers_;
  StatsCollector& stats_;
};

}  // namespace crius::server
