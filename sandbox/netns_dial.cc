#include "sandbox/netns_dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace crius::sandbox {
namespace {

absl::Status SetBlocking(int fd, bool blocking) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return ErrnoStatus("fcntl(F_GETFL)");
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, flags) != 0) return ErrnoStatus("fcntl(F_SETFL)");
  return absl::OkStatus();
}

absl::Status ConnectError(int err, int port) {
  const std::string what = absl::StrCat("connect to 127.0.0.1:", port);
  if (err == ECONNREFUSED) return absl::UnavailableError(absl::StrCat(what, ": connection refused"));
  return ErrnoStatus(err, what);
}

// Non-blocking connect bounded by `timeout`, so a filtered port cannot
// hold the caller for the kernel's minutes of SYN retries.
absl::StatusOr<UniqueFd> ConnectLoopback(int port, absl::Duration timeout) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoStatus("socket(AF_INET)");
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return ConnectError(errno, port);
    pollfd p = {fd.get(), POLLOUT, 0};
    int n;
    do {
      n = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoStatus("poll");
    if (n == 0) {
      return absl::UnavailableError(absl::StrCat("connect to 127.0.0.1:", port, ": timed out after ",
                                                 absl::FormatDuration(timeout)));
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      return ErrnoStatus("getsockopt(SO_ERROR)");
    }
    if (err != 0) return ConnectError(err, port);
  }
  RETURN_IF_ERROR(SetBlocking(fd.get(), true));
  return fd;
}

}  // namespace

absl::StatusOr<UniqueFd> DialInNetns(Os& os, const std::string& netns_path, int port,
                                     absl::Duration timeout) {
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port ", port));
  }
  if (netns_path.empty()) return ConnectLoopback(port, timeout);
  ASSIGN_OR_RETURN(UniqueFd ns, os.Open(netns_path, O_RDONLY, 0));
  absl::StatusOr<UniqueFd> result = absl::UnknownError("dial thread did not run");
  // The thread ends right after the connect, taking its namespace with it.
  std::thread dialer([&] {
    absl::Status entered = os.Setns(ns.get(), CLONE_NEWNET);
    if (!entered.ok()) {
      result = Annotate(entered, absl::StrCat("enter network namespace ", netns_path));
      return;
    }
    result = ConnectLoopback(port, timeout);
  });
  dialer.join();
  if (!result.ok()) {
    return Annotate(result.status(), absl::StrCat("in network namespace ", netns_path));
  }
  return result;
}

}  // namespace crius::sandbox
