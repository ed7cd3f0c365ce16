#include "oci/exec_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/status.h"
#include "common/subprocess.h"

namespace crius::oci {
namespace {

const std::vector<std::string> kRuntimeEnv = {
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

// How long runc gets to exit after the process inside was killed, before
// runc itself is killed.
constexpr absl::Duration kCancelGrace = absl::Seconds(10);

// The call's temporary files in work_dir, removed on every path out.
class SessionFiles {
public:
  explicit SessionFiles(const std::string &dir) {
    std::string templ = JoinPath(dir, ".crius-exec-XXXXXX.log");
    int fd = ::mkstemps(templ.data(), 4);
    if (fd < 0) {
      status_ = ErrnoStatus(absl::StrCat("create exec files in ", dir));
      return;
    }
    ::close(fd);
    log_ = templ;
    process_ = log_ + ".process.json";
    pid_ = log_ + ".pid";
  }
  ~SessionFiles() {
    for (const std::string *p : {&log_, &process_, &pid_}) {
      if (!p->empty())
        ::unlink(p->c_str());
    }
  }
  SessionFiles(const SessionFiles &) = delete;
  SessionFiles &operator=(const SessionFiles &) = delete;

  const absl::Status &status() const { return status_; }
  const std::string &log() const { return log_; }
  const std::string &process() const { return process_; }
  const std::string &pid() const { return pid_; }

private:
  absl::Status status_;
  std::string log_, process_, pid_;
};

// Writes to a client that went away must fail with EPIPE, not kill the
// daemon: SIGPIPE is blocked in this thread for the session, and the ones
// our writes raised are consumed before the mask is restored.
class SigpipeBlock {
public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlock() {
    struct timespec zero = {0, 0};
    while (!was_pending_ && ::sigtimedwait(&set_, nullptr, &zero) == SIGPIPE) {
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock &) = delete;
  SigpipeBlock &operator=(const SigpipeBlock &) = delete;

private:
  sigset_t set_, old_;
  bool was_pending_ = false;
};

struct Pty {
  UniqueFd master;
  UniqueFd slave;
};

absl::StatusOr<Pty> OpenPty() {
  Pty pty;
  pty.master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master)
    return ErrnoStatus("posix_openpt");
  if (::grantpt(pty.master.get()) != 0 || ::unlockpt(pty.master.get()) != 0) {
    return ErrnoStatus("unlock pty");
  }
  char name[128];
  if (::ptsname_r(pty.master.get(), name, sizeof(name)) != 0)
    return ErrnoStatus("ptsname");
  pty.slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave)
    return ErrnoStatus(absl::StrCat("open ", name));
  int flags = ::fcntl(pty.master.get(), F_GETFL);
  if (flags < 0 ||
      ::fcntl(pty.master.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus("pty master O_NONBLOCK");
  }
  return pty;
}

std::vector<std::string> ExecArgv(const RuntimeClientOptions &rt,
                                  const SessionFiles &files,
                                  const ExecSessionRequest &req) {
  std::vector<std::string> argv = {rt.path};
  if (!rt.root.empty())
    argv.insert(argv.end(), {"--root", rt.root});
  argv.insert(argv.end(), {"--log", files.log(), "--log-format", "json"});
  argv.insert(argv.end(), rt.extra_args.begin(), rt.extra_args.end());
  argv.push_back("exec");
  if (req.tty)
    argv.push_back("--tty");
  argv.insert(argv.end(), {"--process", files.process(), "--pid-file",
                           files.pid(), req.id});
  return argv;
}

// SIGKILLs the process runc started, by the pid runc wrote. True once the
// signal went out (or the process is already gone); false while runc has
// not written the pid yet. runc is alive and has not reaped the process
// when this is called, so the pid cannot name a stranger; the pidfd pins it.
bool KillByPidFile(const std::string &pid_file) {
  auto text = ReadFile(pid_file, 64);
  int pid = 0;
  if (!text.ok() ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 1) {
    return false;
  }
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd)
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
  return true;
}

void ApplySize(int master, Subprocess &runc, WindowSize size) {
  struct winsize ws = {};
  ws.ws_row = size.height;
  ws.ws_col = size.width;
  if (::ioctl(master, TIOCSWINSZ, &ws) == 0)
    (void)runc.Signal(SIGWINCH);
}

// Watches runc until it exits, pumping the terminal when `master` >= 0,
// and kills the process when the session is cancelled.
class Supervisor {
public:
  Supervisor(Subprocess &runc, ExecSessionRequest &req,
             const std::string &pid_file, int master)
      : runc_(runc), req_(req), pid_file_(pid_file), master_(master) {}

  // Returns once runc has exited (not yet reaped).
  void Run();
  bool cancelled() const { return cancelled_; }

private:
  bool RuncExited() {
    return runc_.pidfd() >= 0 ? runc_exited_ : !runc_.Running();
  }
  void OnCancel();
  void ReadMaster();
  void ReadStdin();
  void WriteMaster();
  void ReadResize();

  Subprocess &runc_;
  ExecSessionRequest &req_;
  const std::string pid_file_;
  const int master_;
  bool master_open_ = true;
  bool resize_open_ = true;
  bool runc_exited_ = false;
  bool cancelled_ = false;
  bool killed_ = false;
  absl::Time kill_deadline_ = absl::InfiniteFuture();
  std::string to_master_; // client input not yet taken by the terminal
};

void Supervisor::Run() {
  const bool tty = master_ >= 0;
  while (!RuncExited()) {
    std::vector<pollfd> fds;
    auto add = [&fds](int fd, short events) {
      if (fd < 0)
        return -1;
      fds.push_back({fd, events, 0});
      return static_cast<int>(fds.size()) - 1;
    };
    const int pid_i = add(runc_.pidfd(), POLLIN);
    const int cancel_i = add(cancelled_ ? -1 : req_.cancel_fd, POLLIN);
    int master_i = -1, stdin_i = -1, resize_i = -1;
    if (tty) {
      short ev =
          (master_open_ ? POLLIN : 0) | (to_master_.empty() ? 0 : POLLOUT);
      if (ev != 0)
        master_i = add(master_, ev);
      if (to_master_.empty())
        stdin_i = add(req_.stdin_fd.get(), POLLIN);
      if (resize_open_)
        resize_i = add(req_.resize_fd, POLLIN);
    }
    const bool tick = runc_.pidfd() < 0 || cancelled_;
    int n = ::poll(fds.data(), fds.size(), tick ? 50 : -1);
    if (n < 0 && errno != EINTR)
      break;
    auto ready = [&fds](int i, short mask) {
      return i >= 0 && (fds[i].revents & mask) != 0;
    };
    if (ready(pid_i, POLLIN | POLLHUP))
      runc_exited_ = true;
    if (ready(cancel_i, POLLIN | POLLHUP | POLLERR))
      cancelled_ = true;
    if (ready(master_i, POLLIN | POLLHUP | POLLERR))
      ReadMaster();
    if (ready(master_i, POLLOUT))
      WriteMaster();
    if (ready(stdin_i, POLLIN | POLLHUP | POLLERR))
      ReadStdin();
    if (ready(resize_i, POLLIN | POLLHUP | POLLERR))
      ReadResize();
    if (cancelled_)
      OnCancel();
  }
  // runc has copied the last output to our terminal before exiting.
  while (tty && master_open_)
    ReadMaster();
}

void Supervisor::OnCancel() {
  if (!killed_) {
    killed_ = KillByPidFile(pid_file_);
    if (kill_deadline_ == absl::InfiniteFuture())
      kill_deadline_ = absl::Now() + kCancelGrace;
  }
  if (absl::Now() >= kill_deadline_)
    (void)runc_.Signal(SIGKILL);
}

void Supervisor::ReadMaster() {
  char buf[16384];
  ssize_t n = ::read(master_, buf, sizeof(buf));
  if (n > 0) {
    // A client that stopped reading loses the output, not the session.
    if (req_.stdout_fd &&
        !WriteAll(req_.stdout_fd.get(), {buf, size_t(n)}, "exec stdout").ok()) {
      req_.stdout_fd.reset();
    }
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    if (RuncExited())
      master_open_ = false; // drained
    return;
  }
  master_open_ = false; // EIO: runc closed its side of the terminal
}

void Supervisor::ReadStdin() {
  char buf[16384];
  ssize_t n = ::read(req_.stdin_fd.get(), buf, sizeof(buf));
  if (n < 0 && errno == EINTR)
    return;
  if (n <= 0) {
    // A terminal has no half-close: the client's EOF just ends its input.
    req_.stdin_fd.reset();
    return;
  }
  to_master_.append(buf, size_t(n));
  WriteMaster();
}

void Supervisor::WriteMaster() {
  ssize_t n = ::write(master_, to_master_.data(), to_master_.size());
  if (n > 0) {
    to_master_.erase(0, size_t(n));
  } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
    to_master_.clear();
  }
}

void Supervisor::ReadResize() {
  WindowSize sizes[16];
  ssize_t n = ::read(req_.resize_fd, sizes, sizeof(sizes));
  if (n < 0 && errno == EINTR)
    return;
  if (n <= 0) {
    resize_open_ = false;
    return;
  }
  // Each record was written in one write below PIPE_BUF, so reads see
  // whole records; only the latest size matters.
  size_t count = size_t(n) / sizeof(WindowSize);
  if (count > 0)
    ApplySize(master_, runc_, sizes[count - 1]);
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status))
    return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status))
    return 128 + WTERMSIG(wait_status);
  return -1;
}

// The container must exist before runc is asked (its "does not exist" is
// only reliable through the state dir, as in RuntimeClient).
absl::Status CheckContainer(const RuntimeClientOptions &rt,
                            const std::string &id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  struct stat st;
  if (!rt.root.empty() && ::stat(JoinPath(rt.root, id).c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("container ", id, " does not exist in ", rt.root));
  }
  return absl::OkStatus();
}

absl::StatusOr<Subprocess> StartRuntime(const RuntimeClientOptions &rt,
                                        const SessionFiles &files,
                                        const ExecSessionRequest &req,
                                        int slave) {
  SubprocessOptions o;
  o.argv = ExecArgv(rt, files, req);
  o.env = kRuntimeEnv;
  o.new_session = true;
  if (slave >= 0) {
    o.stdin_fd = o.stdout_fd = o.stderr_fd = slave;
  } else {
    o.stdin_fd = req.stdin_fd.get();
    o.stdout_fd = req.stdout_fd.get();
    o.stderr_fd = req.stderr_fd.get();
    if (o.stdout_fd < 0)
      o.stdout_path = "/dev/null";
    if (o.stderr_fd < 0)
      o.stderr_path = "/dev/null";
  }
  absl::StatusOr<Subprocess> runc = Subprocess::Start(o);
  if (!runc.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run OCI runtime: ", DescribeArgv(o.argv), ": ",
                     runc.status().message()));
  }
  return runc;
}

} // namespace

absl::Status WriteWindowSize(int fd, WindowSize size) {
  return WriteAll(fd, {reinterpret_cast<const char *>(&size), sizeof(size)},
                  "resize pipe");
}

absl::StatusOr<int> RunExecSession(const RuntimeClientOptions &rt,
                                   ExecSessionRequest req) {
  RETURN_IF_ERROR(CheckContainer(rt, req.id));
  req.process["terminal"] = req.tty;
  SessionFiles files(req.work_dir);
  RETURN_IF_ERROR(files.status());
  // Read once by the runtime and removed with the session: never fsynced.
  RETURN_IF_ERROR(
      WriteFileAtomic(files.process(), req.process.dump(), 0600, Durability::kProcessCrash));
  SigpipeBlock sigpipe;
  Pty pty;
  if (req.tty) {
    ASSIGN_OR_RETURN(pty, OpenPty());
  }
  ASSIGN_OR_RETURN(Subprocess runc,
                   StartRuntime(rt, files, req, pty.slave.get()));
  // runc (and the process) hold their own copies now. Only runc may keep
  // the terminal's slave open: its close is how the master sees the end.
  pty.slave.reset();
  if (!req.tty) {
    req.stdin_fd.reset();
    req.stdout_fd.reset();
    req.stderr_fd.reset();
  }
  Supervisor supervisor(runc, req, files.pid(), pty.master.get());
  supervisor.Run();
  ASSIGN_OR_RETURN(int wait_status, runc.Wait());
  if (supervisor.cancelled())
    return absl::CancelledError("exec session cancelled");
  std::string errors =
      RuntimeErrorText(ReadFile(files.log(), 1 << 20).value_or(""));
  const int code = ExitCodeOf(wait_status);
  if (!errors.empty() && code != 0) {
    RETURN_IF_ERROR(CheckContainer(rt, req.id));
    return absl::InternalError(
        absl::StrCat("exec in container ", req.id, ": ", errors));
  }
  return code;
}

} // namespace crius::oci
