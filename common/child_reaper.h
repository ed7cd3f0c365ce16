#pragma once
// criusd is a child subreaper (PR_SET_CHILD_SUBREAPER): what its children
// leave behind — conmon once it has daemonized, the pause process after
// `runc run -d`, a container's init after a failed create, the command of a
// killed `runc exec` — is reparented to criusd rather than to PID 1, and
// criusd reaps it when it exits. (PID 1 of a container host or a minimal VM
// may reap slowly or never.)
//
// A blanket waitpid(-1) would also take the exit status of children that
// code waits for itself (Subprocess, the namespace helper). So those are
// forked through ForkOwnedChild, which records them as owned until their
// owner releases them after reaping, and the reaper reaps only the others.
// The registry is process-wide because waitpid is.

#include <sys/types.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace crius {

// Runs `fork_fn` — which forks and returns the child's pid in the parent,
// or -1 — and records a child it made as owned; the reaper reaps nothing
// while a fork is under way, so it never sees the child unowned even if it
// exits at once. Forks on different threads run in parallel. The child
// must only exec or _exit (it must not take the registry's lock).
pid_t ForkOwnedChild(absl::FunctionRef<pid_t()> fork_fn);

// `pid`'s owner has reaped it (or no longer will): the reaper may take it.
void ReleaseOwnedChild(pid_t pid);

// Whether `pid` is currently owned (for tests).
bool IsOwnedChild(pid_t pid);

// Reaps every exited child of this process that nobody owns; returns how
// many it reaped. Never blocks on a live child.
int ReapUnownedChildren();

// Makes this process a child subreaper.
absl::Status BecomeChildSubreaper();

}  // namespace crius
