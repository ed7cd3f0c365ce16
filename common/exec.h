#pragma once
// Exec: the one way the daemon runs a child to completion (CNI plugins, runc
// commands, helpers). It never goes through a shell, gives the child exactly
// the environment it is handed, feeds stdin while capturing stdout and
// stderr concurrently (so neither side can deadlock on a full pipe), kills
// the child at a deadline, and bounds what it keeps of the output.
//
// SIGPIPE: Exec never changes process-wide signal state. While it writes
// the child's stdin it blocks SIGPIPE in the calling thread only and
// discards the SIGPIPE its own writes raised, so a child that exits without
// reading its input yields EPIPE (stdin is then just closed), never a dead
// daemon. The daemon is still free to set SIGPIPE to SIG_IGN for its sockets.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crius {

struct ExecOptions {
  // argv[0] must be an absolute path (resolve names with FindExecutable
  // against configured directories, never the daemon's own PATH).
  std::vector<std::string> argv;
  // The child's entire environment ("NAME=value"); nothing is inherited.
  std::vector<std::string> env;
  // Written to the child's stdin, which is then closed (empty: EOF at once).
  std::string stdin_data;
  // After this the child is SIGKILLed (by pid) and reaped.
  absl::Duration timeout = absl::Seconds(60);
  // Bytes kept per stream; the rest is read and dropped so the child never
  // blocks on a full pipe.
  size_t max_output = size_t{1} << 20;
  // Working directory of the child; empty keeps the daemon's.
  std::string cwd;
};

struct ExecResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the terminating signal, 0 when it exited
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

// Runs the child to completion. OK for any exit code or signal (inspect the
// result). Errors: InvalidArgument for bad options; the spawn failure's own
// code (NotFound for a missing binary, PermissionDenied for a non-executable
// one); DeadlineExceeded when it had to be killed ("... killed after 200ms").
// Only the child is waited for: output written after it exits by processes
// it left behind (still holding the pipes) is not collected.
absl::StatusOr<ExecResult> Exec(const ExecOptions& options);

// Like Exec, but a non-zero exit is Internal and death by a signal is
// Unknown; the message carries argv, the exit code or signal, and the tail
// of stderr (or of stdout when stderr is empty, since CNI plugins report
// errors as JSON on stdout). The environment is never put in messages.
absl::StatusOr<ExecResult> ExecChecked(const ExecOptions& options);

// Finds `name` as an executable regular file in `dirs`, in order. A name
// containing '/' must be absolute and is only checked. NotFound otherwise.
absl::StatusOr<std::string> FindExecutable(const std::string& name,
                                           const std::vector<std::string>& dirs);

// argv as a readable, bounded line for messages and logs: arguments that
// are empty or hold spaces, quotes or control characters are quoted.
std::string DescribeArgv(const std::vector<std::string>& argv);

}  // namespace crius
