#include "client/stream_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "streaming/client.h"
#include "streaming/remotecommand.h"
#include "streaming/spdy_session.h"
#include "streaming/transport.h"

namespace crius::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using streaming::SpdySession;

// Puts a terminal in raw mode for the life of the object, so keys reach the
// remote side unprocessed (Ctrl-C included), and restores it on every exit.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (!isatty(fd_) || tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// The size of whichever of stdin/stdout is a terminal; nothing otherwise.
bool CurrentTerminalSize(int in_fd, winsize& ws) {
  for (int fd : {in_fd, STDOUT_FILENO}) {
    if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      return true;
    }
  }
  return false;
}

std::string ResizeMessage(const winsize& ws) {
  return absl::StrCat("{\"Width\":", ws.ws_col, ",\"Height\":", ws.ws_row,
                      "}\n");
}

// Dials `url` and upgrades it to SPDY/3.1 offering `protocols`.
absl::StatusOr<streaming::UpgradeResult> Upgrade(
    tcp::socket& socket, const std::string& url,
    const std::vector<std::string>& protocols) {
  std::string extra = "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";
  for (const std::string& p : protocols) {
    absl::StrAppend(&extra, "X-Stream-Protocol-Version: ", p, "\r\n");
  }
  absl::StatusOr<streaming::UpgradeResult> up =
      streaming::DialUpgrade(socket, url, "POST", extra);
  if (!up.ok()) return up.status();
  if (up->status != 101) {
    return absl::FailedPreconditionError(
        absl::StrCat("streaming server refused the upgrade: HTTP ", up->status,
                     ": ", up->body));
  }
  return up;
}

// Reads stdin on its own thread (a blocking read on a tty or pipe cannot
// sit in the io_context) and hands each chunk to the session, waiting until
// it was written so a fast producer cannot queue unbounded memory. A pipe
// wakes it when the command ended before stdin did. The wait state is
// shared because the session may run its `done` callbacks after we left.
class StdinPump {
 public:
  StdinPump(asio::io_context& io, int fd, std::weak_ptr<SpdySession> session,
            uint32_t stream)
      : io_(io), fd_(fd), session_(std::move(session)), stream_(stream) {}
  ~StdinPump() { Stop(); }

  absl::Status Start() {
    if (pipe2(wake_, O_CLOEXEC) != 0) {
      return absl::InternalError("pipe for the stdin pump");
    }
    thread_ = std::thread([this] { Loop(); });
    return absl::OkStatus();
  }
  void Stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->stopping = true;
    }
    state_->cv.notify_all();
    (void)!write(wake_[1], "x", 1);
    thread_.join();
    close(wake_[0]);
    close(wake_[1]);
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t sent = 0;  // chunks whose `done` ran
    bool stopping = false;
  };

  void Loop() {
    char buf[16384];
    uint64_t posted = 0;
    while (true) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      // EOF or a read error both end our stdin for the remote side.
      bool eof = n <= 0;
      Post(eof ? "" : std::string(buf, n), eof);
      std::unique_lock<std::mutex> lock(state_->mu);
      ++posted;
      state_->cv.wait(
          lock, [&] { return state_->sent >= posted || state_->stopping; });
      if (state_->stopping || eof) return;
    }
  }

  void Post(std::string data, bool fin) {
    asio::post(io_, [state = state_, session = session_, stream = stream_,
                     data = std::move(data), fin]() mutable {
      auto finish = [state] {
        std::lock_guard<std::mutex> lock(state->mu);
        ++state->sent;
        state->cv.notify_all();
      };
      auto s = session.lock();
      if (!s || s->closed()) return finish();
      s->Send(stream, std::move(data), fin, finish);
    });
  }

  asio::io_context& io_;
  int fd_;
  std::weak_ptr<SpdySession> session_;
  uint32_t stream_;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

absl::StatusOr<int> ExitCodeFromErrorStream(int version,
                                            const std::string& payload) {
  if (version < streaming::kRemoteCommandV4) {
    if (payload.empty()) return 0;
    return absl::UnknownError(payload);
  }
  if (payload.empty()) {
    return absl::UnavailableError("the connection ended without an outcome");
  }
  nlohmann::json status = nlohmann::json::parse(payload, nullptr, false);
  if (status.is_discarded() || !status.is_object()) {
    return absl::UnknownError(payload);
  }
  if (status.value("status", "") == "Success") return 0;
  const nlohmann::json& details =
      status.contains("details") ? status["details"] : nlohmann::json::object();
  if (status.value("reason", "") == "NonZeroExitCode" && details.is_object() &&
      details.contains("causes") && details["causes"].is_array()) {
    for (const auto& cause : details["causes"]) {
      int code = 0;
      if (cause.is_object() && cause.value("reason", "") == "ExitCode" &&
          absl::SimpleAtoi(cause.value("message", ""), &code)) {
        return code;
      }
    }
  }
  return absl::UnknownError(status.value("message", payload));
}

absl::StatusOr<int> RunRemoteCommand(const std::string& url,
                                     const RemoteCommandIo& rio) {
  asio::io_context io(1);
  tcp::socket socket(io);
  absl::StatusOr<streaming::UpgradeResult> up =
      Upgrade(socket, url,
              {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
               "channel.k8s.io"});
  if (!up.ok()) return up.status();
  int version = streaming::RemoteCommandVersion(up->protocol);

  std::map<uint32_t, std::ostream*> sinks;
  uint32_t error_id = 0;
  std::string error_text;
  absl::Status closed_status;
  bool closed = false;
  asio::signal_set winch(io);
  std::weak_ptr<SpdySession> weak;
  SpdySession::Callbacks cb;
  cb.on_data = [&](uint32_t id, std::string data) {
    if (id == error_id) {
      error_text += data;
    } else if (auto it = sinks.find(id); it != sinks.end()) {
      it->second->write(data.data(), data.size());
      it->second->flush();
    }
    if (auto s = weak.lock()) s->Consumed(id, data.size());
  };
  cb.on_closed = [&](const absl::Status& s) {
    closed = true;
    closed_status = s;
    winch.cancel();
  };
  auto session =
      SpdySession::Create(streaming::MakeTcpTransport(std::move(socket)),
                          SpdySession::Role::kClient, std::move(cb));
  weak = session;
  session->Start(up->leftover);
  auto open = [&](const char* type) {
    return session->OpenStream({{"streamtype", type}});
  };
  // The error stream first, as client-go does.
  absl::StatusOr<uint32_t> id = open("error");
  if (!id.ok()) return id.status();
  error_id = *id;
  std::unique_ptr<StdinPump> pump;
  if (rio.stdin) {
    if (!(id = open("stdin")).ok()) return id.status();
    pump = std::make_unique<StdinPump>(io, rio.in_fd, weak, *id);
  }
  if (!(id = open("stdout")).ok()) return id.status();
  sinks[*id] = rio.out;
  if (!rio.tty) {
    if (!(id = open("stderr")).ok()) return id.status();
    sinks[*id] = rio.err;
  }
  winsize ws{};
  std::function<void(const boost::system::error_code&, int)> on_winch;
  // With a tty the server waits for the resize stream (client-go always
  // opens it), even when we have no local terminal size to send.
  if (rio.tty && version >= 3) {
    if (!(id = open("resize")).ok()) return id.status();
    uint32_t resize_id = *id;
    if (CurrentTerminalSize(rio.in_fd, ws)) {
      session->Send(resize_id, ResizeMessage(ws), false);
    }
    winch.add(SIGWINCH);
    on_winch = [&, resize_id](const boost::system::error_code& ec, int) {
      if (ec || session->closed()) return;
      winsize now{};
      if (CurrentTerminalSize(rio.in_fd, now)) {
        session->Send(resize_id, ResizeMessage(now), false);
      }
      winch.async_wait(on_winch);
    };
    winch.async_wait(on_winch);
  }
  // Raw only once connected, so connection errors print on a sane terminal.
  std::unique_ptr<RawTerminal> raw;
  if (rio.tty && rio.stdin) raw = std::make_unique<RawTerminal>(rio.in_fd);
  if (pump) {
    if (absl::Status s = pump->Start(); !s.ok()) return s;
  }
  io.run();
  if (pump) pump->Stop();
  raw.reset();
  if (!closed) return absl::InternalError("the session loop ended early");
  absl::StatusOr<int> code = ExitCodeFromErrorStream(version, error_text);
  if (!code.ok() && error_text.empty() && !closed_status.ok()) {
    return closed_status;
  }
  return code;
}

}  // namespace crius::client
