#include "client/stream_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "streaming/remotecommand.h"

namespace crius::client {
namespace {

namespace asio = boost::asio;

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

// Reads stdin on its own thread (a blocking read on a tty or pipe cannot
// sit in the io_context) and hands each chunk to the session, waiting until
// it was written so a fast producer cannot queue unbounded memory. A pipe
// wakes it when the command ended before stdin did. The wait state is
// shared because the session may run its `done` callbacks after we left.
class StdinPump {
 public:
  StdinPump(asio::io_context& io, int fd, std::weak_ptr<RemoteCommandConnection> conn)
      : io_(io), fd_(fd), conn_(std::move(conn)) {}
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
    asio::post(io_, [state = state_, conn = conn_, data = std::move(data), fin]() mutable {
      auto finish = [state] {
        std::lock_guard<std::mutex> lock(state->mu);
        ++state->sent;
        state->cv.notify_all();
      };
      auto c = conn.lock();
      if (!c || c->closed()) return finish();
      c->SendStdin(std::move(data), fin, finish);
    });
  }

  asio::io_context& io_;
  int fd_;
  std::weak_ptr<RemoteCommandConnection> conn_;
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

absl::StatusOr<int> RunRemoteCommand(const std::string& url, const RemoteCommandIo& rio) {
  asio::io_context io(1);
  std::string error_text;
  absl::Status closed_status;
  bool closed = false;
  asio::signal_set winch(io);
  RemoteCommandConnection::Callbacks cb;
  cb.on_output = [&](RemoteCommandConnection::Output which, std::string data) {
    if (which == RemoteCommandConnection::Output::kError) {
      error_text += data;
      return;
    }
    std::ostream* sink = which == RemoteCommandConnection::Output::kStdout ? rio.out : rio.err;
    if (sink == nullptr) return;
    sink->write(data.data(), data.size());
    sink->flush();
  };
  cb.on_closed = [&](const absl::Status& s) {
    closed = true;
    closed_status = s;
    winch.cancel();
  };
  absl::StatusOr<std::shared_ptr<RemoteCommandConnection>> connected = ConnectRemoteCommand(
      io, rio.transport, url, {.stdin = rio.stdin, .tty = rio.tty}, std::move(cb));
  if (!connected.ok()) return connected.status();
  std::shared_ptr<RemoteCommandConnection> conn = std::move(*connected);
  int version = conn->version();
  std::unique_ptr<StdinPump> pump;
  if (rio.stdin) pump = std::make_unique<StdinPump>(io, rio.in_fd, conn);
  std::function<void(const boost::system::error_code&, int)> on_winch;
  if (rio.tty) {
    winsize ws{};
    if (CurrentTerminalSize(rio.in_fd, ws)) conn->SendResize(ResizeMessage(ws));
    winch.add(SIGWINCH);
    on_winch = [&](const boost::system::error_code& ec, int) {
      if (ec || conn->closed()) return;
      winsize now{};
      if (CurrentTerminalSize(rio.in_fd, now)) conn->SendResize(ResizeMessage(now));
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
