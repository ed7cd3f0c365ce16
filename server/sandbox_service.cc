// The pod sandbox RPCs: RunPodSandbox, StopPodSandbox, RemovePodSandbox,
// PodSandboxStatus, UpdatePodSandboxResources, ListPodSandbox and
// StreamPodSandboxes. The work is in SandboxManager; this file turns records
// into CRI messages and applies the list filters, from memory.

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/cri_service.h"
#include "server/record_lookup.h"
#include "server/sandbox_manager.h"
#include "server/status_messages.h"
#include "server/stream_batches.h"

namespace crius::server {
namespace {

using runtime::v1::PodSandbox;
using runtime::v1::PodSandboxFilter;

bool Matches(const PodSandboxFilter& f, const SandboxRecord& r) {
  if (!f.id().empty() && r.id.compare(0, f.id().size(), f.id()) != 0) return false;
  if (f.has_state() && f.state().state() != r.state) return false;
  return LabelsMatch(f.label_selector(), r.config.labels());
}

void FillPodSandbox(const SandboxRecord& r, PodSandbox* out) {
  out->set_id(r.id);
  *out->mutable_metadata() = r.config.metadata();
  out->set_state(r.state);
  out->set_created_at(r.created_at_ns);
  *out->mutable_labels() = r.config.labels();
  *out->mutable_annotations() = r.config.annotations();
  out->set_runtime_handler(r.runtime_handler);
}

// The pod-level values of a LinuxContainerResources (what
// UpdatePodSandboxResources uses), in the JSON names CRI clients print.
nlohmann::json PodResourcesJson(const runtime::v1::LinuxContainerResources& r) {
  return {{"cpuPeriod", r.cpu_period()},
          {"cpuQuota", r.cpu_quota()},
          {"cpuShares", r.cpu_shares()},
          {"memoryLimitInBytes", r.memory_limit_in_bytes()}};
}

std::string VerboseInfo(const SandboxRecord& r) {
  nlohmann::json info = {
      {"id", r.id},
      {"netns", r.namespaces.net},
      {"ipcNamespace", r.namespaces.ipc},
      {"utsNamespace", r.namespaces.uts},
      {"podDir", r.pod_dir},
      {"shm", r.shm_path},
      {"cgroupParent", r.cgroup.path},
      {"runtimeHandler", r.runtime_handler},
      {"networkAttached", r.network_attached},
      {"infraPid", r.infra.pid},
  };
  if (!r.cni_result.empty()) {
    info["cniResult"] = nlohmann::json::parse(r.cni_result, nullptr, false);
  }
  if (!r.network_error.empty()) info["networkError"] = r.network_error;
  // As sent at RunPodSandbox or by the last UpdatePodSandboxResources.
  if (r.config.linux().has_resources()) {
    info["resources"] = PodResourcesJson(r.config.linux().resources());
  }
  if (r.config.linux().has_overhead()) {
    info["overhead"] = PodResourcesJson(r.config.linux().overhead());
  }
  return info.dump();
}

}  // namespace

absl::Status CriService::RunPodSandbox(const CallContext& ctx, const runtime::v1::RunPodSandboxRequest& req,
                                       runtime::v1::RunPodSandboxResponse* resp) {
  auto id = sandboxes_->Run(ctx, req);
  if (!id.ok()) return id.status();
  resp->set_pod_sandbox_id(*id);
  return absl::OkStatus();
}

absl::Status CriService::StopPodSandbox(const CallContext&, const runtime::v1::StopPodSandboxRequest& req,
                                        runtime::v1::StopPodSandboxResponse*) {
  return sandboxes_->Stop(req.pod_sandbox_id());
}

absl::Status CriService::RemovePodSandbox(const CallContext&,
                                          const runtime::v1::RemovePodSandboxRequest& req,
                                          runtime::v1::RemovePodSandboxResponse*) {
  return sandboxes_->Remove(req.pod_sandbox_id());
}

absl::Status CriService::PodSandboxStatus(const CallContext&,
                                          const runtime::v1::PodSandboxStatusRequest& req,
                                          runtime::v1::PodSandboxStatusResponse* resp) {
  auto found = sandboxes_->Get(req.pod_sandbox_id());
  if (!found.ok()) return found.status();
  const SandboxRecord& r = **found;
  FillPodSandboxStatus(r, resp->mutable_status());
  if (req.verbose()) (*resp->mutable_info())["info"] = VerboseInfo(r);
  resp->set_timestamp(absl::ToUnixNanos(absl::Now()));
  return absl::OkStatus();
}

absl::Status CriService::UpdatePodSandboxResources(
    const CallContext&, const runtime::v1::UpdatePodSandboxResourcesRequest& req,
    runtime::v1::UpdatePodSandboxResourcesResponse*) {
  return sandboxes_->UpdateResources(req);
}

absl::Status CriService::ListPodSandbox(const CallContext&, const runtime::v1::ListPodSandboxRequest& req,
                                        runtime::v1::ListPodSandboxResponse* resp) {
  for (const auto& r : sandboxes_->List()) {
    if (req.has_filter() && !Matches(req.filter(), *r)) continue;
    FillPodSandbox(*r, resp->add_items());
  }
  return absl::OkStatus();
}

absl::Status CriService::StreamPodSandboxes(
    const CallContext&, const runtime::v1::StreamPodSandboxesRequest& req,
    const std::function<bool(const runtime::v1::StreamPodSandboxesResponse&)>& send) {
  return StreamInBatches<runtime::v1::StreamPodSandboxesResponse>(
      sandboxes_->List(), [&](const auto& r) { return !req.has_filter() || Matches(req.filter(), *r); },
      [](const auto& r, auto& batch) { FillPodSandbox(*r, batch.add_pod_sandboxes()); }, send);
}

}  // namespace crius::server
