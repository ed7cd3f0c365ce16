// criusd: the crius CRI daemon.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "common/failpoint.h"
#include "common/log.h"
#include "server/config.h"
#include "server/daemon.h"
#include "server/flags.h"

namespace {

// SIGTERM and SIGINT are taken synchronously by the main thread (SIGCHLD by
// the daemon's reaper thread); blocking
// them before any other thread exists makes every later thread inherit the
// mask, so no gRPC thread is ever interrupted by them.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // SIGCHLD likewise, for the daemon's reaper thread, which sigwaits it.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  // A CNI plugin or runtime that exits before reading its stdin must not
  // take the daemon down with it.
  signal(SIGPIPE, SIG_IGN);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace crius;
  auto flags = server::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "criusd: " << flags.status().message() << "\n"
              << "Run 'criusd --help' for the flags.\n";
    return 2;
  }
  if (flags->help) {
    std::cout << server::FlagsHelp();
    return 0;
  }
  if (flags->version) {
    std::cout << "criusd version " << CRIUS_VERSION << "\n";
    return 0;
  }
  if (flags->list_failpoints) {
    for (std::string_view name : failpoint::AllNames()) std::cout << name << "\n";
    return 0;
  }
  // Before anything else: a test that arms a misspelt point must fail to
  // start, not run without the crash it asked for.
  if (auto s = failpoint::ArmFromEnvironment(); !s.ok()) {
    std::cerr << "criusd: CRIUS_FAILPOINT: " << s.message() << "\n";
    return 2;
  }
  auto config = server::LoadConfig(*flags);
  if (!config.ok()) {
    std::cerr << "criusd: invalid configuration: " << config.status().message() << "\n";
    return 1;
  }
  if (flags->print_config) {
    std::cout << server::ConfigToYaml(*config);
    return 0;
  }
  auto level = log::ParseLevel(config->log_level);
  if (level.ok()) log::SetLevel(*level);

  sigset_t signals = BlockShutdownSignals();
  auto daemon = server::Daemon::Start(*config);
  if (!daemon.ok()) {
    CRIUS_LOG(kError) << "cannot start: " << daemon.status().message();
    return 1;
  }
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  CRIUS_LOG(kInfo) << "received " << strsignal(sig) << ", draining in-flight calls";
  (*daemon)->Shutdown(absl::Seconds(10));
  CRIUS_LOG(kInfo) << "stopped";
  return 0;
}
