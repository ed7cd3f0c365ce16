#pragma once
// Subprocess: a long-running child process (a daemon under test, a registry,
// a helper) owned like any other kernel resource. Destroying a Subprocess
// whose child still runs SIGKILLs and reaps it, so no error path leaves an
// orphan or a zombie behind. Exec (exec.h) is built on the same spawn code.
//
// Spawning is safe from a multi-threaded process: everything the child needs
// is prepared before fork, and the child only makes async-signal-safe calls
// (see subprocess.cc for the exact sequence). The child starts with default
// signal dispositions, an empty signal mask, only the descriptors it was
// given, and exactly the environment it was given.
//
// Not thread-safe: one owner drives a Subprocess (guard it if shared).
// The owner must be the one reaping the child: a SIGCHLD handler or reaper
// thread elsewhere that calls waitpid(-1, ...) would steal its exit status,
// and SIGCHLD set to SIG_IGN makes the kernel discard it.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace crius {

struct SubprocessOptions {
  // argv[0] must be an absolute path: no PATH search, so which binary runs
  // never depends on the daemon's own environment (see FindExecutable).
  std::vector<std::string> argv;
  // The child's entire environment ("NAME=value"); nothing is inherited.
  std::vector<std::string> env;
  // Working directory of the child; empty keeps the daemon's.
  std::string cwd;

  // The child's stdin is stdin_fd when >= 0, else /dev/null: a daemon's own
  // stdin is never handed to a child.
  int stdin_fd = -1;
  // stdout/stderr: the given fd when >= 0; else the path when non-empty,
  // opened for append and created 0644 ("/dev/null" discards); else the
  // daemon's own stdout/stderr are inherited.
  int stdout_fd = -1;
  std::string stdout_path;
  int stderr_fd = -1;
  std::string stderr_path;
  // Further descriptors the child receives as fds 3, 4, ... in this order
  // (e.g. conmon's sync pipe). Not taken over: the caller still closes them.
  std::vector<int> extra_fds;

  // setsid() in the child: its own session and process group, so terminal
  // and process-group signals aimed at the daemon do not reach it.
  bool new_session = false;
};

class Subprocess {
 public:
  // Fails with the errno-derived code of the step that failed in the child
  // (e.g. NotFound for a missing binary, PermissionDenied for a
  // non-executable one) and a message naming that step and argv[0].
  static absl::StatusOr<Subprocess> Start(const SubprocessOptions& options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // SIGKILLs and reaps a child that was not yet reaped. Blocks until the
  // kernel has torn it down.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // A pidfd for poll()ing the child's exit; -1 when the kernel or a seccomp
  // filter refused pidfd_open (callers then fall back to polling Running()).
  int pidfd() const { return pidfd_.get(); }

  // Sends `sig` to the child by its pid. Safe until the child is reaped,
  // because an unreaped pid cannot be reused; after Wait() has returned the
  // child it is FailedPrecondition instead of a signal to a stranger.
  absl::Status Signal(int sig);

  // Waits for the child to exit and reaps it; returns the raw wait status
  // (decode with DescribeWaitStatus or the W* macros). DeadlineExceeded if
  // it is still running after `timeout`; the child is left running then.
  // After a successful Wait, further calls return the same status.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::InfiniteDuration());

  // True until the child has exited. Does not reap it, so pid() stays
  // valid for Signal until Wait.
  bool Running();

 private:
  Subprocess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  bool TryReap(int flags);
  void KillAndReap();

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// "exited with code 1", "killed by signal 9 (SIGKILL)", with " (core
// dumped)" when applicable; for messages and logs.
std::string DescribeWaitStatus(int wait_status);

// "SIGKILL" for 9; "signal 77" for numbers without a name.
std::string SignalName(int sig);

}  // namespace crius
