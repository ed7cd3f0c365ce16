#pragma once
// Request validation at the gRPC edge: a call missing what it cannot do
// without (metadata, ids, an image), or carrying what no kubelet sends (a
// path that climbs out of where it belongs, a NUL byte in a command, a
// negative memory limit, a 10,000-character name), is refused with
// INVALID_ARGUMENT naming the field, before any code touches the filesystem
// or the runtime. This is the one layer for such checks; modules below keep
// only the checks that need the node (does a host path exist, does the
// kernel know a sysctl).
//
// ValidateRequest(req) has an overload for each request that needs checks;
// every other request passes through the generic template.

#include <string_view>

#include "absl/status/status.h"
#include "api/api.pb.h"

namespace crius::server {

// An object id (pod sandbox, container): non-empty, at most 128 characters of
// [A-Za-z0-9_.-], not starting with '.' or '-', so it is safe as a path
// element.
absl::Status ValidateId(std::string_view field, std::string_view id);

// The pieces, exposed for their table-driven tests.
absl::Status ValidatePodSandboxConfig(const runtime::v1::PodSandboxConfig& config);
absl::Status ValidateContainerConfig(const runtime::v1::ContainerConfig& config);
absl::Status ValidateContainerResources(std::string_view field,
                                        const runtime::v1::LinuxContainerResources& resources);

template <typename Request>
absl::Status ValidateRequest(const Request&) {
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::RunPodSandboxRequest& req);
absl::Status ValidateRequest(const runtime::v1::StopPodSandboxRequest& req);
absl::Status ValidateRequest(const runtime::v1::RemovePodSandboxRequest& req);
absl::Status ValidateRequest(const runtime::v1::PodSandboxStatusRequest& req);
absl::Status ValidateRequest(const runtime::v1::PodSandboxStatsRequest& req);
absl::Status ValidateRequest(const runtime::v1::PortForwardRequest& req);
absl::Status ValidateRequest(const runtime::v1::UpdatePodSandboxResourcesRequest& req);
absl::Status ValidateRequest(const runtime::v1::CreateContainerRequest& req);
absl::Status ValidateRequest(const runtime::v1::StartContainerRequest& req);
absl::Status ValidateRequest(const runtime::v1::StopContainerRequest& req);
absl::Status ValidateRequest(const runtime::v1::RemoveContainerRequest& req);
absl::Status ValidateRequest(const runtime::v1::ContainerStatusRequest& req);
absl::Status ValidateRequest(const runtime::v1::UpdateContainerResourcesRequest& req);
absl::Status ValidateRequest(const runtime::v1::ReopenContainerLogRequest& req);
absl::Status ValidateRequest(const runtime::v1::ExecSyncRequest& req);
absl::Status ValidateRequest(const runtime::v1::ExecRequest& req);
absl::Status ValidateRequest(const runtime::v1::AttachRequest& req);
absl::Status ValidateRequest(const runtime::v1::ContainerStatsRequest& req);
absl::Status ValidateRequest(const runtime::v1::CheckpointContainerRequest& req);
absl::Status ValidateRequest(const runtime::v1::PullImageRequest& req);
absl::Status ValidateRequest(const runtime::v1::ImageStatusRequest& req);
absl::Status ValidateRequest(const runtime::v1::RemoveImageRequest& req);

}  // namespace crius::server
