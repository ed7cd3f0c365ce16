#pragma once
// Shared by the CRI benchmark programs (crius_pod_bench,
// crius_container_bench, crius_list_bench): latency samples with
// nearest-rank percentiles, and the part of a pod config every kubelet pod
// has. Benchmarks only; nothing here asserts on time.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/api.pb.h"
#include "nlohmann/json.hpp"

namespace crius::bench {

// Latencies of one call type, in milliseconds.
struct Samples {
  using Json = nlohmann::ordered_json;
  std::vector<double> ms;

  void Add(std::chrono::steady_clock::duration d) {
    ms.push_back(std::chrono::duration<double, std::milli>(d).count());
  }
  void Merge(const Samples& other) { ms.insert(ms.end(), other.ms.begin(), other.ms.end()); }

  // Nearest-rank percentile: the smallest sample with at least p% of the
  // samples at or below it.
  static double Percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
  }
  double Percentile(double p) const {
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    return Percentile(s, p);
  }
  static double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

  Json Summary() const {
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    double sum = 0;
    for (double v : s) sum += v;
    Json samples = Json::array();
    for (double v : ms) samples.push_back(Round3(v));
    return {{"n", s.size()},
            {"p50_ms", Round3(Percentile(s, 50))},
            {"p90_ms", Round3(Percentile(s, 90))},
            {"p99_ms", Round3(Percentile(s, 99))},
            {"mean_ms", Round3(s.empty() ? 0 : sum / static_cast<double>(s.size()))},
            {"min_ms", Round3(s.empty() ? 0 : s.front())},
            {"max_ms", Round3(s.empty() ? 0 : s.back())},
            // In call order (completion order when concurrent), so runs can
            // be merged and a trend, e.g. slower as pods accumulate, shows.
            {"samples_ms", samples}};
  }
};

// What kubelet puts in every pod's config: metadata, the log directory
// <log_root>/<ns>_<name>_<uid>, cluster DNS with its searches and ndots:5,
// the pod name/namespace/uid labels and the config source annotation. The
// caller adds hostname, namespaces, cgroup parent and its own labels.
inline runtime::v1::PodSandboxConfig KubeletPodConfig(const std::string& name,
                                                      const std::string& ns,
                                                      const std::string& uid,
                                                      const std::string& log_root) {
  runtime::v1::PodSandboxConfig c;
  auto* md = c.mutable_metadata();
  md->set_name(name);
  md->set_namespace_(ns);
  md->set_uid(uid);
  md->set_attempt(0);
  c.set_log_directory(absl::StrCat(log_root, "/", ns, "_", name, "_", uid));
  auto* dns = c.mutable_dns_config();
  dns->add_servers("10.96.0.10");
  for (const char* s : {"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}) {
    dns->add_searches(s);
  }
  dns->add_options("ndots:5");
  auto& labels = *c.mutable_labels();
  labels["io.kubernetes.pod.name"] = name;
  labels["io.kubernetes.pod.namespace"] = ns;
  labels["io.kubernetes.pod.uid"] = uid;
  (*c.mutable_annotations())["kubernetes.io/config.source"] = "api";
  return c;
}

}  // namespace crius::bench
