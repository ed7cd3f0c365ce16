#include "oci/attach_session.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace crius::oci {
namespace {

// conmon's pipe numbers in the first byte of each packet.
constexpr char kStdoutPipe = 2;
constexpr char kStderrPipe = 3;
// conmon sends at most 8 KiB + 1; a larger buffer never truncates a packet
// (SOCK_SEQPACKET drops what does not fit).
constexpr size_t kPacketBuffer = 32768;
// conmon reads stdin packets of up to 32 KiB - 1.
constexpr size_t kStdinChunk = 8192;

absl::StatusOr<UniqueFd> ConnectAttach(const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("attach socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoStatus("attach socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) {
      return absl::FailedPreconditionError(
          absl::StrCat("container is not running (no monitor at ", path, ")"));
    }
    return ErrnoStatus(absl::StrCat("connect ", path));
  }
  return fd;
}

class AttachRelay {
 public:
  AttachRelay(AttachSessionRequest& req, int sock) : req_(req), sock_(sock) {}
  absl::Status Run();

 private:
  void ReadSocket();
  void ReadStdin();
  void ReadResize();
  void Deliver(UniqueFd& fd, const char* data, size_t size);

  AttachSessionRequest& req_;
  const int sock_;
  bool sock_open_ = true;
  bool resize_open_ = true;
};

absl::Status AttachRelay::Run() {
  while (sock_open_) {
    std::vector<pollfd> fds;
    auto add = [&fds](int fd) {
      if (fd < 0) return -1;
      fds.push_back({fd, POLLIN, 0});
      return static_cast<int>(fds.size()) - 1;
    };
    const int sock_i = add(sock_);
    const int stdin_i = add(req_.stdin_fd.get());
    const int resize_i = add(resize_open_ ? req_.resize_fd : -1);
    const int cancel_i = add(req_.cancel_fd);
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("attach: poll");
    }
    auto ready = [&fds](int i) {
      return i >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    };
    if (ready(cancel_i)) return absl::CancelledError("attach session cancelled");
    if (ready(sock_i)) ReadSocket();
    if (ready(stdin_i)) ReadStdin();
    if (ready(resize_i)) ReadResize();
  }
  return absl::OkStatus();
}

void AttachRelay::ReadSocket() {
  std::vector<char> buf(kPacketBuffer);
  ssize_t n = ::recv(sock_, buf.data(), buf.size(), 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    sock_open_ = false;  // conmon is gone: the container exited
    return;
  }
  const char pipe = buf[0];
  if (req_.tty || pipe == kStdoutPipe) {
    Deliver(req_.stdout_fd, buf.data() + 1, size_t(n) - 1);
  } else if (pipe == kStderrPipe) {
    Deliver(req_.stderr_fd, buf.data() + 1, size_t(n) - 1);
  }
}

// A client that stopped reading one stream loses that stream only.
void AttachRelay::Deliver(UniqueFd& fd, const char* data, size_t size) {
  if (fd && size > 0 && !WriteAll(fd.get(), {data, size}, "attach output").ok()) fd.reset();
}

void AttachRelay::ReadStdin() {
  char buf[kStdinChunk];
  ssize_t n = ::read(req_.stdin_fd.get(), buf, sizeof(buf));
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    // The client closed stdin: tell conmon (it closes the container's
    // stdin when the container is stdin_once) and keep relaying output.
    ::shutdown(sock_, SHUT_WR);
    req_.stdin_fd.reset();
    return;
  }
  if (::send(sock_, buf, size_t(n), MSG_NOSIGNAL) < 0) req_.stdin_fd.reset();
}

void AttachRelay::ReadResize() {
  WindowSize sizes[16];
  ssize_t n = ::read(req_.resize_fd, sizes, sizeof(sizes));
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    resize_open_ = false;
    return;
  }
  size_t count = size_t(n) / sizeof(WindowSize);
  if (count > 0 && req_.on_resize) req_.on_resize(sizes[count - 1]);
}

}  // namespace

absl::Status RunAttachSession(AttachSessionRequest req) {
  ASSIGN_OR_RETURN(UniqueFd sock, ConnectAttach(req.socket_path));
  AttachRelay relay(req, sock.get());
  return relay.Run();
}

}  // namespace crius::oci
