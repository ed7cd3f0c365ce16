#pragma once
// NsHelper: the short-lived child process in which a pod's namespaces are
// born. The daemon is multi-threaded (gRPC workers), and unshare(2) in one
// of its threads would move that thread, and whatever it runs next, into
// the pod's namespaces. So a child is forked instead; it unshares, sets up
// the new namespaces from the inside, reports, and then simply waits to be
// killed while the parent bind-mounts /proc/<pid>/ns/* onto the pin files.
//
// Why fork and not exec a helper binary: every step the child takes is a
// plain syscall (unshare, sethostname, socket/ioctl, open/write/close) on
// data prepared before the fork, so it stays within the async-signal-safe
// rules that apply after fork in a threaded process — no allocation, no
// locks, no logging. That avoids shipping and locating a second binary and
// an argv protocol for it.
//
// Internal to sandbox/; use CreatePodNamespaces.

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace crius::sandbox {

struct NsHelperPlan {
  int unshare_flags = 0;  // CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS, any subset
  bool set_hostname = false;
  std::string hostname;
  bool loopback_up = false;
  // (absolute /proc/sys path, value), written in this order; the name is
  // kept for error messages only.
  struct Sysctl {
    std::string name;
    std::string path;
    std::string value;
  };
  std::vector<Sysctl> sysctls;
};

class NsHelper {
 public:
  // Forks the child and waits until it has finished its set-up (or failed,
  // in which case it is already reaped and the error names the failing step).
  static absl::StatusOr<NsHelper> Start(const NsHelperPlan& plan);

  NsHelper(NsHelper&& other) noexcept;
  NsHelper& operator=(NsHelper&& other) noexcept;
  NsHelper(const NsHelper&) = delete;
  NsHelper& operator=(const NsHelper&) = delete;
  // Kills (by pid) and reaps the child if it is still there.
  ~NsHelper();

  pid_t pid() const { return pid_; }
  // "/proc/<pid>/ns": the namespace files to pin. Valid until Finish or
  // destruction, because an unreaped pid cannot be reused.
  std::string NsDir() const;

  // Kills and reaps the child now.
  void Finish();

 private:
  NsHelper(pid_t pid, UniqueFd hold) : pid_(pid), hold_(std::move(hold)) {}

  pid_t pid_ = -1;
  // Our end of a pipe the child blocks reading; if the daemon dies, the
  // kernel closes it and the child sees EOF and exits on its own.
  UniqueFd hold_;
};

}  // namespace crius::sandbox
