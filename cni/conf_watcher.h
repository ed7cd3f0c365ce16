#pragma once
// ConfDirWatcher: a background thread that calls back whenever the CNI
// configuration directory changes (a file created, written, deleted,
// renamed in or out, or the directory itself replaced), using inotify.
//
// Events arriving together are coalesced into one callback, so an editor's
// write-then-rename costs one reload. While the callback reports that it
// wants another look (the network is not ready yet: a plugin binary may
// still be being installed, a directory may not exist yet), the thread also
// calls it every `retry_interval`, and keeps trying to watch a directory
// that does not exist yet.

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace crius::cni {

class ConfDirWatcher {
 public:
  // The callback returns true to be called again after `retry_interval`
  // even without an event. It runs on the watcher thread.
  using Callback = std::function<bool()>;

  ConfDirWatcher(std::string dir, Callback callback, absl::Duration retry_interval);
  ~ConfDirWatcher();  // stops the thread
  ConfDirWatcher(const ConfDirWatcher&) = delete;
  ConfDirWatcher& operator=(const ConfDirWatcher&) = delete;

  // Starts the thread; the callback runs once at once.
  absl::Status Start();
  // Idempotent; waits for an ongoing callback to return.
  void Stop();

 private:
  void Run();
  bool TryWatch();
  // Reads all pending events; false if the watched directory went away.
  bool DrainEvents();

  const std::string dir_;
  const Callback callback_;
  const absl::Duration retry_interval_;
  UniqueFd inotify_;
  UniqueFd stop_;  // eventfd: written once to stop the thread
  int wd_ = -1;    // only touched by the thread once started
  std::thread thread_;
};

}  // namespace crius::cni
