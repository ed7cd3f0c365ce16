#pragma once
// The contract between the streaming server (HTTP, SPDY/3.1, WebSocket,
// remotecommand, portforward) and the runtime behind it. The server never
// touches a container; it turns the client's streams into file descriptors
// and calls one of these on a thread of its own (never a gRPC thread). The
// implementation (server/streaming_backend.*) runs the process through the
// OCI runtime or conmon.
//
// Ownership: every fd in SessionIo belongs to the callee once the call is
// made; the callee closes each one when it has nothing more to write (or
// read), and the server treats EOF on stdout/stderr as "that stream ended".

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/api.pb.h"
#include "common/unique_fd.h"

namespace crius::streaming {

struct TerminalSize {
  uint16_t width = 0;
  uint16_t height = 0;
  bool operator==(const TerminalSize&) const = default;
};

// Terminal size changes the client sent on its resize stream, in order.
// Thread-safe: the server pushes, the backend pops.
class ResizeQueue {
 public:
  virtual ~ResizeQueue() = default;
  // Blocks until a size arrives (returns it) or the session ends (nullopt).
  virtual std::optional<TerminalSize> Next() = 0;
};

// Signalled when the client is gone (disconnect, idle timeout, server stop)
// so the backend can end the process or the attach. fd() is readable
// (an eventfd) from the moment of cancellation on, for poll() loops.
class Cancellation {
 public:
  virtual ~Cancellation() = default;
  virtual bool Cancelled() const = 0;
  virtual int fd() const = 0;
};

// The session's stdio as the runtime side sees it. An invalid fd (-1) is a
// stream the client did not ask for.
struct SessionIo {
  UniqueFd stdin_fd;   // read: bytes the client sent; EOF when it closed stdin
  UniqueFd stdout_fd;  // write: the client's stdout (the terminal's output with tty)
  UniqueFd stderr_fd;  // write: the client's stderr (never with tty)
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Runs req.cmd() in the running container req.container_id() and blocks
  // until it exits; returns its exit code. With req.tty() the process gets a
  // terminal whose master is pumped to/from stdin_fd/stdout_fd and resized
  // from `resize`. On cancellation the process is killed and reaped before
  // the call returns. Errors (unknown/stopped container, runtime failure)
  // are reported to the client on the error stream.
  virtual absl::StatusOr<int> Exec(const runtime::v1::ExecRequest& req, SessionIo io,
                                   ResizeQueue* resize, const Cancellation& cancel) = 0;

  // Joins the container's own stdio (conmon's attach socket) until the
  // container exits, the client closes stdin with stdin_once, or the call is
  // cancelled. Output is what the container writes from now on.
  virtual absl::Status Attach(const runtime::v1::AttachRequest& req, SessionIo io,
                              ResizeQueue* resize, const Cancellation& cancel) = 0;

  // A TCP connection to 127.0.0.1:`port` inside the pod's network namespace
  // (the host's for a host-network pod), already connected.
  virtual absl::StatusOr<UniqueFd> DialPod(const std::string& pod_sandbox_id, int32_t port) = 0;
};

}  // namespace crius::streaming
