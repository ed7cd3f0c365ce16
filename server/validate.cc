#include "server/validate.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace crius::server {
namespace {


absl::Status Required(std::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " is required"));
}

absl::Status ValidateImage(const runtime::v1::ImageSpec& image, bool has_image) {
  if (!has_image || image.image().empty()) return Required("image.image");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateId(std::string_view field, std::string_view id) {
  if (id.empty()) return Required(field);
  if (id.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " is longer than 128 characters"));
  }
  if (id.front() == '.' || id.front() == '-') {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " \"", AbslView(id), "\" must start with a letter or digit"));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(field), " \"", AbslView(id), "\" may only hold letters, digits, '_', '.' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::RunPodSandboxRequest& req) {
  if (!req.has_config()) return Required("config");
  const auto& config = req.config();
  if (!config.has_metadata()) return Required("config.metadata");
  const auto& md = config.metadata();
  if (md.name().empty()) return Required("config.metadata.name");
  if (md.namespace_().empty()) return Required("config.metadata.namespace");
  if (md.uid().empty()) return Required("config.metadata.uid");
  if (!config.log_directory().empty() && !absl::StartsWith(config.log_directory(), "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.log_directory \"", config.log_directory(), "\" must be an absolute path"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::StopPodSandboxRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::RemovePodSandboxRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::PodSandboxStatusRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::PodSandboxStatsRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::PortForwardRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::UpdatePodSandboxResourcesRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}

absl::Status ValidateRequest(const runtime::v1::CreateContainerRequest& req) {
  if (auto s = ValidateId("pod_sandbox_id", req.pod_sandbox_id()); !s.ok()) return s;
  if (!req.has_config()) return Required("config");
  const auto& config = req.config();
  if (!config.has_metadata()) return Required("config.metadata");
  if (config.metadata().name().empty()) return Required("config.metadata.name");
  if (!config.has_image() || config.image().image().empty()) return Required("config.image.image");
  if (!req.has_sandbox_config()) return Required("sandbox_config");
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::StartContainerRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::StopContainerRequest& req) {
  if (req.timeout() < 0) return absl::InvalidArgumentError("timeout must not be negative");
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::RemoveContainerRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::ContainerStatusRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::UpdateContainerResourcesRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::ReopenContainerLogRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::ExecSyncRequest& req) {
  if (auto s = ValidateId("container_id", req.container_id()); !s.ok()) return s;
  if (req.cmd().empty()) return Required("cmd");
  if (req.timeout() < 0) return absl::InvalidArgumentError("timeout must not be negative");
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::ExecRequest& req) {
  if (auto s = ValidateId("container_id", req.container_id()); !s.ok()) return s;
  if (req.cmd().empty()) return Required("cmd");
  if (!req.stdin() && !req.stdout() && !req.stderr()) {
    return absl::InvalidArgumentError("one of stdin, stdout or stderr must be set");
  }
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::AttachRequest& req) {
  if (auto s = ValidateId("container_id", req.container_id()); !s.ok()) return s;
  if (!req.stdin() && !req.stdout() && !req.stderr()) {
    return absl::InvalidArgumentError("one of stdin, stdout or stderr must be set");
  }
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::ContainerStatsRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::CheckpointContainerRequest& req) {
  return ValidateId("container_id", req.container_id());
}

absl::Status ValidateRequest(const runtime::v1::PullImageRequest& req) {
  return ValidateImage(req.image(), req.has_image());
}
absl::Status ValidateRequest(const runtime::v1::ImageStatusRequest& req) {
  return ValidateImage(req.image(), req.has_image());
}
absl::Status ValidateRequest(const runtime::v1::RemoveImageRequest& req) {
  return ValidateImage(req.image(), req.has_image());
}

}  // namespace crius::server
