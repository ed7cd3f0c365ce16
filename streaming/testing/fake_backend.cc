#include "streaming/testing/fake_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace crius::streaming::testing {
namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Copies `in` to `out` until EOF; false when cancelled first.
bool Cat(int in, int out, const Cancellation& cancel) {
  char buf[16384];
  while (true) {
    pollfd fds[2] = {{in, POLLIN, 0}, {cancel.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (cancel.Cancelled()) return false;
    ssize_t n = ::read(in, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (out >= 0 && !WriteAll(out, std::string_view(buf, static_cast<size_t>(n)))) return true;
  }
}

class Running {
 public:
  explicit Running(std::atomic<int>& n) : n_(n) { ++n_; }
  ~Running() { --n_; }

 private:
  std::atomic<int>& n_;
};

}  // namespace

absl::StatusOr<int> FakeBackend::Exec(const runtime::v1::ExecRequest& req, SessionIo io,
                                      ResizeQueue* resize, const Cancellation& cancel) {
  Running running(running_);
  if (req.cmd().empty()) return absl::InvalidArgumentError("empty command");
  const std::string& cmd = req.cmd(0);
  std::vector<std::string> args(req.cmd().begin() + 1, req.cmd().end());
  int out = io.stdout_fd.get();
  if (cmd == "echo") {
    WriteAll(out, absl::StrJoin(args, " "));
    return 0;
  }
  if (cmd == "cat") {
    if (!io.stdin_fd.valid()) return 0;
    if (!Cat(io.stdin_fd.get(), out, cancel)) {
      ++cancelled_;
      return absl::CancelledError("cancelled");
    }
    return 0;
  }
  if (cmd == "exit") {
    int code = 0;
    if (args.empty() || !absl::SimpleAtoi(args[0], &code)) {
      return absl::InvalidArgumentError("exit needs a number");
    }
    return code;
  }
  if (cmd == "tty") {
    if (!req.tty()) {
      WriteAll(io.stderr_fd.valid() ? io.stderr_fd.get() : out, "not a tty\n");
      return 1;
    }
    WriteAll(out, "/dev/pts/0\n");
    return 0;
  }
  if (cmd == "size") {
    std::optional<TerminalSize> s = resize ? resize->Next() : std::nullopt;
    if (!s) return absl::CancelledError("no terminal size arrived");
    WriteAll(out, absl::StrCat(s->height, " ", s->width, "\n"));
    return 0;
  }
  if (cmd == "sleep") {
    double seconds = 0;
    if (!args.empty()) (void)absl::SimpleAtod(args[0], &seconds);
    pollfd p = {cancel.fd(), POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(seconds * 1000));
    if (rc > 0 || cancel.Cancelled()) {
      ++cancelled_;
      return absl::CancelledError("cancelled");
    }
    return 0;
  }
  return absl::NotFoundError(absl::StrCat("executable file not found: ", cmd));
}

absl::Status FakeBackend::Attach(const runtime::v1::AttachRequest&, SessionIo io, ResizeQueue*,
                                 const Cancellation& cancel) {
  Running running(running_);
  if (!io.stdin_fd.valid()) {
    pollfd p = {cancel.fd(), POLLIN, 0};
    ::poll(&p, 1, -1);
    ++cancelled_;
    return absl::OkStatus();
  }
  if (!Cat(io.stdin_fd.get(), io.stdout_fd.get(), cancel)) ++cancelled_;
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> FakeBackend::DialPod(const std::string&, int32_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus(absl::StrCat("connect 127.0.0.1:", port));
  }
  return fd;
}

}  // namespace crius::streaming::testing
