#pragma once
// Operation metrics: every CRI call is counted, timed and, when it fails,
// counted by error code. The gRPC edge reports each call here once; the
// registry is served to Prometheus over HTTP.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "metrics/runtime_metrics.h"
#include "metrics/unix_exposer.h"

namespace prometheus {
class Collectable;
class Registry;
class Exposer;
template <typename T> class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace crius::metrics {

// What the edge needs to report a call; kept abstract so the server's unit
// tests can observe calls without an HTTP listener.
class OperationRecorder {
 public:
  virtual ~OperationRecorder() = default;
  virtual void Record(std::string_view operation, absl::StatusCode code, absl::Duration latency) = 0;
};

class Metrics : public OperationRecorder {
 public:
  // Creates the registry and, when `address` (host:port, port 0 picks a
  // free one; or unix:///path) is not empty, serves it on
  // http://address/metrics.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(const std::string& address);
  ~Metrics() override;

  void Record(std::string_view operation, absl::StatusCode code, absl::Duration latency) override;

  // host:port actually bound, or empty when nothing is served.
  std::string BoundAddress() const { return bound_address_; }
  prometheus::Registry& registry() { return *registry_; }
  RuntimeMetrics& runtime() { return *runtime_; }
  // Serves `c` too, built at every scrape (per-container series, gauges
  // computed from the in-memory state, process figures).
  void AddCollectable(std::shared_ptr<prometheus::Collectable> c);
  // Ends serving; the collectables' sources may go away afterwards.
  void StopServing();
  // Everything served, in the text format (what a scrape returns).
  std::string Render() const;

 private:
  Metrics();
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<UnixExposer> unix_exposer_;
  std::unique_ptr<RuntimeMetrics> runtime_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_ ABSL_GUARDED_BY(mu_);
  std::string bound_address_;
  prometheus::Family<prometheus::Counter>* operations_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Family<prometheus::Histogram>* latency_ = nullptr;
};

}  // namespace crius::metrics
