#pragma once
// StreamingBackend: the runtime behind the streaming server (streaming/
// backend.h). Exec runs the command through the container's OCI runtime
// handler (oci/exec_session.h), Attach joins the container's stdio through
// its conmon (oci/attach_session.h), DialPod connects inside the pod's
// network namespace (sandbox/netns_dial.h). Containers and pods are looked
// up as the RPCs do, by id or unique prefix.
//
// Thread-safe: every call is independent and runs on the streaming
// server's own thread for the session.

#include <map>
#include <string>

#include "common/os.h"
#include "server/container_manager.h"
#include "server/sandbox_manager.h"
#include "streaming/backend.h"

namespace crius::server {

class StreamingBackend : public streaming::Backend {
 public:
  // `handlers` and the managers must outlive the backend.
  StreamingBackend(ContainerManager& containers, SandboxManager& sandboxes,
                   std::map<std::string, HandlerClients>& handlers, Os& os);

  absl::StatusOr<int> Exec(const runtime::v1::ExecRequest& req, streaming::SessionIo io,
                           streaming::ResizeQueue* resize,
                           const streaming::Cancellation& cancel) override;
  absl::Status Attach(const runtime::v1::AttachRequest& req, streaming::SessionIo io,
                      streaming::ResizeQueue* resize,
                      const streaming::Cancellation& cancel) override;
  absl::StatusOr<UniqueFd> DialPod(const std::string& pod_sandbox_id, int32_t port) override;

 private:
  // The running container and its handler's clients.
  absl::StatusOr<std::pair<ContainerManager::RecordPtr, HandlerClients*>> Running(
      const std::string& id);

  ContainerManager& containers_;
  SandboxManager& sandboxes_;
  std::map<std::string, HandlerClients>& handlers_;
  Os& os_;
};

}  // namespace crius::server
