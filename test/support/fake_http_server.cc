#include "test/support/fake_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace crius::testing {
namespace {

constexpr size_t kMaxRequest = size_t{64} << 20;

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Status";
  }
}

}  // namespace

std::string FakeRequest::Query(const std::string& name) const {
  size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::string_view rest = std::string_view(target).substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return "";
}

absl::StatusOr<std::unique_ptr<FakeHttpServer>> FakeHttpServer::Start(Handler handler,
                                                                      const std::string& address) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("bad address " + address);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus("bind " + address);
  }
  if (::listen(fd.get(), 64) != 0) return ErrnoStatus("listen");
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return ErrnoStatus("getsockname");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  std::unique_ptr<FakeHttpServer> server(new FakeHttpServer(std::move(handler), address, std::move(fd),
                                                            ntohs(addr.sin_port), UniqueFd(pipefd[0]),
                                                            UniqueFd(pipefd[1])));
  server->acceptor_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

FakeHttpServer::FakeHttpServer(Handler handler, std::string address, UniqueFd listen_fd, int port,
                               UniqueFd stop_r, UniqueFd stop_w)
    : handler_(std::move(handler)),
      address_(std::move(address)),
      listen_fd_(std::move(listen_fd)),
      port_(port),
      stop_r_(std::move(stop_r)),
      stop_w_(std::move(stop_w)) {}

FakeHttpServer::~FakeHttpServer() {
  stop_w_.reset();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

bool FakeHttpServer::WaitReadable(int fd) const {
  pollfd fds[2] = {{fd, POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
  while (true) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents != 0)) return false;
    if (fds[0].revents != 0) return true;
  }
}

void FakeHttpServer::AcceptLoop() {
  while (WaitReadable(listen_fd_.get())) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    absl::MutexLock lock(&mu_);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeHttpServer::Serve(int raw_fd) {
  UniqueFd fd(raw_fd);
  std::string buf;
  char chunk[65536];
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  FakeRequest req;
  // Read the head, then as much body as Content-Length announces.
  while (true) {
    if (header_end != std::string::npos && buf.size() >= header_end + 4 + content_length) break;
    if (!WaitReadable(fd.get())) return;
    ssize_t n = ::recv(fd.get(), chunk, sizeof(chunk), 0);
    if (n <= 0) return;
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.size() > kMaxRequest) return;
    if (header_end == std::string::npos && (header_end = buf.find("\r\n\r\n")) != std::string::npos) {
      std::string_view head(buf.data(), header_end);
      size_t line_end = head.find("\r\n");
      std::string_view request_line = head.substr(0, line_end);
      size_t sp1 = request_line.find(' ');
      size_t sp2 = request_line.find(' ', sp1 + 1);
      req.method = std::string(request_line.substr(0, sp1));
      req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
      req.path = req.target.substr(0, req.target.find('?'));
      std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
      while (!rest.empty()) {
        size_t e = rest.find("\r\n");
        std::string_view line = rest.substr(0, e);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
          std::string name = absl::AsciiStrToLower(std::string(line.substr(0, colon)));
          req.headers[name] = std::string(absl::StripAsciiWhitespace(std::string(line.substr(colon + 1))));
        }
        if (e == std::string_view::npos) break;
        rest.remove_prefix(e + 2);
      }
      if (!absl::SimpleAtoi(req.Header("content-length"), &content_length)) content_length = 0;
    }
  }
  req.body = buf.substr(header_end + 4, content_length);
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(req);
  }
  FakeResponse resp = handler_(req);
  if (resp.mode == FakeResponse::Mode::kStallBeforeHeaders) {
    while (WaitReadable(fd.get())) {
      if (::recv(fd.get(), chunk, sizeof(chunk), 0) <= 0) return;
    }
    return;
  }
  const bool short_body = resp.mode == FakeResponse::Mode::kStallAfterHeaders ||
                          resp.mode == FakeResponse::Mode::kCutAfterBody;
  size_t length = short_body ? resp.promised_length : resp.body.size();
  std::string out = absl::StrCat("HTTP/1.1 ", resp.status, " ", Reason(resp.status), "\r\n");
  for (const auto& [name, value] : resp.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
  absl::StrAppend(&out, "Content-Length: ", length, "\r\nConnection: close\r\n\r\n");
  if (req.method != "HEAD") out += resp.body;
  if (!SendAll(fd.get(), out)) return;
  if (resp.mode == FakeResponse::Mode::kCutAfterBody) return;  // closed short of the promise
  if (resp.mode == FakeResponse::Mode::kStallAfterHeaders) {
    while (WaitReadable(fd.get())) {
      if (::recv(fd.get(), chunk, sizeof(chunk), 0) <= 0) return;
    }
    return;
  }
  ::shutdown(fd.get(), SHUT_WR);
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

size_t FakeHttpServer::request_count() const {
  absl::MutexLock lock(&mu_);
  return requests_.size();
}

}  // namespace crius::testing
