#include "server/streaming_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "oci/attach_session.h"
#include "oci/exec_session.h"
#include "oci/monitor.h"
#include "sandbox/netns_dial.h"

namespace crius::server {
namespace {

// The oci sessions poll a pipe of sizes; the server hands them out through
// a blocking queue. A relay thread moves them across. It is detached
// because Next() only returns once the server closes the queue, which the
// server does after the call has returned (it keeps the queue alive past
// that); the thread then ends, and a write to the pipe the session already
// closed fails with EPIPE (criusd ignores SIGPIPE) and ends it too.
absl::StatusOr<UniqueFd> StartResizeRelay(streaming::ResizeQueue* queue) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("resize pipe");
  UniqueFd read_end(fds[0]);
  std::thread([queue, write_end = UniqueFd(fds[1])] {
    while (auto size = queue->Next()) {
      if (!oci::WriteWindowSize(write_end.get(), {size->width, size->height}).ok()) return;
    }
  }).detach();
  return read_end;
}

}  // namespace

StreamingBackend::StreamingBackend(ContainerManager& containers, SandboxManager& sandboxes,
                                   std::map<std::string, HandlerClients>& handlers, Os& os)
    : containers_(containers), sandboxes_(sandboxes), handlers_(handlers), os_(os) {}

absl::StatusOr<std::pair<ContainerManager::RecordPtr, HandlerClients*>> StreamingBackend::Running(
    const std::string& id) {
  ASSIGN_OR_RETURN(ContainerManager::RecordPtr r, containers_.Get(id));
  if (r->state != runtime::v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("container ", r->id, " is not running"));
  }
  auto it = handlers_.find(r->runtime_handler);
  if (it == handlers_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("runtime handler ", r->runtime_handler, " of container ", r->id, " is gone"));
  }
  return std::make_pair(r, &it->second);
}

absl::StatusOr<int> StreamingBackend::Exec(const runtime::v1::ExecRequest& req,
                                           streaming::SessionIo io,
                                           streaming::ResizeQueue* resize,
                                           const streaming::Cancellation& cancel) {
  auto running = Running(req.container_id());
  if (!running.ok()) return running.status();
  const auto& [r, clients] = *running;
  if (req.cmd().empty()) return absl::InvalidArgumentError("exec: cmd is required");
  oci::ExecSessionRequest session;
  session.id = r->id;
  ASSIGN_OR_RETURN(session.process, ExecProcessFor(*r, {req.cmd().begin(), req.cmd().end()}));
  session.tty = req.tty();
  session.work_dir = r->bundle;
  session.stdin_fd = std::move(io.stdin_fd);
  session.stdout_fd = std::move(io.stdout_fd);
  session.stderr_fd = std::move(io.stderr_fd);
  session.cancel_fd = cancel.fd();
  UniqueFd resize_fd;
  if (req.tty() && resize != nullptr) {
    ASSIGN_OR_RETURN(resize_fd, StartResizeRelay(resize));
    session.resize_fd = resize_fd.get();
  }
  absl::StatusOr<int> code = oci::RunExecSession(clients->runtime->options(), std::move(session));
  if (!code.ok()) return Annotate(code.status(), absl::StrCat("exec in container ", r->id));
  return code;
}

absl::Status StreamingBackend::Attach(const runtime::v1::AttachRequest& req,
                                      streaming::SessionIo io, streaming::ResizeQueue* resize,
                                      const streaming::Cancellation& cancel) {
  ASSIGN_OR_RETURN(auto running, Running(req.container_id()));
  const auto& [r, clients] = running;
  oci::AttachSessionRequest session;
  session.socket_path = clients->monitor->AttachSocketPath(r->id);
  session.tty = r->config.tty();
  session.stdin_fd = std::move(io.stdin_fd);
  session.stdout_fd = std::move(io.stdout_fd);
  session.stderr_fd = std::move(io.stderr_fd);
  session.cancel_fd = cancel.fd();
  UniqueFd resize_fd;
  if (session.tty && resize != nullptr) {
    ASSIGN_OR_RETURN(resize_fd, StartResizeRelay(resize));
    session.resize_fd = resize_fd.get();
    session.on_resize = [bundle = r->bundle](oci::WindowSize s) {
      (void)oci::Monitor::Resize(bundle, s.height, s.width);
    };
  }
  return Annotate(oci::RunAttachSession(std::move(session)),
                  absl::StrCat("attach to container ", r->id));
}

absl::StatusOr<UniqueFd> StreamingBackend::DialPod(const std::string& pod_sandbox_id,
                                                   int32_t port) {
  ASSIGN_OR_RETURN(SandboxManager::RecordPtr pod, sandboxes_.Get(pod_sandbox_id));
  if (pod->state != runtime::v1::SANDBOX_READY) {
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod->id, " is not ready"));
  }
  const std::string netns = pod->HostNetwork() ? "" : pod->namespaces.net;
  if (!pod->HostNetwork() && netns.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("pod sandbox ", pod->id, " has no network namespace"));
  }
  return sandbox::DialInNetns(os_, netns, port);
}

}  // namespace crius::server
