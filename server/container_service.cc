// The container RPCs: CreateContainer, StartContainer, StopContainer,
// RemoveContainer, ContainerStatus, ListContainers, StreamContainers,
// ExecSync, ReopenContainerLog and UpdateContainerResources. The work is in
// ContainerManager; this file maps records to CRI messages, from memory.

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "server/container_manager.h"
#include "server/cri_service.h"
#include "server/record_lookup.h"
#include "server/status_messages.h"
#include "server/stream_batches.h"

namespace crius::server {
namespace {

using runtime::v1::Container;
using runtime::v1::ContainerFilter;

bool Matches(const ContainerFilter& f, const ContainerRecord& r) {
  if (!f.id().empty() && r.id.compare(0, f.id().size(), f.id()) != 0) return false;
  if (f.has_state() && f.state().state() != r.state) return false;
  if (!f.pod_sandbox_id().empty() && r.sandbox_id.compare(0, f.pod_sandbox_id().size(), f.pod_sandbox_id()) != 0) {
    return false;
  }
  return LabelsMatch(f.label_selector(), r.config.labels());
}

void FillContainer(const ContainerRecord& r, Container* out) {
  out->set_id(r.id);
  out->set_pod_sandbox_id(r.sandbox_id);
  *out->mutable_metadata() = r.config.metadata();
  out->mutable_image()->set_image(r.image_name);
  out->set_image_ref(r.image_id);
  out->set_image_id(r.image_id);
  out->set_state(r.state);
  out->set_created_at(r.created_at_ns);
  *out->mutable_labels() = r.config.labels();
  *out->mutable_annotations() = r.config.annotations();
}

}  // namespace

std::string CriService::ImageRefFor(const ContainerRecord& r) const { return server::ImageRefFor(*images_, r); }

absl::Status CriService::CreateContainer(const CallContext& ctx, const runtime::v1::CreateContainerRequest& req,
                                         runtime::v1::CreateContainerResponse* resp) {
  ASSIGN_OR_RETURN(std::string id, containers_->Create(ctx, req));
  resp->set_container_id(id);
  return absl::OkStatus();
}

absl::Status CriService::StartContainer(const CallContext&, const runtime::v1::StartContainerRequest& req,
                                        runtime::v1::StartContainerResponse*) {
  return containers_->Start(req.container_id());
}

absl::Status CriService::StopContainer(const CallContext&, const runtime::v1::StopContainerRequest& req,
                                       runtime::v1::StopContainerResponse*) {
  return containers_->Stop(req.container_id(), req.timeout());
}

absl::Status CriService::RemoveContainer(const CallContext&, const runtime::v1::RemoveContainerRequest& req,
                                         runtime::v1::RemoveContainerResponse*) {
  return containers_->Remove(req.container_id());
}

absl::Status CriService::ContainerStatus(const CallContext&, const runtime::v1::ContainerStatusRequest& req,
                                         runtime::v1::ContainerStatusResponse* resp) {
  ASSIGN_OR_RETURN(auto found, containers_->Get(req.container_id()));
  const ContainerRecord& r = *found;
  FillContainerStatus(r, ImageRefFor(r), resp->mutable_status());
  if (req.verbose()) {
    nlohmann::json info = {{"id", r.id},
                           {"sandboxID", r.sandbox_id},
                           {"pid", r.pid},
                           {"conmonPid", r.conmon.pid},
                           {"runtimeHandler", r.runtime_handler},
                           {"bundle", r.bundle}};
    auto spec = ReadFile(r.bundle + "/config.json");
    if (spec.ok()) info["runtimeSpec"] = nlohmann::json::parse(*spec, nullptr, false);
    (*resp->mutable_info())["info"] = info.dump();
  }
  return absl::OkStatus();
}

absl::Status CriService::ListContainers(const CallContext&, const runtime::v1::ListContainersRequest& req,
                                        runtime::v1::ListContainersResponse* resp) {
  for (const auto& r : containers_->List()) {
    if (req.has_filter() && !Matches(req.filter(), *r)) continue;
    FillContainer(*r, resp->add_containers());
  }
  return absl::OkStatus();
}

absl::Status CriService::StreamContainers(
    const CallContext&, const runtime::v1::StreamContainersRequest& req,
    const std::function<bool(const runtime::v1::StreamContainersResponse&)>& send) {
  return StreamInBatches<runtime::v1::StreamContainersResponse>(
      containers_->List(), [&](const auto& r) { return !req.has_filter() || Matches(req.filter(), *r); },
      [](const auto& r, auto& batch) { FillContainer(*r, batch.add_containers()); }, send);
}

absl::Status CriService::ExecSync(const CallContext& ctx, const runtime::v1::ExecSyncRequest& req,
                                  runtime::v1::ExecSyncResponse* resp) {
  ASSIGN_OR_RETURN(*resp, containers_->ExecSync(req, ctx.deadline));
  return absl::OkStatus();
}

absl::Status CriService::ReopenContainerLog(const CallContext&, const runtime::v1::ReopenContainerLogRequest& req,
                                            runtime::v1::ReopenContainerLogResponse*) {
  return containers_->ReopenLog(req.container_id());
}

absl::Status CriService::UpdateContainerResources(const CallContext&,
                                                  const runtime::v1::UpdateContainerResourcesRequest& req,
                                                  runtime::v1::UpdateContainerResourcesResponse*) {
  runtime::v1::ContainerResources res;
  if (req.has_linux()) *res.mutable_linux() = req.linux();
  return containers_->UpdateResources(req.container_id(), res);
}

}  // namespace crius::server
