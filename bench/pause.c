/* The sandbox image for containerd's CRI in the pod benchmark: containerd
 * 1.6 runs one "pause" container per pod and this machine cannot pull one.
 * It sleeps until SIGINT/SIGTERM and reaps any child that gets reparented to
 * it (it is PID 1 of the pod's PID namespace when that is shared).
 * Built with `gcc -static` by bench/make_pause_image.sh. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
  return 0;
}
