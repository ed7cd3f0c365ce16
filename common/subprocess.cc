#include "common/subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/child_reaper.h"
#include "common/status.h"

namespace crius {
namespace {

// The step that failed in the child; sent to the parent with errno through
// the error pipe so a failed execve is a proper error, not exit code 127.
enum class ChildStep : int { kSetsid, kDup2, kCloseFds, kChdir, kExecve };

struct ChildError {
  ChildStep step;
  int err;
};

// Everything the child needs, built in the parent before fork: between fork
// and execve the child may not allocate or take locks (another thread may
// have held the malloc lock at fork time), so it only reads this.
struct ChildPlan {
  const char* path = nullptr;
  const char* cwd = nullptr;
  std::vector<char*> argv;
  std::vector<char*> envp;
  // fds[i] becomes the child's fd i. Every one is numbered >= fds.size(),
  // so the dup2 sequence in the child can never overwrite a source it has
  // yet to copy.
  std::vector<UniqueFd> fds;
  UniqueFd err_write;  // also >= fds.size(); CLOEXEC, so execve closes it
  bool new_session = false;
  bool use_close_range = true;
  std::vector<int> open_fds;  // fallback for kernels/filters without close_range
};

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

absl::Status Validate(const SubprocessOptions& o) {
  if (o.argv.empty()) return absl::InvalidArgumentError("spawn: empty argv");
  if (o.argv[0].empty() || o.argv[0][0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("spawn: argv[0] \"", o.argv[0], "\" is not an absolute path"));
  }
  // A NUL would silently cut a string short at execve; refuse instead.
  for (const auto& a : o.argv) {
    if (HasNul(a)) return absl::InvalidArgumentError("spawn: argument contains NUL");
  }
  for (const auto& e : o.env) {
    if (HasNul(e) || e.find('=') == std::string::npos) {
      // The entry itself is left out of the message: it may hold a secret.
      return absl::InvalidArgumentError(absl::StrCat(
          "spawn ", o.argv[0], ": environment entry ", &e - o.env.data(), " is not NAME=value"));
    }
  }
  if (HasNul(o.cwd) || HasNul(o.stdout_path) || HasNul(o.stderr_path)) {
    return absl::InvalidArgumentError("spawn: path contains NUL");
  }
  return absl::OkStatus();
}

// Copies `fd` to a number >= `min` (CLOEXEC, so nothing else inherits it).
absl::StatusOr<UniqueFd> DupAtLeast(int fd, int min) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, min);
  if (dup < 0) return ErrnoStatus(absl::StrCat("dup fd ", fd));
  return UniqueFd(dup);
}

absl::StatusOr<UniqueFd> OpenAtLeast(const std::string& path, int flags, int min) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", path));
  return DupAtLeast(fd.get(), min);
}

// Resolves one of the child's stdout/stderr: explicit fd, path, or ours.
absl::StatusOr<UniqueFd> OutputFd(int fd, const std::string& path, int ours, int min) {
  if (fd >= 0) return DupAtLeast(fd, min);
  if (!path.empty()) return OpenAtLeast(path, O_WRONLY | O_CREAT | O_APPEND, min);
  auto inherited = DupAtLeast(ours, min);
  // The daemon may run with stdout closed; the child then gets /dev/null
  // rather than a descriptor number some unrelated file might reuse.
  if (!inherited.ok()) return OpenAtLeast("/dev/null", O_WRONLY, min);
  return inherited;
}

absl::Status PlanFds(const SubprocessOptions& o, ChildPlan* plan) {
  int n = 3 + static_cast<int>(o.extra_fds.size());
  ASSIGN_OR_RETURN(UniqueFd in, o.stdin_fd >= 0 ? DupAtLeast(o.stdin_fd, n)
                                                : OpenAtLeast("/dev/null", O_RDONLY, n));
  ASSIGN_OR_RETURN(UniqueFd out, OutputFd(o.stdout_fd, o.stdout_path, STDOUT_FILENO, n));
  ASSIGN_OR_RETURN(UniqueFd err, OutputFd(o.stderr_fd, o.stderr_path, STDERR_FILENO, n));
  plan->fds.push_back(std::move(in));
  plan->fds.push_back(std::move(out));
  plan->fds.push_back(std::move(err));
  for (int extra : o.extra_fds) {
    ASSIGN_OR_RETURN(UniqueFd fd, DupAtLeast(extra, n));
    plan->fds.push_back(std::move(fd));
  }
  return absl::OkStatus();
}

// close_range can be missing (old kernel) or denied by a seccomp profile
// when the daemon itself runs in a container; probe once with a range that
// holds no descriptor.
bool CloseRangeWorks() {
  static const bool works = ::close_range(~0U, ~0U, 0) == 0;
  return works;
}

// Listing /proc/self/fd allocates, so the fallback list is made here in the
// parent. Descriptors another thread opens after this are still CLOEXEC by
// the daemon's convention, so execve closes them.
std::vector<int> ListOpenFds() {
  std::vector<int> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  while (struct dirent* ent = ::readdir(dir)) {
    if (ent->d_name[0] != '.') fds.push_back(std::atoi(ent->d_name));
  }
  ::closedir(dir);
  return fds;
}

// `err_read` receives the parent's end of the error pipe.
absl::StatusOr<ChildPlan> MakePlan(const SubprocessOptions& o, UniqueFd* err_read) {
  ChildPlan plan;
  plan.path = o.argv[0].c_str();
  plan.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  plan.new_session = o.new_session;
  // execve's prototype takes char* const[] but never writes through it.
  for (const auto& a : o.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  for (const auto& e : o.env) plan.envp.push_back(const_cast<char*>(e.c_str()));
  plan.envp.push_back(nullptr);
  RETURN_IF_ERROR(PlanFds(o, &plan));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoStatus("spawn: pipe2");
  err_read->reset(pipefd[0]);
  UniqueFd write_end(pipefd[1]);
  ASSIGN_OR_RETURN(plan.err_write, DupAtLeast(write_end.get(), static_cast<int>(plan.fds.size())));
  plan.use_close_range = CloseRangeWorks();
  if (!plan.use_close_range) plan.open_fds = ListOpenFds();
  return plan;
}

// --- In the child: async-signal-safe calls only from here to execve. ---

[[noreturn]] void ChildFail(const ChildPlan& plan, ChildStep step) {
  ChildError e{step, errno};
  if (::write(plan.err_write.get(), &e, sizeof(e)) < 0) {
    // Nothing to do: the parent then sees a silent exit 127.
  }
  ::_exit(127);
}

// Handlers installed by the daemon must not run in the child, and ignored
// signals (SIGPIPE, often) would otherwise stay ignored in runc or a CNI
// plugin and change their behaviour. SIGKILL/SIGSTOP and glibc's internal
// signals refuse the call; that is expected and harmless.
void ResetSignalDispositions() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
}

bool CloseOtherFds(const ChildPlan& plan) {
  unsigned keep_from = static_cast<unsigned>(plan.fds.size());
  unsigned err_fd = static_cast<unsigned>(plan.err_write.get());
  if (plan.use_close_range) {
    if (err_fd > keep_from && ::close_range(keep_from, err_fd - 1, 0) != 0) return false;
    return ::close_range(err_fd + 1, ~0U, 0) == 0;
  }
  for (int fd : plan.open_fds) {
    if (fd >= static_cast<int>(keep_from) && fd != plan.err_write.get()) ::close(fd);
  }
  return true;
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  if (plan.new_session && ::setsid() < 0) ChildFail(plan, ChildStep::kSetsid);
  ResetSignalDispositions();
  for (size_t i = 0; i < plan.fds.size(); ++i) {
    // dup2 to a different number clears CLOEXEC on the copy, which is what
    // lets exactly these descriptors survive execve.
    if (::dup2(plan.fds[i].get(), static_cast<int>(i)) < 0) ChildFail(plan, ChildStep::kDup2);
  }
  if (!CloseOtherFds(plan)) ChildFail(plan, ChildStep::kCloseFds);
  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) ChildFail(plan, ChildStep::kChdir);
  // Unblocked last, after the dispositions are default, so a signal that
  // arrives now acts on the child as it would on a freshly started program.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(plan.path, plan.argv.data(), plan.envp.data());
  ChildFail(plan, ChildStep::kExecve);
}

// --- Back in the parent. ---

// All signals are blocked across fork so no daemon signal handler can run in
// the child before RunChild resets the dispositions (a handler there could,
// say, write to the daemon's self-pipe). _Fork skips pthread_atfork
// handlers: libraries register them to repair their state for a child that
// keeps running their code, and ours only execs.
pid_t ForkChild(const ChildPlan& plan) {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::_Fork();
  if (pid == 0) RunChild(plan);
  int saved = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return pid;
}

std::string StepName(ChildStep step, const SubprocessOptions& o) {
  switch (step) {
    case ChildStep::kSetsid: return absl::StrCat("setsid for ", o.argv[0]);
    case ChildStep::kDup2: return absl::StrCat("dup2 for ", o.argv[0]);
    case ChildStep::kCloseFds: return absl::StrCat("close_range for ", o.argv[0]);
    case ChildStep::kChdir: return absl::StrCat("chdir ", o.cwd, " for ", o.argv[0]);
    case ChildStep::kExecve: return absl::StrCat("execve ", o.argv[0]);
  }
  return absl::StrCat("spawn ", o.argv[0]);
}

// Returns bytes read: sizeof(ChildError) on a failed child, 0 once execve
// closed the pipe, or -1 on a read error.
ssize_t ReadChildError(int fd, ChildError* e) {
  for (;;) {
    ssize_t n = ::read(fd, e, sizeof(*e));
    if (n >= 0 || errno != EINTR) return n;
  }
}

void ReapBlocking(pid_t pid) {
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<Subprocess> Subprocess::Start(const SubprocessOptions& options) {
  RETURN_IF_ERROR(Validate(options));
  UniqueFd err_read;
  ASSIGN_OR_RETURN(ChildPlan plan, MakePlan(options, &err_read));
  pid_t pid = ForkOwnedChild([&] { return ForkChild(plan); });
  if (pid < 0) return ErrnoStatus(absl::StrCat("fork for ", options.argv[0]));
  // Dropping our copies now means the pipe reaches EOF as soon as execve
  // closes the child's, and the child's stdio ends live only in the child.
  plan.err_write.reset();
  plan.fds.clear();
  ChildError e;
  ssize_t n = ReadChildError(err_read.get(), &e);
  if (n == static_cast<ssize_t>(sizeof(e))) {
    ReapBlocking(pid);  // it has already called _exit
    ReleaseOwnedChild(pid);
    return ErrnoStatus(e.err, StepName(e.step, options));
  }
  // A pidfd lets callers poll() for exit instead of polling waitpid; it is
  // race-free here because our unreaped child's pid cannot be reused. It is
  // a raw syscall because glibc 2.36's <sys/pidfd.h> lacks extern "C".
  Subprocess child(pid, UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))));
  if (n != 0) {
    // We cannot tell whether execve happened; the destructor kills and reaps.
    return absl::InternalError(absl::StrCat("spawn ", options.argv[0], ": bad error pipe read"));
  }
  return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      reaped_(other.reaped_),
      wait_status_(other.wait_status_) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    reaped_ = other.reaped_;
    wait_status_ = other.wait_status_;
  }
  return *this;
}

Subprocess::~Subprocess() { KillAndReap(); }

void Subprocess::KillAndReap() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, SIGKILL);
  TryReap(0);
}

bool Subprocess::TryReap(int flags) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, flags);
  } while (r < 0 && errno == EINTR);
  if (r == pid_ || (r < 0 && errno == ECHILD)) ReleaseOwnedChild(pid_);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
    pidfd_.reset();
  }
  return reaped_;
}

absl::Status Subprocess::Signal(int sig) {
  if (pid_ <= 0) return absl::FailedPreconditionError("signal: no process");
  if (reaped_) {
    return absl::FailedPreconditionError(
        absl::StrCat("signal ", sig, " to pid ", pid_, ": already reaped"));
  }
  if (::kill(pid_, sig) != 0) return ErrnoStatus(absl::StrCat("kill(", pid_, ", ", sig, ")"));
  return absl::OkStatus();
}

bool Subprocess::Running() {
  if (pid_ <= 0 || reaped_) return false;
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  // WNOWAIT leaves the child a zombie, keeping its pid reserved for Signal.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return false;  // ECHILD: someone else reaped it, so it is not running
  }
  return info.si_pid == 0;
}

namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits until `fd` is readable or `deadline` passes; true if readable.
bool PollReadable(int fd, SteadyClock::time_point deadline) {
  for (;;) {
    auto left = std::max(deadline - SteadyClock::now(), SteadyClock::duration::zero());
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    struct timespec ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    struct pollfd p = {fd, POLLIN, 0};
    int r = ::ppoll(&p, 1, &ts, nullptr);
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

}  // namespace

absl::StatusOr<int> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("wait: no process");
  if (reaped_) return wait_status_;
  if (timeout == absl::InfiniteDuration()) {
    if (!TryReap(0)) return ErrnoStatus(absl::StrCat("waitpid ", pid_));
    return wait_status_;
  }
  // Clamped so a huge finite timeout cannot overflow the clock arithmetic.
  auto span = absl::ToChronoNanoseconds(std::min(timeout, absl::Hours(24 * 365)));
  auto deadline = SteadyClock::now() + span;
  if (pidfd_ && PollReadable(pidfd_.get(), deadline) && TryReap(WNOHANG)) return wait_status_;
  // Without a pidfd, poll waitpid with a backoff that starts fine-grained
  // (short-lived children are common) and settles at 50ms.
  auto backoff = std::chrono::milliseconds(1);
  while (!TryReap(WNOHANG)) {
    auto now = SteadyClock::now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(std::min<SteadyClock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
  }
  return wait_status_;
}

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? absl::StrCat("SIG", abbrev) : absl::StrCat("signal ", sig);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return absl::StrCat("killed by signal ", sig, " (", SignalName(sig), ")",
                        WCOREDUMP(status) ? " (core dumped)" : "");
  }
  if (WIFSTOPPED(status)) {
    int sig = WSTOPSIG(status);
    return absl::StrCat("stopped by signal ", sig, " (", SignalName(sig), ")");
  }
  return absl::StrFormat("wait status 0x%x", status);
}

}  // namespace crius
