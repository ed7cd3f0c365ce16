// crius-pause: the infra process of a pod whose containers share one PID
// namespace. It is that namespace's PID 1, so it must (a) keep the
// namespace alive while containers come and go, (b) reap every orphan the
// kernel reparents to it, and (c) exit promptly and cleanly when asked.
//
// It runs from an otherwise empty, read-only rootfs, so it is linked
// statically and uses only raw system calls and write(2): no stdio, no C++
// runtime.
//
// Signals are taken synchronously (blocked, then sigwaitinfo) rather than by
// handlers: the reaping then runs in normal context, and there is no window
// between checking for work and going to sleep in which a SIGCHLD could be
// lost. Blocked signals are also delivered to a namespace's init even when
// their default action would be ignored there.

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

void Say(const char* text) {
  size_t left = strlen(text);
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, text, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr gone (e.g. /dev/null closed): nothing to do
    text += n;
    left -= static_cast<size_t>(n);
  }
}

void ReapAll() {
  for (;;) {
    pid_t pid = waitpid(-1, nullptr, WNOHANG);
    if (pid > 0) continue;
    if (pid < 0 && errno == EINTR) continue;
    return;  // 0: children remain but none has exited; -1/ECHILD: no children
  }
}

}  // namespace

int main(int argc, char** argv) {
  (void)argv;
  if (argc > 1) {
    Say("usage: crius-pause (takes no arguments; SIGINT/SIGTERM end it)\n");
    return 2;
  }

  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGINT);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &wanted, nullptr) != 0) {
    Say("crius-pause: sigprocmask failed\n");
    return 1;
  }

  if (getpid() != 1) {
    // Outside a fresh PID namespace orphans go to the real init unless we
    // claim them; still do the job as far as we can.
    Say("crius-pause: warning: not PID 1; reaping only descendants reparented to it\n");
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  }

  // Children may have exited before SIGCHLD was blocked.
  ReapAll();
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&wanted, &info);
    if (sig < 0) continue;  // EINTR from a stop/continue
    if (sig == SIGCHLD) {
      ReapAll();
    } else {
      return 0;  // SIGINT or SIGTERM
    }
  }
}
