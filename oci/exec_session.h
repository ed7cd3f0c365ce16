#pragma once
// An interactive exec: a command run in a running container through the OCI
// runtime (`runc exec --process <file>`), its stdio wired to the caller's
// file descriptors for as long as it runs. This is the runtime half of the
// streaming Exec (kubectl exec, crictl exec without -s); ExecSync, which
// captures output instead, is RuntimeClient::ExecProcess.
//
// Without a terminal the runtime's stdin/stdout/stderr are the caller's fds:
// runc hands its own stdio to the process, so bytes flow with no copy here.
//
// With a terminal, runc runs in the foreground with a pseudo-terminal of
// ours as its stdio (its "host console"); runc allocates the container's own
// pty, copies between the two, and on SIGWINCH resizes the container's pty
// to our terminal's size. Why not `--console-socket` and the pty master:
// runc only accepts a console socket with `--detach`, and a detached exec
// process is reparented to criusd (a child subreaper) whose reaper would
// take its exit status. In the foreground, runc is a subreaper itself, waits
// for the process and exits with its status, so everything stays a direct
// child of ours. crun takes the same flags.
//
// Nothing outlives the call: the process.json, pid file and runtime log are
// removed, every fd passed in is closed, and on cancellation the process
// inside the container is killed (by the pid runc wrote) and runc reaped.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "nlohmann/json.hpp"
#include "oci/runtime_client.h"

namespace crius::oci {

// One terminal size, as the resize fd carries it (host byte order).
struct WindowSize {
  uint16_t width = 0;
  uint16_t height = 0;
};

struct ExecSessionRequest {
  std::string id; // the container, as the runtime knows it
  // The OCI process object (args, env, cwd, user...): the container's own
  // process with args replaced. "terminal" is set from `tty`.
  nlohmann::json process;
  bool tty = false;
  // Receives the temporary process.json, pid file and runtime log.
  std::string work_dir;
  // An invalid fd is a stream the client did not ask for (/dev/null).
  UniqueFd stdin_fd;
  UniqueFd stdout_fd;
  UniqueFd stderr_fd; // unused with tty: the terminal has one output
  // Readable: WindowSize records to apply to the terminal (tty only); EOF
  // or -1 means no more. Not owned.
  int resize_fd = -1;
  // Readable once the session is cancelled (an eventfd). Not owned.
  int cancel_fd = -1;
};

// Runs the process and blocks until it exits; returns its exit code (128 +
// signal when a signal ended it). Errors: NotFound when the runtime has no
// such container; Internal with the runtime's message when it could not
// run the process (e.g. no such executable); Cancelled when `cancel_fd`
// fired (the process has been killed and reaped by then).
absl::StatusOr<int> RunExecSession(const RuntimeClientOptions &runtime,
                                   ExecSessionRequest req);

// Writes one WindowSize record to a resize pipe.
absl::Status WriteWindowSize(int fd, WindowSize size);

} // namespace crius::oci
