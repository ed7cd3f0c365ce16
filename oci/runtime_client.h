#pragma once
// RuntimeClient: drives an OCI runtime through its command line (runc; crun
// takes the same flags for everything used here). Each method runs one
// runtime command to completion under a deadline and turns its failure into
// a Status whose message carries the runtime's own error text.
//
// Error codes callers rely on:
//  - NotFound: the runtime has no container with that id (so Stop/Remove
//    paths can treat it as already done).
//  - FailedPrecondition: the container is in the wrong state for the
//    command (kill of a stopped container, delete of a running one
//    without force, start of one already started), and a runtime binary
//    that cannot be executed at all (so a missing runc never reads as
//    "container already gone").
//  - AlreadyExists: create/run with an id the runtime already has.
//  - DeadlineExceeded: the runtime did not finish in time (it was killed).
//  - Internal: any other failure of the runtime.
//
// Detached processes and stdio: without a terminal, runc hands its own
// stdin/stdout/stderr to the container process. A detached container
// started with Exec's capture pipes would hold them for its whole life, so
// Create and Run(detach) give the runtime /dev/null for all three and
// collect its errors through `--log <file> --log-format json` instead (the
// runtime writes its own and its init's errors there). Callers that want
// the container's output use a monitor (conmon) or a console socket.
//
// Thread-safe: the object is immutable after construction; concurrent calls
// on different ids are fine (the runtime locks per container).

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/exec.h"
#include "nlohmann/json.hpp"

namespace crius::oci {

struct RuntimeClientOptions {
  // Absolute path of the runtime binary (/usr/bin/runc).
  std::string path;
  // The runtime's state directory (--root). Should be set: it is also used
  // to tell "no such container" apart from other failures. Empty uses the
  // runtime's built-in default and relies on its messages alone.
  std::string root;
  // Global flags put before the command (e.g. "--systemd-cgroup").
  std::vector<std::string> extra_args;
  // Deadline of one runtime command.
  absl::Duration timeout = absl::Minutes(1);
};

// `runc state` output. Status is one of "creating", "created", "running",
// "paused", "stopped".
struct ContainerState {
  std::string id;
  pid_t pid = 0;  // 0 once stopped
  std::string status;
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339, as the runtime wrote it
  std::map<std::string, std::string> annotations;
};

inline constexpr char kStatusCreating[] = "creating";
inline constexpr char kStatusCreated[] = "created";
inline constexpr char kStatusRunning[] = "running";
inline constexpr char kStatusPaused[] = "paused";
inline constexpr char kStatusStopped[] = "stopped";

class RuntimeClient {
 public:
  explicit RuntimeClient(RuntimeClientOptions options);
  virtual ~RuntimeClient() = default;

  const RuntimeClientOptions& options() const { return options_; }

  // `create`: sets the container up (namespaces, mounts, cgroups) and leaves
  // its init waiting for Start. `console_socket`: a unix socket path that
  // receives the terminal's master fd, for specs with process.terminal.
  virtual absl::Status Create(const std::string& id, const std::string& bundle,
                              const std::string& pid_file,
                              const std::optional<std::string>& console_socket = std::nullopt);
  virtual absl::Status Start(const std::string& id);

  // `run`: create and start in one step. With detach (`run -d`) it returns
  // once the process runs, having written its host pid to `pid_file`. Without
  // detach it waits for the process to exit within the timeout, and the
  // returned result holds the process's output and exit code.
  virtual absl::StatusOr<ExecResult> Run(const std::string& id, const std::string& bundle,
                                         const std::string& pid_file, bool detach = true);

  // `kill`: sends `signal` to the init process, or to every process of the
  // container with `all`.
  virtual absl::Status Kill(const std::string& id, int signal, bool all = false);

  // `delete`: removes the container's runtime state and cgroups. With force,
  // a running container is SIGKILLed first. NotFound when the runtime does
  // not know the id (checked up front when `root` is set, because
  // `runc delete -f` of an unknown id reports success).
  virtual absl::Status Delete(const std::string& id, bool force);

  virtual absl::StatusOr<ContainerState> State(const std::string& id);
  // Whether the runtime may know `id`: its state dir under `root` exists (a
  // stat, no process). True without a root, when only State can tell.
  virtual bool MayExist(const std::string& id) const;
  // Every container under `root`; empty when there are none (or no root dir yet).
  virtual absl::StatusOr<std::vector<ContainerState>> List();

  // `update --resources -`: applies an OCI linux.resources object.
  virtual absl::Status Update(const std::string& id, const nlohmann::json& resources);

  // `exec --process <file>`: runs an OCI process object inside the container
  // and waits for it (at most `timeout`, the client's timeout when zero).
  // The result is the process's exit code and output, each stream capped at
  // `max_output` bytes (the rest is dropped and flagged truncated).
  // `process_file_dir` receives the temporary process.json and pid file
  // (both removed afterwards). On timeout the process inside the container
  // is killed too, not only the runtime's `exec`, and the error is
  // DEADLINE_EXCEEDED.
  virtual absl::StatusOr<ExecResult> ExecProcess(const std::string& id,
                                                 const nlohmann::json& process,
                                                 const std::string& process_file_dir,
                                                 absl::Duration timeout = absl::ZeroDuration(),
                                                 size_t max_output = kDefaultExecOutput);
  // What ExecSync returns at most per stream, as CRI-O after CVE-2022-1708
  // (one stream of it fits kubelet's 16 MiB gRPC message limit).
  static constexpr size_t kDefaultExecOutput = size_t{16} << 20;

 protected:
  // Full argv: path, --root, global flags, then `args`.
  std::vector<std::string> Argv(const std::vector<std::string>& args,
                                const std::vector<std::string>& global = {}) const;

 private:
  // Runs a command whose output is captured; failures are classified.
  absl::StatusOr<ExecResult> RunCaptured(const std::string& id, std::vector<std::string> args,
                                         std::string stdin_data = "",
                                         absl::Duration timeout = absl::ZeroDuration());
  // Runs create / run -d with stdio on /dev/null and errors via --log.
  absl::Status RunDetached(const std::string& id, const std::string& bundle,
                           std::vector<std::string> args);
  absl::Status Classify(const std::string& id, const std::vector<std::string>& argv,
                        const ExecResult& result, const std::string& error_text);
  bool StateDirExists(const std::string& id) const;

  RuntimeClientOptions options_;
};

// Checks a container id the way runc does ([A-Za-z0-9_+.-], at most 1024
// bytes, not "." or ".."), so an id can never name a path outside --root.
absl::Status ValidateContainerId(const std::string& id);

// Parses `runc state` JSON.
absl::StatusOr<ContainerState> ParseContainerState(const std::string& json_text);

// The runtime's error text from its stderr or --log output: the "msg" of
// JSON log lines at level error (or worse), else the raw text, trimmed.
std::string RuntimeErrorText(const std::string& output);

}  // namespace crius::oci
