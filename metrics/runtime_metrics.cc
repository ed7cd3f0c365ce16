#include "metrics/runtime_metrics.h"

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace crius::metrics {
namespace {

// Steps range from a mkdir (tens of microseconds) to a CNI ADD or a runc
// create (tens to hundreds of milliseconds), rarely seconds.
const prometheus::Histogram::BucketBoundaries& StepBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
  return *buckets;
}

// A pull takes from milliseconds (everything present) to minutes.
const prometheus::Histogram::BucketBoundaries& PullBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return *buckets;
}

}  // namespace

RuntimeMetrics::RuntimeMetrics(prometheus::Registry& registry) {
  pod_steps_ = &prometheus::BuildHistogram()
                    .Name("crius_pod_start_step_duration_seconds")
                    .Help("Time spent in each step of RunPodSandbox, by step.")
                    .Register(registry);
  container_steps_ = &prometheus::BuildHistogram()
                          .Name("crius_container_start_step_duration_seconds")
                          .Help("Time spent in each step of creating and starting a container, by step.")
                          .Register(registry);
  cni_duration_ = &prometheus::BuildHistogram()
                       .Name("crius_cni_plugin_duration_seconds")
                       .Help("Time a CNI plugin run took, by plugin type and command.")
                       .Register(registry);
  cni_errors_ = &prometheus::BuildCounter()
                     .Name("crius_cni_plugin_errors_total")
                     .Help("CNI plugin runs that failed, by plugin type and command.")
                     .Register(registry);
  pulls_ = &prometheus::BuildCounter()
                .Name("crius_image_pulls_total")
                .Help("PullImage calls, by result (success or failure).")
                .Register(registry);
  pull_bytes_ = &prometheus::BuildCounter()
                     .Name("crius_image_pull_bytes_total")
                     .Help("Compressed layer bytes downloaded from registries.")
                     .Register(registry)
                     .Add({});
  pull_duration_ = &prometheus::BuildHistogram()
                        .Name("crius_image_pull_duration_seconds")
                        .Help("Time a PullImage took.")
                        .Register(registry)
                        .Add({}, PullBuckets());
  layers_reused_ = &prometheus::BuildCounter()
                        .Name("crius_image_layers_reused_total")
                        .Help("Layers a pull found already unpacked on the node.")
                        .Register(registry)
                        .Add({});
  oom_kills_ = &prometheus::BuildCounter()
                    .Name("crius_oom_kills_total")
                    .Help("Containers that ended because the kernel OOM killer killed them.")
                    .Register(registry)
                    .Add({});
  events_dropped_ = &prometheus::BuildCounter()
                         .Name("crius_events_dropped_total")
                         .Help("Container events a GetContainerEvents subscriber lost because it read too slowly.")
                         .Register(registry)
                         .Add({});
  recovery_ = &prometheus::BuildGauge()
                   .Name("crius_recovery_duration_seconds")
                   .Help("Time the last startup recovery of pods and containers took.")
                   .Register(registry)
                   .Add({});
}

void RuntimeMetrics::PodStartStep(std::string_view step, absl::Duration took) {
  pod_steps_->Add({{"step", std::string(step)}}, StepBuckets()).Observe(absl::ToDoubleSeconds(took));
}

void RuntimeMetrics::ContainerStartStep(std::string_view step, absl::Duration took) {
  container_steps_->Add({{"step", std::string(step)}}, StepBuckets()).Observe(absl::ToDoubleSeconds(took));
}

void RuntimeMetrics::CniPluginRun(std::string_view plugin, std::string_view command, absl::Duration took,
                                  bool ok) {
  const prometheus::Labels labels{{"plugin", std::string(plugin)}, {"command", std::string(command)}};
  cni_duration_->Add(labels, StepBuckets()).Observe(absl::ToDoubleSeconds(took));
  // Created on the first run, so the error series exists (at 0) for every
  // plugin that ever ran: a rate over it then works from the start.
  auto& errors = cni_errors_->Add(labels);
  if (!ok) errors.Increment();
}

void RuntimeMetrics::ImagePull(bool ok, absl::Duration took) {
  pulls_->Add({{"result", ok ? "success" : "failure"}}).Increment();
  pull_duration_->Observe(absl::ToDoubleSeconds(took));
}

void RuntimeMetrics::ImageLayerDownloaded(uint64_t bytes) { pull_bytes_->Increment(static_cast<double>(bytes)); }

void RuntimeMetrics::ImageLayerReused() { layers_reused_->Increment(); }

void RuntimeMetrics::OomKill() { oom_kills_->Increment(); }

void RuntimeMetrics::EventDropped() { events_dropped_->Increment(); }

void RuntimeMetrics::Recovered(absl::Duration took) { recovery_->Set(absl::ToDoubleSeconds(took)); }

}  // namespace crius::metrics
