#include "sandbox/ns_helper.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/child_reaper.h"
#include "common/status.h"

namespace crius::sandbox {
namespace {

// What the child tells the parent, in one fixed-size write.
enum class Step : int {
  kDone = 0,
  kUnshare,
  kSethostname,
  kLoopbackSocket,
  kLoopbackGetFlags,
  kLoopbackSetFlags,
  kSysctlOpen,
  kSysctlWrite,
};

struct Report {
  Step step;
  int err;
  int index;  // which sysctl, for the sysctl steps
};

// Raw views of the plan: the child reads only these.
struct ChildArgs {
  const NsHelperPlan* plan;
  int report_fd;
  int hold_fd;
};

void SendReport(int fd, Step step, int err, int index) {
  Report r{step, err, index};
  // A short or failed write leaves the parent with EOF, which it treats as
  // a failed helper; nothing better can be done from here.
  ssize_t n;
  do {
    n = ::write(fd, &r, sizeof(r));
  } while (n < 0 && errno == EINTR);
}

[[noreturn]] void Fail(const ChildArgs& a, Step step, int index = -1) {
  SendReport(a.report_fd, step, errno, index);
  ::_exit(1);
}

// The helper needs nothing but its two pipe ends; closing the rest means it
// never holds a daemon socket or another child's pipe open. Failure (a
// kernel or seccomp filter without close_range) is harmless: the helper
// lives for milliseconds.
void CloseOtherFds(int a, int b) {
  unsigned lo = static_cast<unsigned>(a < b ? a : b);
  unsigned hi = static_cast<unsigned>(a < b ? b : a);
  if (lo > 0) ::close_range(0, lo - 1, 0);
  if (hi > lo + 1) ::close_range(lo + 1, hi - 1, 0);
  ::close_range(hi + 1, ~0U, 0);
}

bool WriteAllRaw(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

void BringLoopbackUp(const ChildArgs& a) {
  // The socket is created after unshare, so the ioctls act on the new
  // network namespace's "lo".
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail(a, Step::kLoopbackSocket);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) Fail(a, Step::kLoopbackGetFlags);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) Fail(a, Step::kLoopbackSetFlags);
  ::close(fd);
}

// --- In the child: async-signal-safe calls only. ---
[[noreturn]] void RunChild(const ChildArgs& a) {
  const NsHelperPlan& plan = *a.plan;
  CloseOtherFds(a.report_fd, a.hold_fd);
  if (::unshare(plan.unshare_flags) != 0) Fail(a, Step::kUnshare);
  if (plan.set_hostname && ::sethostname(plan.hostname.data(), plan.hostname.size()) != 0) {
    Fail(a, Step::kSethostname);
  }
  if (plan.loopback_up) BringLoopbackUp(a);
  // /proc/sys/net and the IPC sysctls resolve against the namespaces of the
  // process that opens them, which is now this one.
  for (size_t i = 0; i < plan.sysctls.size(); ++i) {
    const auto& s = plan.sysctls[i];
    int fd = ::open(s.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) Fail(a, Step::kSysctlOpen, static_cast<int>(i));
    if (!WriteAllRaw(fd, s.value.data(), s.value.size())) {
      Fail(a, Step::kSysctlWrite, static_cast<int>(i));
    }
    // The kernel reports a refused value at write time, so close's result
    // adds nothing.
    ::close(fd);
  }
  SendReport(a.report_fd, Step::kDone, 0, -1);
  // Wait to be killed. EOF means the daemon died before doing so.
  char c;
  while (::read(a.hold_fd, &c, 1) < 0 && errno == EINTR) {
  }
  ::_exit(0);
}

// All signals stay blocked in the child: no daemon handler may run there,
// and SIGKILL, the only signal it is meant to get, cannot be blocked.
// _Fork skips pthread_atfork handlers, which exist to repair library state
// for children that go on running library code; this one does not.
pid_t ForkChild(const ChildArgs& a) {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::_Fork();
  if (pid == 0) RunChild(a);
  int saved = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return pid;
}

void KillAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ReleaseOwnedChild(pid);
}

// Missing from /proc/sys means the kernel has no such sysctl, or does not
// scope it to the pod's namespaces (then it only exists in the node's).
absl::Status SysctlFailure(const Report& r, const NsHelperPlan& plan) {
  const auto& s = plan.sysctls[static_cast<size_t>(r.index)];
  std::string what = absl::StrCat("sysctl \"", s.name, "\" (", s.path, ")");
  if (r.step == Step::kSysctlOpen && r.err == ENOENT) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not known in the pod's namespace"));
  }
  if (r.step == Step::kSysctlWrite && (r.err == EINVAL || r.err == ERANGE)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " = \"", s.value, "\": value refused by the kernel (", std::strerror(r.err), ")"));
  }
  return ErrnoStatus(r.err, absl::StrCat(r.step == Step::kSysctlOpen ? "open " : "write ", what));
}

absl::Status ReportToStatus(const Report& r, const NsHelperPlan& plan) {
  switch (r.step) {
    case Step::kDone: return absl::OkStatus();
    case Step::kUnshare:
      return ErrnoStatus(r.err, absl::StrCat("unshare(0x", absl::Hex(plan.unshare_flags), ")"));
    case Step::kSethostname:
      return ErrnoStatus(r.err, absl::StrCat("sethostname \"", plan.hostname, "\""));
    case Step::kLoopbackSocket: return ErrnoStatus(r.err, "socket for lo");
    case Step::kLoopbackGetFlags: return ErrnoStatus(r.err, "SIOCGIFFLAGS lo");
    case Step::kLoopbackSetFlags: return ErrnoStatus(r.err, "SIOCSIFFLAGS lo up");
    case Step::kSysctlOpen:
    case Step::kSysctlWrite: return SysctlFailure(r, plan);
  }
  return absl::InternalError("namespace helper: unknown report");
}

bool ValidIndex(const Report& r, const NsHelperPlan& plan) {
  if (r.step != Step::kSysctlOpen && r.step != Step::kSysctlWrite) return true;
  return r.index >= 0 && static_cast<size_t>(r.index) < plan.sysctls.size();
}

}  // namespace

absl::StatusOr<NsHelper> NsHelper::Start(const NsHelperPlan& plan) {
  int report[2], hold[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return ErrnoStatus("namespace helper: pipe2");
  UniqueFd report_read(report[0]), report_write(report[1]);
  if (::pipe2(hold, O_CLOEXEC) != 0) return ErrnoStatus("namespace helper: pipe2");
  UniqueFd hold_read(hold[0]), hold_write(hold[1]);

  ChildArgs args{&plan, report_write.get(), hold_read.get()};
  pid_t pid = ForkOwnedChild([&] { return ForkChild(args); });
  if (pid < 0) return ErrnoStatus("namespace helper: fork");
  NsHelper helper(pid, std::move(hold_write));
  // Only the child keeps these, so a child that dies before reporting
  // shows up here as EOF rather than a read that never returns.
  report_write.reset();
  hold_read.reset();

  Report r;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &r, sizeof(r));
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(r)) || !ValidIndex(r, plan)) {
    return absl::InternalError(absl::StrCat("namespace helper ", pid, " ended without reporting"));
  }
  if (r.step != Step::kDone) {
    absl::Status s = ReportToStatus(r, plan);
    helper.Finish();
    return Annotate(s, "namespace helper");
  }
  return helper;
}

NsHelper::NsHelper(NsHelper&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), hold_(std::move(other.hold_)) {}

NsHelper& NsHelper::operator=(NsHelper&& other) noexcept {
  if (this != &other) {
    Finish();
    pid_ = std::exchange(other.pid_, -1);
    hold_ = std::move(other.hold_);
  }
  return *this;
}

NsHelper::~NsHelper() { Finish(); }

std::string NsHelper::NsDir() const { return absl::StrCat("/proc/", pid_, "/ns"); }

void NsHelper::Finish() {
  if (pid_ > 0) KillAndReap(std::exchange(pid_, -1));
  hold_.reset();
}

}  // namespace crius::sandbox
