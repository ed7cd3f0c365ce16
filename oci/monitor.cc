#include "oci/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/proc_stat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"
#include "nlohmann/json.hpp"

namespace crius::oci {
namespace {

using SteadyClock = std::chrono::steady_clock;

// sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxSocketPath = 107;

// Bounds what we keep from conmon's own output and the sync pipe.
constexpr size_t kMaxDiagnostic = 16 * 1024;
constexpr size_t kMaxSyncMessage = 64 * 1024;
// How long a conmon that reported a failed create may take to exit before
// it is killed; it exits right after writing the report.
constexpr absl::Duration kFailedConmonExit = absl::Seconds(5);

// The fd numbers conmon receives the pipes on (SubprocessOptions.extra_fds
// hands them over as 3, 4, ... in order).
constexpr int kSyncPipeChildFd = 3;
constexpr int kStartPipeChildFd = 4;

bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool HasControlChar(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

absl::Status ValidateRequest(const MonitorConfig& config, const CreateRequest& r) {
  if (r.id.empty() || r.id.size() > 128 || !std::all_of(r.id.begin(), r.id.end(), IsIdChar)) {
    return absl::InvalidArgumentError(absl::StrCat("container id \"", absl::CHexEscape(r.id),
                                                   "\" must be 1-128 characters of [A-Za-z0-9_-]"));
  }
  if (HasControlChar(r.name))
    return absl::InvalidArgumentError("container name holds control characters");
  if (r.bundle.empty() || r.bundle[0] != '/' || HasControlChar(r.bundle)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle \"", absl::CHexEscape(r.bundle), "\" is not an absolute path"));
  }
  if (!r.log_path.empty()) {
    // conmon splits -l at ':' into driver and path, so a ':' would silently
    // send the log somewhere else.
    if (r.log_path[0] != '/' || r.log_path.find(':') != std::string::npos ||
        HasControlChar(r.log_path)) {
      return absl::InvalidArgumentError(absl::StrCat("log path \"", absl::CHexEscape(r.log_path),
                                                     "\" must be absolute without ':'"));
    }
  }
  if (!r.persist_dir.empty() && r.persist_dir[0] != '/') {
    return absl::InvalidArgumentError("persist dir must be an absolute path");
  }
  std::string attach = absl::StrCat(config.socket_dir, "/", AttachKey(r.id), "/attach");
  if (attach.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("attach socket path ", attach, " is longer than ", kMaxSocketPath, " bytes"));
  }
  if (r.timeout <= absl::ZeroDuration())
    return absl::InvalidArgumentError("create timeout must be positive");
  return absl::OkStatus();
}

absl::Status ValidateConfig(const MonitorConfig& c) {
  for (const auto* p :
       {&c.conmon_path, &c.runtime_path, &c.runtime_root, &c.exit_dir, &c.socket_dir}) {
    if (p->empty() || (*p)[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("monitor config: \"", *p, "\" is not an absolute path"));
    }
  }
  return absl::OkStatus();
}

void RemoveIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    CRIUS_LOG(kWarn) << "remove " << path << ": " << ErrnoStatus("unlink").message();
  }
}

SteadyClock::time_point DeadlineAfter(absl::Duration d) {
  return SteadyClock::now() + absl::ToChronoNanoseconds(std::min(d, absl::Hours(24)));
}

absl::Duration Remaining(SteadyClock::time_point deadline) {
  auto left = deadline - SteadyClock::now();
  if (left <= SteadyClock::duration::zero()) return absl::ZeroDuration();
  return absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
}

// Waits for `fd` to become readable; false when the deadline passed first.
bool PollIn(int fd, SteadyClock::time_point deadline) {
  for (;;) {
    auto ns = absl::ToInt64Nanoseconds(Remaining(deadline));
    struct timespec ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    struct pollfd p = {fd, POLLIN, 0};
    int r = ::ppoll(&p, 1, &ts, nullptr);
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

// Whatever conmon printed before it detached its stdio (argument errors,
// early failures), without waiting for more.
std::string DrainNonBlocking(int fd) {
  std::string out;
  char buf[4096];
  while (out.size() < kMaxDiagnostic) {
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

// One newline-terminated message from the sync pipe. NotFound when conmon
// closed the pipe without writing one (it died), DeadlineExceeded when
// nothing complete arrived in time.
absl::StatusOr<std::string> ReadSyncMessage(int fd, SteadyClock::time_point deadline) {
  std::string data;
  char buf[4096];
  for (;;) {
    size_t nl = data.find('\n');
    if (nl != std::string::npos) return data.substr(0, nl);
    if (data.size() > kMaxSyncMessage) return absl::InternalError("conmon sync message too long");
    if (!PollIn(fd, deadline)) return absl::DeadlineExceededError("no report from conmon");
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read conmon sync pipe");
    }
    if (n == 0) {
      // A message cut short by conmon's death is still worth showing.
      if (!data.empty()) return data;
      return absl::NotFoundError("conmon exited without reporting");
    }
    data.append(buf, static_cast<size_t>(n));
  }
}

struct SyncReport {
  int64_t value = 0;  // the container pid, or negative on failure
  std::string message;
};

// conmon (API version 1) writes {"data": N} with N the container pid, or
// {"data": -1, "message": "<runtime stderr>"}; older releases call the key
// "pid", accepted too.
absl::StatusOr<SyncReport> ParseSyncReport(const std::string& line) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return absl::InternalError(absl::StrCat("conmon sent a malformed report: ", line));
  SyncReport report;
  const char* key = j.contains("data") ? "data" : "pid";
  if (!j.contains(key) || !j[key].is_number_integer()) {
    return absl::InternalError(absl::StrCat("conmon report without a pid: ", line));
  }
  report.value = j[key].get<int64_t>();
  if (j.contains("message") && j["message"].is_string()) {
    report.message = std::string(absl::StripAsciiWhitespace(j["message"].get<std::string>()));
  }
  return report;
}

// The last error runc recorded in its --log file (JSON lines), for when its
// stderr said nothing.
std::string LastRuntimeError(const std::string& runtime_log) {
  auto content = ReadFile(runtime_log, 1 << 20);
  if (!content.ok()) return "";
  std::string last;
  for (absl::string_view line : absl::StrSplit(*content, '\n', absl::SkipEmpty())) {
    auto j = nlohmann::json::parse(std::string(line), nullptr, false);
    if (j.is_object() && j.value("level", "") == "error" && j.contains("msg") &&
        j["msg"].is_string()) {
      last = j["msg"].get<std::string>();
    }
  }
  return last;
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string content, ReadFile(path, 64));
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(content), &pid) || pid <= 0) {
    return absl::InternalError(
        absl::StrCat(path, " holds no pid: \"", absl::CHexEscape(content), "\""));
  }
  return static_cast<pid_t>(pid);
}

// Writes one control line to a fifo conmon reads. A pipe whose reader went
// away raises SIGPIPE in the writing thread; the daemon must not die of it,
// so it is blocked here and a SIGPIPE we caused is consumed before the mask
// is restored.
absl::Status WriteControl(const std::string& fifo, const std::string& line) {
  UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    // ENXIO: a fifo without a reader, i.e. no conmon for this container.
    if (errno == ENXIO || errno == ENOENT) {
      return absl::FailedPreconditionError(
          absl::StrCat("no conmon reads ", fifo, " (container not running)"));
    }
    return ErrnoStatus(absl::StrCat("open ", fifo));
  }
  sigset_t pipe_set, old_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  ::sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  ssize_t n;
  do {
    n = ::write(fd.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  int err = errno;
  if (n < 0 && err == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (n < 0) {
    if (err == EPIPE)
      return absl::FailedPreconditionError(absl::StrCat("conmon stopped reading ", fifo));
    return ErrnoStatus(err, absl::StrCat("write ", fifo));
  }
  // Lines this short are written whole to a fifo (PIPE_BUF), or not at all.
  if (static_cast<size_t>(n) != line.size())
    return absl::InternalError(absl::StrCat("short write to ", fifo));
  return absl::OkStatus();
}

// A conmon that has detached from us: the read ends of its sync pipe and of
// its early stdout/stderr, and its identity.
struct LaunchedConmon {
  UniqueFd sync_read;
  UniqueFd diag_read;
  ProcessIdentity identity;
  absl::Duration timeout;  // the request's, for messages

  // `what`, plus whatever conmon printed before it detached its stdio.
  std::string Explain(std::string what) const {
    std::string diag = DrainNonBlocking(diag_read.get());
    if (!diag.empty()) absl::StrAppend(&what, "; conmon said: ", diag);
    return what;
  }
};

// Starts conmon with the sync and start pipes, lets it go, and reaps the
// process we started once it has forked the long-lived conmon.
absl::StatusOr<LaunchedConmon> LaunchConmon(SubprocessOptions opts, const std::string& pidfile,
                                            const std::function<absl::Status(pid_t)>& before_start,
                                            SteadyClock::time_point deadline) {
  LaunchedConmon out;
  out.timeout = Remaining(deadline);
  // Sync pipe: conmon reports the container pid (or runc's error) here.
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  out.sync_read.reset(p[0]);
  UniqueFd sync_write(p[1]);
  // Start pipe: conmon waits for one message on it before it forks away
  // (so a caller could move it into a cgroup first). A socketpair rather
  // than a pipe so that send(MSG_NOSIGNAL) to a conmon that already died
  // returns EPIPE instead of raising SIGPIPE.
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
    return ErrnoStatus("socketpair");
  }
  UniqueFd start_ours(sp[0]), start_conmon(sp[1]);
  // conmon's own stdout/stderr, read only to explain a failure.
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  out.diag_read.reset(p[0]);
  UniqueFd diag_write(p[1]);

  opts.env.push_back(absl::StrCat("_OCI_SYNCPIPE=", kSyncPipeChildFd));
  opts.env.push_back(absl::StrCat("_OCI_STARTPIPE=", kStartPipeChildFd));
  opts.extra_fds = {sync_write.get(), start_conmon.get()};
  opts.stdout_fd = diag_write.get();
  opts.stderr_fd = diag_write.get();
  opts.new_session = true;
  CRIUS_LOG(kDebug) << "starting " << DescribeArgv(opts.argv);
  absl::StatusOr<Subprocess> started = Subprocess::Start(opts);
  if (!started.ok()) {
    // A conmon that cannot be executed is the node's problem, never NotFound
    // (which CreateContainer callers read as "no such pod or image").
    if (absl::IsNotFound(started.status()) || absl::IsPermissionDenied(started.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot run conmon: ", started.status().message()));
    }
    return started.status();
  }
  Subprocess conmon = std::move(started).value();
  // Only conmon may hold the write ends now, so EOF means conmon is gone.
  sync_write.reset();
  start_conmon.reset();
  diag_write.reset();

  if (before_start) {
    // On error the Subprocess's destructor kills conmon: it never ran the
    // runtime.
    RETURN_IF_ERROR(before_start(conmon.pid()));
  }
  if (::send(start_ours.get(), "0", 1, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET) {
    return ErrnoStatus("write conmon start pipe");
  }
  start_ours.reset();
  // The process we started forks the real conmon, writes its pid to -P and
  // exits; it is our child, so we reap it here.
  auto wait = conmon.Wait(Remaining(deadline));
  if (!wait.ok()) {
    // Subprocess's destructor kills it; nothing else was started yet.
    return absl::DeadlineExceededError(out.Explain(
        absl::StrCat("conmon did not detach within ", absl::FormatDuration(out.timeout))));
  }
  if (!WIFEXITED(*wait) || WEXITSTATUS(*wait) != 0) {
    return absl::InternalError(out.Explain(absl::StrCat("conmon ", DescribeWaitStatus(*wait))));
  }
  auto pid = ReadPidFile(pidfile);
  if (!pid.ok()) return absl::InternalError(out.Explain(std::string(pid.status().message())));
  // conmon may already be gone (a fast failure); its identity then stays
  // {pid, 0}, which no live process matches.
  out.identity.pid = *pid;
  if (auto id = IdentifyProcess(*pid); id.ok()) out.identity = *id;
  return out;
}

// The container pid from conmon's sync pipe, or why there is none.
absl::StatusOr<pid_t> AwaitContainerPid(const LaunchedConmon& conmon,
                                        const std::string& runtime_log,
                                        SteadyClock::time_point deadline) {
  auto line = ReadSyncMessage(conmon.sync_read.get(), deadline);
  if (!line.ok()) {
    bool timed_out = absl::IsDeadlineExceeded(line.status());
    if (timed_out && IsProcessAlive(conmon.identity)) {
      // runc create hangs. Killing conmon kills runc create too (conmon
      // gives it a parent-death signal); runtime state is the caller's.
      ::kill(conmon.identity.pid, SIGKILL);
    }
    std::string what =
        absl::StrCat(line.status().message(), " within ", absl::FormatDuration(conmon.timeout));
    if (std::string runc = LastRuntimeError(runtime_log); !runc.empty()) {
      absl::StrAppend(&what, "; runtime: ", runc);
    }
    return timed_out ? absl::DeadlineExceededError(conmon.Explain(what))
                     : absl::InternalError(conmon.Explain(what));
  }
  auto report = ParseSyncReport(*line);
  if (!report.ok()) return report.status();
  if (report->value <= 0) {
    std::string message = report->message;
    if (message.empty()) message = LastRuntimeError(runtime_log);
    if (message.empty()) message = "no error message";
    return absl::InternalError(absl::StrCat("runtime create failed: ", message));
  }
  return static_cast<pid_t>(report->value);
}

}  // namespace

absl::StatusOr<ProcessIdentity> IdentifyProcess(pid_t pid) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("invalid pid ", pid));
  ASSIGN_OR_RETURN(ProcStat st, ReadProcStat(pid));
  return ProcessIdentity{pid, st.start_time};
}

bool IsProcessAlive(const ProcessIdentity& who) {
  if (who.pid <= 0) return false;
  auto st = ReadProcStat(who.pid);
  if (!st.ok() || st->start_time != who.start_time) return false;
  return st->state != 'Z' && st->state != 'X' && st->state != 'x';
}

void ReapIfChild(pid_t pid) {
  if (pid <= 0) return;
  int status;
  while (::waitpid(pid, &status, WNOHANG) < 0 && errno == EINTR) {
  }
}

absl::Status WaitForProcessExit(const ProcessIdentity& who, absl::Duration timeout) {
  auto deadline = DeadlineAfter(timeout);
  // The pidfd is opened before the identity check, so if the check passes
  // the pidfd refers to that very process and not a later reuse of the pid.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, who.pid, 0)));
  if (!IsProcessAlive(who)) {
    ReapIfChild(who.pid);
    return absl::OkStatus();
  }
  if (pidfd) {
    bool exited = PollIn(pidfd.get(), deadline);
    ReapIfChild(who.pid);
    if (exited) return absl::OkStatus();
  } else {
    // No pidfd (old kernel or seccomp): poll /proc with a growing interval.
    auto backoff = std::chrono::milliseconds(1);
    while (SteadyClock::now() < deadline) {
      ReapIfChild(who.pid);
      if (!IsProcessAlive(who)) return absl::OkStatus();
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    }
  }
  if (!IsProcessAlive(who)) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("process ", who.pid, " still running after ", absl::FormatDuration(timeout)));
}

std::string ConmonPidfilePath(const CreateRequest& request) {
  return JoinPath(request.bundle, "conmon.pid");
}
std::string ContainerPidfilePath(const CreateRequest& request) {
  return JoinPath(request.bundle, "container.pid");
}
std::string RuntimeLogPath(const CreateRequest& request) {
  return JoinPath(request.bundle, "runtime.log");
}

Monitor::Monitor(MonitorConfig config) : config_(std::move(config)) {}

std::string Monitor::ExitFilePath(const std::string& id) const {
  return JoinPath(config_.exit_dir, id);
}

std::string AttachKey(const std::string& id) { return id.substr(0, kAttachKeyLength); }

std::string NewIdWithFreeAttachKey(const std::function<std::string()>& next,
                                   const std::function<bool(const std::string& key)>& key_taken) {
  for (;;) {
    std::string id = next();
    if (!key_taken(AttachKey(id))) return id;
  }
}

absl::Status Monitor::RemoveContainerFiles(const std::string& id) const {
  if (id.empty() || !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("container id \"", absl::CHexEscape(id), "\" is invalid"));
  }
  absl::Status first;
  for (const std::string& path : {ExitFilePath(id), JoinPath(config_.socket_dir, AttachKey(id))}) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && first.ok())
      first = ErrnoStatus(absl::StrCat("remove ", path));
  }
  return first;
}

std::string Monitor::AttachSocketPath(const std::string& id) const {
  return JoinPath(config_.socket_dir, AttachKey(id), "attach");
}

// conmon --api-version 1 -b <bundle> -c <id> -u <id[:32]> [-n <name>] -r <runtime>
//   --runtime-arg --root=<root> --runtime-arg --log=<bundle>/runtime.log
//   --runtime-arg --log-format=json --exit-dir <dir>
//   -l k8s-file:<log path> | -l none  [--log-size-max N]  --log-level <level>
//   -P <bundle>/conmon.pid -p <bundle>/container.pid
//   --persist-dir <dir> --socket-dir-path <dir>
//   [-t] [-i [--leave-stdin-open]] [--no-pivot] [--syslog]
// conmon runs `<runtime> <runtime args> create --bundle <b> --pid-file <p>
// [--no-pivot] [--console-socket <s>] <id>`.
std::vector<std::string> Monitor::BuildArgv(const CreateRequest& r) const {
  std::vector<std::string> argv = {config_.conmon_path, "--api-version", "1"};
  auto add = [&argv](std::string flag, std::string value) {
    argv.push_back(std::move(flag));
    argv.push_back(std::move(value));
  };
  add("-b", r.bundle);
  add("-c", r.id);
  add("-u", AttachKey(r.id));
  if (!r.name.empty()) add("-n", r.name);
  add("-r", config_.runtime_path);
  add("--runtime-arg", absl::StrCat("--root=", config_.runtime_root));
  add("--runtime-arg", absl::StrCat("--log=", RuntimeLogPath(r)));
  add("--runtime-arg", "--log-format=json");
  add("--exit-dir", config_.exit_dir);
  add("-l", r.log_path.empty() ? "none" : absl::StrCat("k8s-file:", r.log_path));
  if (r.log_size_max > 0) add("--log-size-max", absl::StrCat(r.log_size_max));
  add("--log-level", config_.log_level);
  add("-P", ConmonPidfilePath(r));
  add("-p", ContainerPidfilePath(r));
  add("--persist-dir", r.persist_dir.empty() ? r.bundle : r.persist_dir);
  add("--socket-dir-path", config_.socket_dir);
  if (r.terminal) argv.push_back("-t");
  if (r.open_stdin) {
    argv.push_back("-i");
    if (!r.stdin_once) argv.push_back("--leave-stdin-open");
  }
  if (config_.no_pivot) argv.push_back("--no-pivot");
  if (config_.systemd_cgroup) argv.push_back("--systemd-cgroup");
  if (config_.syslog) argv.push_back("--syslog");
  return argv;
}

absl::StatusOr<CreateResult> Monitor::Create(const CreateRequest& r) const {
  RETURN_IF_ERROR(ValidateConfig(config_));
  RETURN_IF_ERROR(ValidateRequest(config_, r));
  auto fail = [&r](const absl::Status& s) {
    return Annotate(s, absl::StrCat("conmon create ", r.id));
  };
  auto deadline = DeadlineAfter(r.timeout);
  const std::string persist = r.persist_dir.empty() ? r.bundle : r.persist_dir;
  for (const std::string* dir : {&config_.exit_dir, &config_.socket_dir, &persist}) {
    if (auto s = MkdirAll(*dir); !s.ok()) return fail(s);
  }
  CreateResult result;
  result.conmon_pidfile = ConmonPidfilePath(r);
  result.container_pidfile = ContainerPidfilePath(r);
  std::string symlink = JoinPath(config_.socket_dir, AttachKey(r.id));
  // Leftovers of an earlier attempt with this id would be read as ours.
  for (const std::string& stale : {ExitFilePath(r.id), result.conmon_pidfile,
                                   result.container_pidfile, RuntimeLogPath(r), symlink}) {
    RemoveIfPresent(stale);
  }

  SubprocessOptions opts;
  opts.argv = BuildArgv(r);
  opts.env = config_.env;
  // conmon writes an "oom" marker into its working directory (cgroup v1).
  opts.cwd = r.bundle;
  auto launched = LaunchConmon(std::move(opts), result.conmon_pidfile, r.before_start, deadline);
  if (!launched.ok()) return fail(launched.status());
  result.conmon = launched->identity;

  auto pid = AwaitContainerPid(*launched, RuntimeLogPath(r), deadline);
  if (!pid.ok()) {
    // A conmon that reported a failure exits by itself; make sure it has,
    // so no conmon outlives a failed create.
    if (IsProcessAlive(result.conmon) &&
        !WaitForProcessExit(result.conmon, kFailedConmonExit).ok()) {
      ::kill(result.conmon.pid, SIGKILL);
      (void)WaitForProcessExit(result.conmon, kFailedConmonExit);
    }
    ReapIfChild(result.conmon.pid);
    // conmon leaves its attach symlink behind on every path.
    RemoveIfPresent(symlink);
    return fail(pid.status());
  }
  result.container_pid = *pid;
  return result;
}

absl::Status Monitor::ReopenLog(const std::string& bundle, const std::string& log_path,
                                absl::Duration timeout) {
  if (log_path.empty()) return absl::FailedPreconditionError("container has no log file");
  auto deadline = DeadlineAfter(timeout);
  // conmon reopens by creating a new file and renaming it onto log_path, so
  // the request is done when log_path names another inode than before (or
  // exists again, when the caller moved the old file away).
  struct stat before;
  bool existed = ::stat(log_path.c_str(), &before) == 0;
  RETURN_IF_ERROR(Annotate(WriteControl(JoinPath(bundle, "ctl"), "2 0 0\n"), "reopen log"));
  auto backoff = std::chrono::microseconds(500);
  for (;;) {
    struct stat now;
    if (::stat(log_path.c_str(), &now) == 0 &&
        (!existed || now.st_ino != before.st_ino || now.st_dev != before.st_dev)) {
      return absl::OkStatus();
    }
    if (SteadyClock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reopen log: conmon did not create a new ",
                                                      log_path, " within ",
                                                      absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(
        std::min<SteadyClock::duration>(backoff, deadline - SteadyClock::now()));
    backoff = std::min(backoff * 2, std::chrono::microseconds(20000));
  }
}

absl::Status Monitor::Resize(const std::string& bundle, uint16_t height, uint16_t width) {
  return Annotate(
      WriteControl(JoinPath(bundle, "ctl"), absl::StrCat("1 ", height, " ", width, "\n")),
      "resize terminal");
}

}  // namespace crius::oci
