#include "metrics/operations.h"

#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace crius::metrics {
namespace {

// Latency buckets from 100us to ~100s: CRI calls range from in-memory list
// answers to pod starts that wait on CNI plugins.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25,   0.5,     1,      2.5,   5,      10,    25,   50,    100};
  return *buckets;
}

std::string HostOf(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  operations_ = &prometheus::BuildCounter()
                     .Name("crius_operations_total")
                     .Help("CRI calls served, by operation.")
                     .Register(*registry_);
  errors_ = &prometheus::BuildCounter()
                 .Name("crius_operations_errors_total")
                 .Help("CRI calls that returned an error, by operation and gRPC code.")
                 .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("crius_operations_latency_seconds")
                  .Help("Time spent serving a CRI call, by operation.")
                  .Register(*registry_);
  runtime_ = std::make_unique<RuntimeMetrics>(*registry_);
}

Metrics::~Metrics() { StopServing(); }

void Metrics::StopServing() {
  // The listeners' threads render from everything below: they go first.
  exposer_.reset();
  unix_exposer_.reset();
}

void Metrics::AddCollectable(std::shared_ptr<prometheus::Collectable> c) {
  if (exposer_ != nullptr) exposer_->RegisterCollectable(c);
  absl::MutexLock lock(&mu_);
  collectables_.push_back(std::move(c));
}

std::string Metrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  absl::MutexLock lock(&mu_);
  for (const auto& c : collectables_) {
    auto more = c->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const std::string& address) {
  std::unique_ptr<Metrics> m(new Metrics());
  if (address.empty()) return m;
  if (address.starts_with("unix://")) {
    Metrics* raw = m.get();
    ASSIGN_OR_RETURN(m->unix_exposer_, UnixExposer::Start(address.substr(7), [raw] { return raw->Render(); }));
    m->bound_address_ = address;
    return m;
  }
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  m->exposer_->RegisterCollectable(m->registry_);
  auto ports = m->exposer_->GetListeningPorts();
  m->bound_address_ =
      ports.empty() ? address : absl::StrCat(HostOf(address), ":", ports.front());
  return m;
}

void Metrics::Record(std::string_view operation, absl::StatusCode code, absl::Duration latency) {
  const std::string op(operation);
  operations_->Add({{"operation", op}}).Increment();
  if (code != absl::StatusCode::kOk) {
    errors_->Add({{"operation", op}, {"code", absl::StatusCodeToString(code)}}).Increment();
  }
  latency_->Add({{"operation", op}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(latency));
}

}  // namespace crius::metrics
