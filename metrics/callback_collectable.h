#pragma once
// A Collectable whose families a function builds at every scrape: for
// figures that already live elsewhere (counts of the in-memory records) and
// would only go stale if copied into gauges.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace crius::metrics {

class CallbackCollectable : public prometheus::Collectable {
 public:
  using Fn = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit CallbackCollectable(Fn fn) : fn_(std::move(fn)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return fn_(); }

 private:
  Fn fn_;
};

// One gauge family with a single label: a series per entry of `values`.
inline prometheus::MetricFamily GaugeByLabel(std::string name, std::string help, const std::string& label,
                                             const std::map<std::string, double>& values) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  for (const auto& [value, n] : values) {
    prometheus::ClientMetric m;
    m.label.push_back({label, value});
    m.gauge.value = n;
    f.metric.push_back(std::move(m));
  }
  return f;
}

}  // namespace crius::metrics
