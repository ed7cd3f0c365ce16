#pragma once
// Monitor: runs each container's OCI runtime under its own conmon, so the
// container's stdio, CRI log file and exit status are held by a process that
// is not criusd. conmon double-forks away from us (no --sync), which is what
// lets containers keep running and logging while criusd restarts.
//
// Lifecycle of one container, and who does what:
//
//   Monitor::Create   conmon starts, runs `runc create`, reports the
//                     container's pid (or runc's error) over the sync pipe.
//                     The container is now "created": its init process
//                     waits in runc's exec fifo.
//   runc start <id>   done by the runtime client (oci/runtime_client.h),
//                     with the same --root; the process starts running and
//                     writing to the pipes conmon holds.
//   exit              conmon reaps the container, writes the exit code to
//                     <exit_dir>/<id> (see exit_watcher.h) and exits.
//   runc delete <id>  runtime client again; the caller removes the bundle.
//
// While the container lives, its bundle holds conmon's control fifo `ctl`
// (ReopenLog, Resize) and the `attach` socket, reachable through the short
// symlink <socket_dir>/<first 32 chars of id> (AttachSocketPath).
//
// If criusd is a child subreaper (PR_SET_CHILD_SUBREAPER), conmon becomes
// criusd's child once the forking parent exits, so criusd must reap it after
// it exits (ReapIfChild / WaitForProcessExit do that for one pid).

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crius::oci {

// A pid together with its start time (field 22 of /proc/<pid>/stat, clock
// ticks since boot), so a pid recorded before a restart is never mistaken
// for an unrelated process that later got the same number.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;

  bool operator==(const ProcessIdentity&) const = default;
};

// NotFound when no process has that pid (a zombie still counts as found).
absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid);

// True when `who` still names the same process and it has not exited (a
// zombie has exited: it only waits to be reaped).
bool IsProcessAlive(const ProcessIdentity& who);

// Reaps `pid` if it is an exited child of this process (conmon becomes our
// child when we are a subreaper); a no-op for any other pid.
void ReapIfChild(pid_t pid);

// Waits until `who` has exited (or is a different process), reaping it when
// it is our child. DeadlineExceeded if it is still alive after `timeout`.
absl::Status WaitForProcessExit(const ProcessIdentity& who, absl::Duration timeout);

// Per-runtime-handler settings, fixed for the daemon's lifetime.
// conmon names a container's attach symlink in the socket dir after its -u
// (container uuid); crius passes the id's first kAttachKeyLength characters,
// which leaves room for a state dir of up to 60 bytes. Two live containers
// never share one: new ids come from NewIdWithFreeAttachKey.
inline constexpr size_t kAttachKeyLength = 32;
std::string AttachKey(const std::string& id);
// Draws ids from `next` until one's AttachKey is not `key_taken`.
std::string NewIdWithFreeAttachKey(const std::function<std::string()>& next,
                                   const std::function<bool(const std::string& key)>& key_taken);

struct MonitorConfig {
  std::string conmon_path;   // absolute, e.g. /usr/bin/conmon
  std::string runtime_path;  // absolute OCI runtime, e.g. /usr/bin/runc
  std::string runtime_root;  // the runtime's --root (its state directory)
  std::string exit_dir;      // conmon writes <exit_dir>/<id> here
  // Attach socket symlinks live here; keep it short: <socket_dir>/<AttachKey>/attach
  // must fit a unix socket path (107 bytes), so at most 67 bytes.
  std::string socket_dir;
  std::string log_level = "info";  // conmon's --log-level
  bool syslog = false;             // conmon's own messages to syslog
  bool no_pivot = false;           // runtime create --no-pivot (ramfs roots)
  bool systemd_cgroup = false;     // conmon --systemd-cgroup (the runtime gets it too)
  // conmon's entire environment (the sync/start pipe variables are added);
  // nothing of criusd's own environment is passed.
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
};

struct CreateRequest {
  std::string id;      // [A-Za-z0-9_-], at most 128 characters (no '.', see exit_watcher.h)
  std::string name;    // conmon -n, for its own messages
  std::string bundle;  // holds config.json; conmon puts ctl/winsz/attach here
  // The CRI log file (absolute; no ':' since conmon splits its -l on it).
  // Empty: the container's output is discarded.
  std::string log_path;
  int64_t log_size_max = -1;  // > 0: conmon starts a new file past this size
  // conmon writes <persist_dir>/exit too; empty means the bundle.
  std::string persist_dir;
  bool terminal = false;
  bool open_stdin = false;  // conmon -i: a pipe (or the tty) for attach to write to
  bool stdin_once = false;  // close that stdin when the first attach ends
  // For conmon starting, runc create, and the pid coming back. On expiry
  // conmon is killed (which kills runc create); the caller then removes any
  // runtime state with `runc delete --force`.
  absl::Duration timeout = absl::Minutes(1);
  // Called with conmon's pid after it started and before it is told to go
  // on (fork away and run the runtime), e.g. to move it into a cgroup of
  // its own; an error kills it and fails the create.
  std::function<absl::Status(pid_t conmon)> before_start;
};

struct CreateResult {
  pid_t container_pid = 0;
  ProcessIdentity conmon;
  std::string conmon_pidfile;     // conmon's pid, written by conmon (-P)
  std::string container_pidfile;  // the container's pid, written by runc (-p)
};

class Monitor {
 public:
  explicit Monitor(MonitorConfig config);

  // Starts conmon for the container and returns once `runc create` has
  // finished (the argv is spelled out above BuildArgv in the .cc file).
  // Thread-safe; the Monitor holds no per-container state, so destroying it
  // leaves running containers and their conmons untouched. Errors:
  //  - InvalidArgument for a bad request (nothing was started);
  //  - Internal "runtime create failed: <runc's message>" when runc refused
  //    the container; conmon has exited and been reaped, runc removed its
  //    state and cgroup, and the attach symlink is gone;
  //  - DeadlineExceeded after `timeout`: conmon was killed, and with it runc
  //    create;
  //  - Internal with conmon's own output when conmon itself failed.
  // After any error the caller should still run `runc delete --force <id>`
  // (a no-op when runc kept nothing) before removing the bundle.
  //
  // conmon tries to lower its own oom_score_adj to -1000 first; without
  // CAP_SYS_RESOURCE that fails and conmon just carries on at our score.
  // conmon's working directory is the bundle: on cgroup v1 it drops an
  // "oom" file there when the container is OOM-killed.
  absl::StatusOr<CreateResult> Create(const CreateRequest& request) const;

  // Asks conmon to reopen the CRI log (kubelet rotated it) and returns once
  // `log_path` names a file conmon created after the request; conmon never
  // writes to the old file again. conmon creates the new file by renaming a
  // fresh one onto `log_path`, so a file the caller did not move away is
  // replaced (emptied), not appended to. FailedPrecondition when no conmon
  // reads the bundle's ctl fifo (the container has exited).
  static absl::Status ReopenLog(const std::string& bundle, const std::string& log_path,
                                absl::Duration timeout = absl::Seconds(10));

  // Resizes the container's terminal (only meaningful with terminal=true).
  static absl::Status Resize(const std::string& bundle, uint16_t height, uint16_t width);

  // Removes what conmon leaves outside the bundle once the container is
  // gone: the exit file and the attach symlink (conmon 2.1.6 does not remove
  // the symlink when it exits). Call after `runc delete`; missing files are
  // fine, so it is safe to repeat.
  absl::Status RemoveContainerFiles(const std::string& id) const;

  std::string ExitFilePath(const std::string& id) const;
  // The attach socket as clients should dial it: through the short symlink.
  std::string AttachSocketPath(const std::string& id) const;

  const MonitorConfig& config() const { return config_; }

  // conmon's argv for `request` (no env); exposed for tests and logs.
  std::vector<std::string> BuildArgv(const CreateRequest& request) const;

 private:
  MonitorConfig config_;
};

// The paths Create uses, derived from the request (all inside the bundle),
// so recovery can find them without having kept them.
std::string ConmonPidfilePath(const CreateRequest& request);
std::string ContainerPidfilePath(const CreateRequest& request);
// runc's own log (--log, JSON lines): its warnings go here instead of into
// the container's CRI log, and errors are kept for diagnosis.
std::string RuntimeLogPath(const CreateRequest& request);

}  // namespace crius::oci
