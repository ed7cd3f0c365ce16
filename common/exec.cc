#include "common/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "common/unique_fd.h"

namespace crius {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Deadline = std::optional<SteadyClock::time_point>;  // nullopt: never

constexpr size_t kChunk = 64 * 1024;  // one pipe buffer's worth per syscall
constexpr size_t kMessageExcerpt = 2048;

Deadline DeadlineAfter(absl::Duration timeout) {
  // Anything beyond a year is "no deadline"; this also keeps the clock
  // arithmetic from overflowing on absl::InfiniteDuration().
  if (timeout > absl::Hours(24 * 365)) return std::nullopt;
  return SteadyClock::now() + absl::ToChronoNanoseconds(std::max(timeout, absl::ZeroDuration()));
}

// Blocks SIGPIPE in the calling thread only, and on exit consumes the
// SIGPIPE our own stdin writes raised (a write to a pipe with no reader
// sends it to the writing thread). A SIGPIPE that was already pending
// before we started is left alone, to be delivered as it would have been.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      struct timespec zero = {0, 0};
      while (::sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Only the daemon's end is non-blocking: the child gets an ordinary
// blocking pipe, as programs expect.
absl::StatusOr<Pipe> MakePipe(bool parent_writes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("exec: pipe2");
  Pipe p{UniqueFd(fds[0]), UniqueFd(fds[1])};
  int ours = parent_writes ? p.write.get() : p.read.get();
  if (::fcntl(ours, F_SETFL, O_NONBLOCK) != 0) return ErrnoStatus("exec: set O_NONBLOCK");
  return p;
}

// One captured output stream of the child.
struct Capture {
  UniqueFd fd;
  std::string* data;
  bool* truncated;
  size_t max;
};

enum class ReadResult { kData, kAgain, kDone };

// Keeps at most `max` bytes but always reads, so the child never stalls.
ReadResult ReadOnce(Capture& c) {
  char buf[kChunk];
  ssize_t n;
  do {
    n = ::read(c.fd.get(), buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return ReadResult::kAgain;
  if (n <= 0) {
    c.fd.reset();
    return ReadResult::kDone;
  }
  size_t room = c.max - std::min(c.max, c.data->size());
  size_t keep = std::min(room, static_cast<size_t>(n));
  c.data->append(buf, keep);
  if (keep < static_cast<size_t>(n)) *c.truncated = true;
  return ReadResult::kData;
}

// Feeds stdin and drains stdout/stderr in one poll loop until the child
// exits, so no ordering of reads and writes can deadlock against a child
// that floods its output or never reads its input.
class ExecIo {
 public:
  ExecIo(Subprocess* child, UniqueFd in, std::string_view input, Capture out, Capture err,
         Deadline deadline)
      : child_(child),
        in_(std::move(in)),
        input_(input),
        out_(std::move(out)),
        err_(std::move(err)),
        deadline_(deadline) {}

  // OK once the child has exited (it is not reaped here); DeadlineExceeded
  // if the deadline came first.
  absl::Status Run() {
    if (input_.empty()) in_.reset();
    while (!exited_) RETURN_IF_ERROR(PollOnce());
    Drain(out_);
    Drain(err_);
    return absl::OkStatus();
  }

 private:
  absl::Status PollOnce();
  void WriteStdin();
  void Drain(Capture& c);
  bool Expired() const { return deadline_ && SteadyClock::now() >= *deadline_; }
  struct timespec PollTimeout(bool* last) const;

  Subprocess* child_;
  UniqueFd in_;
  std::string_view input_;
  Capture out_;
  Capture err_;
  Deadline deadline_;
  bool exited_ = false;
};

// Without a pidfd, exit is noticed by polling Running() every 10ms.
struct timespec ExecIo::PollTimeout(bool* last) const {
  auto left = std::chrono::nanoseconds(std::chrono::hours(1));
  if (deadline_) left = std::max(*deadline_ - SteadyClock::now(), SteadyClock::duration::zero());
  *last = left.count() == 0;
  if (child_->pidfd() < 0)
    left = std::min<SteadyClock::duration>(left, std::chrono::milliseconds(10));
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  return {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

absl::Status ExecIo::PollOnce() {
  struct pollfd fds[4];
  int n = 0;
  auto add = [&](int fd, short events) {
    fds[n] = {fd, events, 0};
    return fd >= 0 ? n++ : -1;
  };
  int in_i = add(in_.get(), POLLOUT);
  int out_i = add(out_.fd.get(), POLLIN);
  int err_i = add(err_.fd.get(), POLLIN);
  int pid_i = add(child_->pidfd(), POLLIN);
  // `last` gives a child that exits right at the deadline one final,
  // zero-timeout look before it is declared overdue.
  bool last = false;
  struct timespec timeout = PollTimeout(&last);
  if (::ppoll(fds, n, &timeout, nullptr) < 0) {
    if (errno == EINTR) return absl::OkStatus();
    return ErrnoStatus("exec: ppoll");
  }
  auto ready = [&](int i) { return i >= 0 && fds[i].revents != 0; };
  if (ready(in_i)) WriteStdin();
  if (ready(out_i)) ReadOnce(out_);
  if (ready(err_i)) ReadOnce(err_);
  exited_ = pid_i >= 0 ? ready(pid_i) : !child_->Running();
  if (!exited_ && (last || Expired())) return absl::DeadlineExceededError("deadline");
  return absl::OkStatus();
}

// A child may exit or close stdin without reading everything; EPIPE then
// just means it wants no more, so stdin is closed and it is not an error.
void ExecIo::WriteStdin() {
  ssize_t n = ::write(in_.get(), input_.data(), std::min(input_.size(), kChunk));
  if (n > 0) input_.remove_prefix(static_cast<size_t>(n));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n < 0 || input_.empty()) in_.reset();
}

// After exit everything the child wrote is already in the pipe; read until
// it is empty rather than until EOF, which a grandchild still holding the
// pipe could postpone indefinitely. A pipe holds at most 1 MiB
// (pipe-max-size), so the first 16 reads always happen and output the child
// wrote just before the deadline is kept; only a grandchild that keeps
// writing is cut off, at the deadline.
void ExecIo::Drain(Capture& c) {
  for (int reads = 0; c.fd && (reads < 16 || !Expired()); ++reads) {
    if (ReadOnce(c) != ReadResult::kData) break;
  }
}

std::string Excerpt(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() <= kMessageExcerpt) return std::string(text);
  // The tail: tools print the decisive error last.
  return absl::StrCat("...", text.substr(text.size() - kMessageExcerpt));
}

std::string OutputForMessage(const std::string& stdout_data, const std::string& stderr_data) {
  std::string err = Excerpt(stderr_data);
  if (!err.empty()) return absl::StrCat("; stderr: ", err);
  std::string out = Excerpt(stdout_data);
  if (!out.empty()) return absl::StrCat("; stdout: ", out);
  return "";
}

absl::StatusOr<ExecResult> Finish(Subprocess& child, ExecResult result) {
  ASSIGN_OR_RETURN(int status, child.Wait());
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace

absl::StatusOr<ExecResult> Exec(const ExecOptions& options) {
  ASSIGN_OR_RETURN(Pipe in, MakePipe(/*parent_writes=*/true));
  ASSIGN_OR_RETURN(Pipe out, MakePipe(/*parent_writes=*/false));
  ASSIGN_OR_RETURN(Pipe err, MakePipe(/*parent_writes=*/false));
  SubprocessOptions spawn;
  spawn.argv = options.argv;
  spawn.env = options.env;
  spawn.cwd = options.cwd;
  spawn.stdin_fd = in.read.get();
  spawn.stdout_fd = out.write.get();
  spawn.stderr_fd = err.write.get();
  Deadline deadline = DeadlineAfter(options.timeout);
  ASSIGN_OR_RETURN(Subprocess child, Subprocess::Start(spawn));
  // Our copies of the child's ends must go, or stdout/stderr never hit EOF
  // and stdin writes never see EPIPE.
  in.read.reset();
  out.write.reset();
  err.write.reset();

  ExecResult result;
  ScopedSigpipeBlock no_sigpipe;
  ExecIo io(&child, std::move(in.write), options.stdin_data,
            Capture{std::move(out.read), &result.stdout_data, &result.stdout_truncated,
                    options.max_output},
            Capture{std::move(err.read), &result.stderr_data, &result.stderr_truncated,
                    options.max_output},
            deadline);
  absl::Status io_status = io.Run();
  if (absl::IsDeadlineExceeded(io_status)) {
    child.Signal(SIGKILL).IgnoreError();  // unreaped, so the pid is still ours
    child.Wait().IgnoreError();
    return absl::DeadlineExceededError(absl::StrCat(
        DescribeArgv(options.argv), ": killed after ", absl::FormatDuration(options.timeout),
        OutputForMessage(result.stdout_data, result.stderr_data)));
  }
  // On any other failure `child`'s destructor kills and reaps it.
  if (!io_status.ok()) return Annotate(io_status, DescribeArgv(options.argv));
  return Finish(child, std::move(result));
}

absl::StatusOr<ExecResult> ExecChecked(const ExecOptions& options) {
  ASSIGN_OR_RETURN(ExecResult r, Exec(options));
  std::string output = OutputForMessage(r.stdout_data, r.stderr_data);
  if (r.signal != 0) {
    return absl::UnknownError(absl::StrCat(DescribeArgv(options.argv), ": killed by signal ",
                                           r.signal, " (", SignalName(r.signal), ")", output));
  }
  if (r.exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(DescribeArgv(options.argv), ": exited with code ", r.exit_code, output));
  }
  return r;
}

namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

absl::StatusOr<std::string> FindExecutable(const std::string& name,
                                           const std::vector<std::string>& dirs) {
  if (name.empty()) return absl::InvalidArgumentError("find executable: empty name");
  if (name.find('/') != std::string::npos) {
    if (name[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("executable path \"", name, "\" is relative"));
    }
    if (IsExecutableFile(name)) return name;
    return absl::NotFoundError(absl::StrCat("\"", name, "\" is not an executable file"));
  }
  for (const std::string& dir : dirs) {
    // Relative directories would make the result depend on the cwd, the
    // classic way to run a planted binary; they are skipped.
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = JoinPath(dir, name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return absl::NotFoundError(
      absl::StrCat("executable \"", name, "\" not found in ", absl::StrJoin(dirs, ":")));
}

std::string DescribeArgv(const std::vector<std::string>& argv) {
  constexpr size_t kMaxLength = 1024;
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (out.size() > kMaxLength) {
      absl::StrAppend(&out, " ... (", argv.size() - i, " more)");
      break;
    }
    const std::string& a = argv[i];
    bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
      return absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != '"' && c != '\'' &&
             c != '\\';
    });
    if (!out.empty()) out.push_back(' ');
    absl::StrAppend(&out, plain ? a : absl::StrCat("\"", absl::CHexEscape(a), "\""));
  }
  return out;
}

}  // namespace crius
