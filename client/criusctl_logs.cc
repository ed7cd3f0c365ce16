// criusctl logs: like crictl, the tool reads the container's CRI log file
// itself (the path comes from ContainerStatus), so it needs to run on the
// node that holds the file.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cri_log.h"
#include "client/criusctl_command.h"

namespace crius::client {
namespace {

namespace v1 = runtime::v1;

// How long follow mode idles between looks at the file and the container.
constexpr absl::Duration kFollowPollInterval = absl::Milliseconds(250);

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(-1); }
  void Reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status OpenLog(const std::string& path, Fd& fd) {
  int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    return absl::NotFoundError(
        absl::StrCat("open log file ", path, ": ", std::strerror(errno)));
  }
  fd.Reset(raw);
  return absl::OkStatus();
}

// Appends everything readable right now to `buffer`.
absl::Status ReadAvailable(const Fd& fd, std::string& buffer) {
  char chunk[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd.get(), chunk, sizeof(chunk));
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return absl::OkStatus();
    } else if (errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("read log file: ", std::strerror(errno)));
    }
  }
}

class LogPrinter {
 public:
  LogPrinter(CommandContext& ctx, bool timestamps)
      : ctx_(ctx), timestamps_(timestamps) {}

  void Print(const CriLogLine& line) {
    std::ostream& os = line.stream == LogStream::kStdout ? ctx_.out : ctx_.err;
    if (timestamps_) os << line.timestamp << ' ';
    os << line.text;
    if (line.complete) os << '\n';
  }

  void Flush() {
    ctx_.out.flush();
    ctx_.err.flush();
  }

 private:
  CommandContext& ctx_;
  bool timestamps_;
};

// Feeds the complete lines at the front of `buffer` to `joiner`, keeping a
// trailing unterminated line (one the writer is still writing) in `buffer`.
std::vector<CriLogLine> TakeCompleteLines(std::string& buffer,
                                          CriLogJoiner& joiner) {
  std::vector<CriLogLine> lines;
  size_t start = 0;
  for (size_t newline;
       (newline = buffer.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    std::string_view raw(buffer.data() + start, newline - start);
    absl::StatusOr<CriLogEntry> entry = ParseCriLogLine(raw);
    if (!entry.ok()) continue;
    if (std::optional<CriLogLine> line = joiner.Add(*std::move(entry))) {
      lines.push_back(*std::move(line));
    }
  }
  buffer.erase(0, start);
  return lines;
}

// Whether the file at `path` is no longer the one `fd` has open: kubelet
// rotates by renaming the log and asking the runtime to reopen it.
bool Rotated(const std::string& path, const Fd& fd) {
  struct stat by_path, by_fd;
  if (::stat(path.c_str(), &by_path) != 0) return false;
  if (::fstat(fd.get(), &by_fd) != 0) return false;
  return by_path.st_ino != by_fd.st_ino || by_path.st_dev != by_fd.st_dev;
}

absl::StatusOr<bool> ContainerRunning(CriClient& client,
                                      const std::string& id) {
  v1::ContainerStatusRequest request;
  request.set_container_id(id);
  absl::StatusOr<v1::ContainerStatusResponse> status =
      client.ContainerStatus(request);
  if (absl::IsNotFound(status.status())) return false;
  if (!status.ok()) return status.status();
  return status->status().state() == v1::CONTAINER_RUNNING;
}

absl::Status Follow(CriClient& client, const std::string& id,
                    const std::string& path, Fd& fd, std::string& buffer,
                    CriLogJoiner& joiner, LogPrinter& printer) {
  while (true) {
    size_t before = buffer.size();
    if (absl::Status s = ReadAvailable(fd, buffer); !s.ok()) return s;
    if (buffer.size() != before) {
      for (const CriLogLine& line : TakeCompleteLines(buffer, joiner)) {
        printer.Print(line);
      }
      printer.Flush();
      continue;
    }
    if (Rotated(path, fd)) {
      // Everything in the old file has been read above.
      if (absl::Status s = OpenLog(path, fd); !s.ok()) return s;
      continue;
    }
    absl::StatusOr<bool> running = ContainerRunning(client, id);
    if (!running.ok()) return running.status();
    if (!*running) {
      // One last read: the container may have written just before exiting.
      if (absl::Status s = ReadAvailable(fd, buffer); !s.ok()) return s;
      buffer += '\n';
      for (const CriLogLine& line : TakeCompleteLines(buffer, joiner)) {
        printer.Print(line);
      }
      for (const CriLogLine& line : joiner.TakePending()) printer.Print(line);
      printer.Flush();
      return absl::OkStatus();
    }
    absl::SleepFor(kFollowPollInterval);
  }
}

absl::StatusOr<int> Logs(CommandContext& ctx) {
  int64_t tail = -1;
  if (ctx.flags.Has("tail") &&
      (!absl::SimpleAtoi(ctx.flags.Get("tail"), &tail) || tail < -1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tail wants a line count or -1 for all, not \"",
                     ctx.flags.Get("tail"), "\""));
  }
  bool follow = ctx.flags.GetBool("follow");
  const std::string& id = ctx.flags.positional()[0];

  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  v1::ContainerStatusRequest request;
  request.set_container_id(id);
  CRIUSCTL_ASSIGN_OR_RETURN(status, client->ContainerStatus(request));
  const std::string& path = status.status().log_path();
  if (path.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", id, " has no log path"));
  }
  Fd fd;
  if (absl::Status s = OpenLog(path, fd); !s.ok()) return s;
  std::string buffer;
  if (absl::Status s = ReadAvailable(fd, buffer); !s.ok()) return s;

  CriLogJoiner joiner;
  std::vector<CriLogLine> lines;
  if (follow) {
    lines = TakeCompleteLines(buffer, joiner);
  } else {
    lines = ParseCriLog(buffer);
  }
  LogPrinter printer(ctx, ctx.flags.GetBool("timestamps"));
  size_t skip = tail >= 0 && static_cast<size_t>(tail) < lines.size()
                    ? lines.size() - static_cast<size_t>(tail)
                    : 0;
  for (size_t i = skip; i < lines.size(); ++i) printer.Print(lines[i]);
  printer.Flush();
  if (!follow) return 0;
  if (absl::Status s = Follow(*client, id, path, fd, buffer, joiner, printer);
      !s.ok()) {
    return s;
  }
  return 0;
}

}  // namespace

void AddLogsCommand(std::vector<Command>& commands) {
  commands.push_back({
      .name = "logs",
      .args_usage = "CONTAINER-ID",
      .summary =
          "Print a container's log (read from its CRI log file on this node)",
      .flags =
          {{{"--tail"}, true, "N", "only the last N lines (-1: all)"},
           {{"-f", "--follow"}, false, "", "go on until the container stops"},
           {{"-t", "--timestamps"}, false, "", "show each line's time"}},
      .min_args = 1,
      .max_args = 1,
      .run = &Logs,
  });
}

}  // namespace crius::client
