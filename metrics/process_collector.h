#pragma once
// The standard process_* series of Prometheus clients for criusd itself,
// read from /proc/self at scrape time: CPU time, resident and virtual
// memory, open and maximum fds, threads and the start time.

#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace crius::metrics {

class ProcessCollector : public prometheus::Collectable {
 public:
  // `proc_dir` is /proc/self; tests point it elsewhere.
  explicit ProcessCollector(std::string proc_dir = "/proc/self", std::string proc_root = "/proc");
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string proc_dir_;
  const std::string proc_root_;
};

}  // namespace crius::metrics
