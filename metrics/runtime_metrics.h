#pragma once
// The runtime's own series beyond the operations: pod and container start
// steps, CNI plugin runs, image pulls, OOM kills, dropped events and the
// startup recovery. The modules that produce these figures get plain
// callbacks wired to these methods by the daemon, so nothing below server
// depends on Prometheus.

#include <cstdint>
#include <string_view>

#include "absl/time/time.h"

namespace prometheus {
class Registry;
template <typename T> class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace crius::metrics {

class RuntimeMetrics {
 public:
  explicit RuntimeMetrics(prometheus::Registry& registry);

  void PodStartStep(std::string_view step, absl::Duration took);
  void ContainerStartStep(std::string_view step, absl::Duration took);
  void CniPluginRun(std::string_view plugin, std::string_view command, absl::Duration took, bool ok);
  void ImagePull(bool ok, absl::Duration took);
  void ImageLayerDownloaded(uint64_t bytes);
  void ImageLayerReused();
  void OomKill();
  void EventDropped();
  void Recovered(absl::Duration took);

 private:
  prometheus::Family<prometheus::Histogram>* pod_steps_;
  prometheus::Family<prometheus::Histogram>* container_steps_;
  prometheus::Family<prometheus::Histogram>* cni_duration_;
  prometheus::Family<prometheus::Counter>* cni_errors_;
  prometheus::Family<prometheus::Counter>* pulls_;
  prometheus::Counter* pull_bytes_;
  prometheus::Histogram* pull_duration_;
  prometheus::Counter* layers_reused_;
  prometheus::Counter* oom_kills_;
  prometheus::Counter* events_dropped_;
  prometheus::Gauge* recovery_;
};

}  // namespace crius::metrics
