#pragma once
// Attach: joins a running container's own stdio through its conmon's attach
// socket (crictl attach, kubectl attach). The protocol, as conmon 2.1.6
// speaks it on that SOCK_SEQPACKET socket:
//  - conmon -> us: one packet per chunk the container wrote, its first byte
//    the pipe (2 stdout, 3 stderr; a terminal's output is all 2), then at
//    most 8 KiB of output. Only output written after we connected comes.
//  - us -> conmon: packets of stdin bytes for the container (needs -i).
//  - our shutdown(SHUT_WR), or our close: conmon stops reading us and, when
//    the container was created with stdin_once (no --leave-stdin-open),
//    closes the container's stdin.
//  - EOF from conmon: the container exited (conmon is gone).
// Terminal resizes go through the bundle's ctl fifo, not the socket, so the
// caller supplies them as a callback.

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/unique_fd.h"
#include "oci/exec_session.h"

namespace crius::oci {

struct AttachSessionRequest {
  std::string socket_path;  // Monitor::AttachSocketPath
  bool tty = false;
  // An invalid fd is a stream the client did not ask for. With tty all
  // output goes to stdout_fd.
  UniqueFd stdin_fd;
  UniqueFd stdout_fd;
  UniqueFd stderr_fd;
  int resize_fd = -1;  // WindowSize records (see exec_session.h); not owned
  std::function<void(WindowSize)> on_resize;
  int cancel_fd = -1;  // readable once the session is cancelled; not owned
};

// Relays until the container exits (OK), or the session is cancelled
// (Cancelled). FailedPrecondition when no conmon listens (the container has
// exited or was never started).
absl::Status RunAttachSession(AttachSessionRequest req);

}  // namespace crius::oci
