#pragma once
// Container exits as conmon reports them: when a container's process ends,
// its conmon writes the exit code as decimal text to <exit_dir>/<id> (via a
// temporary "<id>.XXXXXX" renamed into place) and then exits itself. The
// code is the process's exit status, or 128 + signal number when a signal
// killed it, or -1 when conmon could not tell.
//
// ExitWatcher follows the directory with inotify on a background thread so
// criusd learns of an exit promptly; ReadExitFile and ScanExitDir read the
// same files directly, for recovery (exits that happened while criusd was
// down) and for a caller that must know right now.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace crius::oci {

struct ExitEvent {
  std::string id;
  int exit_code = -1;
  absl::Time finished_at;  // the exit file's mtime: when conmon wrote it
};

// NotFound when the container has not exited (no file); Internal when the
// file holds no number.
absl::StatusOr<ExitEvent> ReadExitFile(const std::string& exit_dir, const std::string& id);

// Every readable exit file in the directory (names with a '.' are conmon's
// temporary files and skipped). A missing directory is an empty result.
absl::StatusOr<std::vector<ExitEvent>> ScanExitDir(const std::string& exit_dir);

class ExitWatcher {
 public:
  // Runs on the watcher's thread, one call at a time. It must not destroy
  // the watcher (that joins the very thread it runs on).
  using Callback = std::function<void(const ExitEvent&)>;

  // Creates the directory if needed and watches it; exits written after
  // Start returns are reported. With report_existing, the files already
  // present are reported first (as ScanExitDir would), so nothing written
  // between an earlier scan and the watch is lost. Delivery is at least
  // once: an id can be reported again (e.g. present at start and renamed
  // over); consumers must treat a repeat as a no-op.
  static absl::StatusOr<std::unique_ptr<ExitWatcher>> Start(const std::string& exit_dir,
                                                            Callback callback,
                                                            bool report_existing = true);

  // Stops and joins the thread; no callback runs after it returns.
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

 private:
  ExitWatcher(std::string dir, Callback callback, UniqueFd inotify, UniqueFd stop);
  void Run(bool report_existing);
  void ReportAll();
  void Report(const std::string& name);

  const std::string dir_;
  const Callback callback_;
  UniqueFd inotify_;
  UniqueFd stop_;  // an eventfd: readable once the destructor asks to stop
  std::thread thread_;
};

}  // namespace crius::oci
