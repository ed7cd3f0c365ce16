#pragma once
// ProcessWatcher: tells, on one background thread, when watched processes
// exit. criusd uses it for the conmon of every live container: conmon writes
// the exit file and then exits, so a conmon that exits without an exit file
// was killed, and its container has lost its stdio, its log and whoever
// would report its exit (see ContainerManager::OnMonitorExit).
//
// Each process is watched through a pidfd in one epoll set; a process that
// is already gone (or whose pid now names another process) when Watch is
// called is reported at once, on the watcher's thread like every report.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "oci/monitor.h"

namespace crius::oci {

class ProcessWatcher {
 public:
  // Runs on the watcher's thread, one call at a time, with the key given to
  // Watch. It may call Watch; it must not destroy the watcher.
  using Callback = std::function<void(const std::string& key)>;

  static absl::StatusOr<std::unique_ptr<ProcessWatcher>> Start(Callback callback);
  // Stops and joins the thread; no callback runs after it returns.
  ~ProcessWatcher();
  ProcessWatcher(const ProcessWatcher&) = delete;
  ProcessWatcher& operator=(const ProcessWatcher&) = delete;

  // Reports `key` once `who` has exited. Each Watch reports once; watching
  // a key again adds a second report.
  void Watch(const std::string& key, const ProcessIdentity& who);

 private:
  ProcessWatcher(Callback callback, UniqueFd epoll, UniqueFd wake);
  void Run();

  const Callback callback_;
  UniqueFd epoll_;
  UniqueFd wake_;  // an eventfd: something is pending, or the destructor asks to stop
  absl::Mutex mu_;
  std::map<int, std::pair<std::string, UniqueFd>> watched_ ABSL_GUARDED_BY(mu_);  // by pidfd
  std::vector<std::string> gone_ ABSL_GUARDED_BY(mu_);  // reported on the next wake
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crius::oci
