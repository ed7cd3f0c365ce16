// The streaming RPCs: Exec, Attach and PortForward. Each checks that its
// target can be streamed to now (so kubectl gets NOT_FOUND or
// FAILED_PRECONDITION at once, not a URL that fails later) and answers a
// single-use URL on the streaming server, which then does the work through
// StreamingBackend. Prefixes are resolved to full ids before the token is
// minted, so the session finds the same object.

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "server/container_manager.h"
#include "server/cri_service.h"
#include "server/sandbox_manager.h"
#include "streaming/server.h"

namespace crius::server {
namespace {

absl::Status Unstreamable() {
  return absl::UnavailableError("the streaming server is not running");
}

}  // namespace

absl::StatusOr<std::string> CriService::RunningContainerId(const std::string& id) const {
  ASSIGN_OR_RETURN(auto r, containers_->Get(id));
  if (r->state != runtime::v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("container ", r->id, " is not running"));
  }
  return r->id;
}

absl::Status CriService::Exec(const CallContext&, const runtime::v1::ExecRequest& req,
                              runtime::v1::ExecResponse* resp) {
  ASSIGN_OR_RETURN(std::string id, RunningContainerId(req.container_id()));
  if (streaming_ == nullptr) return Unstreamable();
  runtime::v1::ExecRequest full = req;
  full.set_container_id(id);
  ASSIGN_OR_RETURN(std::string url, streaming_->ExecUrl(full));
  resp->set_url(url);
  return absl::OkStatus();
}

absl::Status CriService::Attach(const CallContext&, const runtime::v1::AttachRequest& req,
                                runtime::v1::AttachResponse* resp) {
  ASSIGN_OR_RETURN(std::string id, RunningContainerId(req.container_id()));
  if (streaming_ == nullptr) return Unstreamable();
  runtime::v1::AttachRequest full = req;
  full.set_container_id(id);
  ASSIGN_OR_RETURN(std::string url, streaming_->AttachUrl(full));
  resp->set_url(url);
  return absl::OkStatus();
}

absl::Status CriService::PortForward(const CallContext&, const runtime::v1::PortForwardRequest& req,
                                     runtime::v1::PortForwardResponse* resp) {
  ASSIGN_OR_RETURN(auto pod, sandboxes_->Get(req.pod_sandbox_id()));
  if (pod->state != runtime::v1::SANDBOX_READY) {
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod->id, " is not ready"));
  }
  for (int32_t port : req.port()) {
    if (port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("invalid port ", port));
    }
  }
  if (streaming_ == nullptr) return Unstreamable();
  runtime::v1::PortForwardRequest full = req;
  full.set_pod_sandbox_id(pod->id);
  ASSIGN_OR_RETURN(std::string url, streaming_->PortForwardUrl(full));
  resp->set_url(url);
  return absl::OkStatus();
}

}  // namespace crius::server
