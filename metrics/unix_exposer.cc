#include "metrics/unix_exposer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace crius::metrics {
namespace {

constexpr int kRequestTimeoutMs = 5000;
constexpr size_t kMaxRequest = 8192;

void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the scraper went away
    off += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixExposer>> UnixExposer::Start(const std::string& path,
                                                                std::function<std::string()> render) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("metrics socket path \"", path, "\" is empty or too long"));
  }
  std::unique_ptr<UnixExposer> e(new UnixExposer(path, std::move(render)));
  e->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!e->listen_fd_.valid()) return ErrnoStatus("metrics: socket");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const mode_t old = ::umask(0117);
  const int rc = ::bind(e->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0) return ErrnoStatus(absl::StrCat("metrics: bind ", path));
  if (::listen(e->listen_fd_.get(), 16) != 0) return ErrnoStatus(absl::StrCat("metrics: listen ", path));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus("metrics: pipe");
  e->stop_read_.reset(pipe_fds[0]);
  e->stop_write_.reset(pipe_fds[1]);
  e->thread_ = std::thread([raw = e.get()] { raw->Loop(); });
  return e;
}

UnixExposer::~UnixExposer() {
  if (thread_.joinable()) {
    (void)::write(stop_write_.get(), "x", 1);
    thread_.join();
  }
  ::unlink(path_.c_str());
}

void UnixExposer::Loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    UniqueFd conn(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.valid()) Serve(conn.get());
  }
}

// One scraper at a time is plenty: Prometheus scrapes a target serially.
void UnixExposer::Serve(int fd) {
  std::string request;
  char buf[1024];
  while (request.size() < kMaxRequest && !absl::StrContains(request, "\r\n\r\n")) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kRequestTimeoutMs) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    request.append(buf, static_cast<size_t>(n));
  }
  const bool metrics = absl::StartsWith(request, "GET /metrics ") || absl::StartsWith(request, "GET /metrics?");
  if (!metrics) {
    WriteAll(fd, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  const std::string body = render_();
  WriteAll(fd, absl::StrCat("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ",
                            body.size(), "\r\nConnection: close\r\n\r\n", body));
}

}  // namespace crius::metrics
