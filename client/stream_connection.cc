#include "client/stream_connection.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "streaming/client.h"
#include "streaming/remotecommand.h"
#include "streaming/spdy_session.h"
#include "streaming/transport.h"
#include "streaming/ws_connection.h"

namespace crius::client {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using streaming::SpdySession;
using streaming::WsConnection;
namespace ws = streaming::ws;

constexpr uint32_t kSpdyCancel = 5;  // RST_STREAM status CANCEL

// The WebSocket channels of remotecommand (one byte before each message).
constexpr uint8_t kStdinChannel = 0, kStdoutChannel = 1, kStderrChannel = 2, kErrorChannel = 3,
                  kResizeChannel = 4, kCloseChannel = 255;

std::string ChannelMessage(uint8_t channel, std::string_view data) {
  std::string m(1, static_cast<char>(channel));
  m.append(data);
  return m;
}

// Dials `url` and upgrades it to SPDY/3.1 offering `protocols`.
absl::StatusOr<streaming::UpgradeResult> UpgradeSpdy(tcp::socket& socket, const std::string& url,
                                                     const std::vector<std::string>& protocols) {
  std::string extra = "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";
  for (const std::string& p : protocols) {
    absl::StrAppend(&extra, "X-Stream-Protocol-Version: ", p, "\r\n");
  }
  absl::StatusOr<streaming::UpgradeResult> up = streaming::DialUpgrade(socket, url, "POST", extra);
  if (!up.ok()) return up.status();
  if (up->status != 101) {
    return absl::FailedPreconditionError(
        absl::StrCat("streaming server refused the upgrade: HTTP ", up->status, ": ", up->body));
  }
  return up;
}

class SpdyRemoteCommand : public RemoteCommandConnection,
                          public std::enable_shared_from_this<SpdyRemoteCommand> {
 public:
  SpdyRemoteCommand(int version, Callbacks cb) : version_(version), cb_(std::move(cb)) {}

  absl::Status Start(tcp::socket socket, std::string leftover, Streams streams) {
    std::weak_ptr<SpdyRemoteCommand> weak = shared_from_this();
    SpdySession::Callbacks scb;
    scb.on_data = [weak](uint32_t id, std::string data) {
      if (auto self = weak.lock()) self->OnData(id, std::move(data));
    };
    scb.on_closed = [weak](const absl::Status& s) {
      if (auto self = weak.lock(); self && self->cb_.on_closed) self->cb_.on_closed(s);
    };
    session_ = SpdySession::Create(streaming::MakeTcpTransport(std::move(socket)),
                                   SpdySession::Role::kClient, std::move(scb));
    session_->Start(std::move(leftover));
    // The error stream first, as client-go does.
    absl::Status s = Open("error", Output::kError);
    if (s.ok() && streams.stdin) s = Open("stdin", std::nullopt, &stdin_id_);
    if (s.ok()) s = Open("stdout", Output::kStdout);
    if (s.ok() && !streams.tty) s = Open("stderr", Output::kStderr);
    // With a tty the server waits for the resize stream (client-go always
    // opens it), even when there is no local terminal size to send.
    if (s.ok() && streams.tty && version_ >= 3) s = Open("resize", std::nullopt, &resize_id_);
    return s;
  }

  int version() const override { return version_; }
  void SendStdin(std::string data, bool fin, std::function<void()> done) override {
    session_->Send(stdin_id_, std::move(data), fin, std::move(done));
  }
  void SendResize(std::string message) override {
    if (resize_id_ != 0) session_->Send(resize_id_, std::move(message), false);
  }
  bool closed() const override { return session_->closed(); }

 private:
  absl::Status Open(const char* type, std::optional<Output> output, uint32_t* id_out = nullptr) {
    absl::StatusOr<uint32_t> id = session_->OpenStream({{"streamtype", type}});
    if (!id.ok()) return id.status();
    if (output) outputs_[*id] = *output;
    if (id_out) *id_out = *id;
    return absl::OkStatus();
  }

  void OnData(uint32_t id, std::string data) {
    size_t n = data.size();
    if (auto it = outputs_.find(id); it != outputs_.end() && cb_.on_output) {
      cb_.on_output(it->second, std::move(data));
    }
    session_->Consumed(id, n);
  }

  const int version_;
  Callbacks cb_;
  std::shared_ptr<SpdySession> session_;
  std::map<uint32_t, Output> outputs_;
  uint32_t stdin_id_ = 0;
  uint32_t resize_id_ = 0;
};

// remotecommand over WebSocket: every stream is a channel of one
// connection, opened implicitly by the request's stdin/stdout/stderr/tty.
class WsRemoteCommand : public RemoteCommandConnection,
                        public std::enable_shared_from_this<WsRemoteCommand> {
 public:
  WsRemoteCommand(int version, bool tty, Callbacks cb)
      : version_(version), tty_(tty), cb_(std::move(cb)) {}

  void Start(tcp::socket socket, std::string leftover) {
    std::weak_ptr<WsRemoteCommand> weak = shared_from_this();
    WsConnection::Callbacks wcb;
    wcb.on_message = [weak](ws::Opcode, std::string msg, std::function<void()> consumed) {
      if (auto self = weak.lock()) self->OnMessage(std::move(msg));
      consumed();
    };
    wcb.on_closed = [weak](const absl::Status& s) {
      if (auto self = weak.lock(); self && self->cb_.on_closed) self->cb_.on_closed(s);
    };
    conn_ = WsConnection::Create(streaming::MakeTcpTransport(std::move(socket)), std::move(wcb),
                                 WsConnection::Role::kClient);
    conn_->Start(std::move(leftover));
  }

  int version() const override { return version_; }
  void SendStdin(std::string data, bool fin, std::function<void()> done) override {
    // An empty message would carry nothing; the close signal ends stdin.
    if (!data.empty()) {
      conn_->Send(ws::kBinary, ChannelMessage(kStdinChannel, data), fin ? nullptr : done);
    }
    if (!fin) {
      if (data.empty() && done) done();
      return;
    }
    if (version_ >= streaming::kRemoteCommandV5) {
      conn_->Send(ws::kBinary, std::string{static_cast<char>(kCloseChannel), kStdinChannel},
                  std::move(done));
    } else if (done) {
      done();  // v4 and older cannot say it: the remote stdin stays open
    }
  }
  void SendResize(std::string message) override {
    if (tty_) conn_->Send(ws::kBinary, ChannelMessage(kResizeChannel, message));
  }
  bool closed() const override { return conn_->closed(); }

 private:
  void OnMessage(std::string msg) {
    if (msg.empty() || !cb_.on_output) return;
    std::optional<Output> out;
    switch (static_cast<uint8_t>(msg[0])) {
      case kStdoutChannel:
        out = Output::kStdout;
        break;
      case kStderrChannel:
        out = Output::kStderr;
        break;
      case kErrorChannel:
        out = Output::kError;
        break;
      default:
        return;  // the v5 close signal of an output stream: nothing to do
    }
    if (msg.size() > 1) cb_.on_output(*out, msg.substr(1));
  }

  const int version_;
  const bool tty_;
  Callbacks cb_;
  std::shared_ptr<WsConnection> conn_;
};

// ---------------------------------------------------------------------------
// port-forward

// Every tunnel on one SPDY session, a pair of streams (error, data) each,
// told apart by the requestid header as kubectl does. The stream ids route
// the session's callbacks to the tunnels.
class SpdyTunnels : public PortTunnels {
 public:
  class Tunnel;
  struct Routes {
    std::shared_ptr<SpdySession> session;
    std::map<uint32_t, Tunnel*> by_id;  // both stream ids of each open tunnel
  };

  class Tunnel : public PortTunnel {
   public:
    Tunnel(std::weak_ptr<Routes> routes, Callbacks cb) : routes_(routes), cb_(std::move(cb)) {}
    ~Tunnel() override { Forget(); }
    void Send(std::string data, std::function<void()> done) override {
      if (auto r = routes_.lock()) return r->session->Send(data_id_, std::move(data), false, done);
      if (done) done();
    }
    void FinishSending() override {
      local_fin_ = true;
      if (auto r = routes_.lock()) r->session->Send(data_id_, "", true);
    }
    void Consumed(size_t n) override {
      if (auto r = routes_.lock()) r->session->Consumed(data_id_, n);
    }
    void Reset() override {
      // A stream that ended both ways, or that the peer reset, needs no RST.
      bool open = registered_ && !(local_fin_ && remote_fin_);
      if (auto r = routes_.lock(); r && open && !r->session->closed()) {
        r->session->Reset(data_id_, kSpdyCancel);
      }
      Forget();
    }
    void Register(uint32_t error_id, uint32_t data_id) {
      error_id_ = error_id, data_id_ = data_id;
      if (auto r = routes_.lock()) r->by_id[error_id] = this, r->by_id[data_id] = this;
      registered_ = true;
    }

    // Session events of either stream.
    void OnData(uint32_t id, std::string data) {
      if (id == data_id_) return cb_.on_data(std::move(data));  // Consumed once written locally
      if (auto r = routes_.lock()) r->session->Consumed(id, data.size());
      cb_.on_error(std::move(data));
    }
    void OnFin(uint32_t id) {
      if (id != data_id_) return;
      remote_fin_ = true;
      cb_.on_fin();
    }
    void OnReset() {
      Forget();
      cb_.on_reset();
    }

   private:
    void Forget() {
      if (!registered_) return;
      registered_ = false;
      if (auto r = routes_.lock()) r->by_id.erase(error_id_), r->by_id.erase(data_id_);
    }
    std::weak_ptr<Routes> routes_;
    Callbacks cb_;
    uint32_t error_id_ = 0, data_id_ = 0;
    bool registered_ = false;
    bool local_fin_ = false;
    bool remote_fin_ = false;
  };

  SpdyTunnels(int remote_port, std::function<void(const absl::Status&)> on_lost)
      : port_(std::to_string(remote_port)), on_lost_(std::move(on_lost)) {}

  void Start(tcp::socket socket, std::string leftover) {
    std::weak_ptr<Routes> weak = routes_;
    auto find = [weak](uint32_t id) -> Tunnel* {
      auto r = weak.lock();
      if (!r) return nullptr;
      auto it = r->by_id.find(id);
      return it == r->by_id.end() ? nullptr : it->second;
    };
    SpdySession::Callbacks cb;
    cb.on_data = [weak, find](uint32_t id, std::string data) {
      if (Tunnel* t = find(id)) return t->OnData(id, std::move(data));
      if (auto r = weak.lock()) r->session->Consumed(id, data.size());
    };
    cb.on_fin = [find](uint32_t id) {
      if (Tunnel* t = find(id)) t->OnFin(id);
    };
    cb.on_reset = [find](uint32_t id, uint32_t) {
      if (Tunnel* t = find(id)) t->OnReset();
    };
    cb.on_closed = [weak, on_lost = on_lost_](const absl::Status& s) {
      if (auto r = weak.lock()) {
        while (!r->by_id.empty()) r->by_id.begin()->second->OnReset();
      }
      if (on_lost) on_lost(s);
    };
    routes_->session = SpdySession::Create(streaming::MakeTcpTransport(std::move(socket)),
                                           SpdySession::Role::kClient, std::move(cb));
    routes_->session->Start(std::move(leftover));
  }

  absl::StatusOr<std::unique_ptr<PortTunnel>> Open(PortTunnel::Callbacks cb) override {
    std::string request = std::to_string(next_request_++);
    auto& session = routes_->session;
    absl::StatusOr<uint32_t> error_id =
        session->OpenStream({{"streamtype", "error"}, {"port", port_}, {"requestid", request}});
    if (!error_id.ok()) return error_id.status();
    absl::StatusOr<uint32_t> data_id =
        session->OpenStream({{"streamtype", "data"}, {"port", port_}, {"requestid", request}});
    if (!data_id.ok()) return data_id.status();
    auto tunnel = std::make_unique<Tunnel>(routes_, std::move(cb));
    tunnel->Register(*error_id, *data_id);
    return tunnel;
  }

  void Shutdown() override {
    if (!routes_->session->closed()) routes_->session->Close();
  }

 private:
  std::string port_;
  std::function<void(const absl::Status&)> on_lost_;
  std::shared_ptr<Routes> routes_ = std::make_shared<Routes>();
  uint64_t next_request_ = 0;
};

// Port-forward over WebSocket: channel 0 carries the port's data, channel 1
// its errors, each opened by the port as 2 bytes little-endian. A channel
// cannot end alone, so a tunnel is a whole connection, ended by the server
// when the pod closes its side.
class WsTunnel : public PortTunnel, public std::enable_shared_from_this<WsTunnel> {
 public:
  explicit WsTunnel(Callbacks cb) : cb_(std::move(cb)) {}

  void Start(tcp::socket socket, std::string leftover) {
    std::weak_ptr<WsTunnel> weak = shared_from_this();
    WsConnection::Callbacks wcb;
    wcb.on_message = [weak](ws::Opcode, std::string msg, std::function<void()> consumed) {
      auto self = weak.lock();
      if (!self) return consumed();
      self->OnMessage(std::move(msg), std::move(consumed));
    };
    wcb.on_closed = [weak](const absl::Status& s) {
      auto self = weak.lock();
      if (!self || self->reset_) return;
      self->reset_ = true;
      if (s.ok()) {
        self->cb_.on_fin();
      } else {
        self->cb_.on_reset();
      }
    };
    conn_ = WsConnection::Create(streaming::MakeTcpTransport(std::move(socket)), std::move(wcb),
                                 WsConnection::Role::kClient);
    conn_->Start(std::move(leftover));
  }

  void Send(std::string data, std::function<void()> done) override {
    if (data.empty()) {
      if (done) done();
      return;
    }
    conn_->Send(ws::kBinary, ChannelMessage(0, data), std::move(done));
  }
  void FinishSending() override {}
  void Consumed(size_t n) override {
    // Messages are acknowledged to the connection as they leave locally, in
    // order (one write outstanding per tunnel).
    while (n > 0 && !unconsumed_.empty()) {
      auto& [left, consumed] = unconsumed_.front();
      size_t take = std::min(n, left);
      left -= take, n -= take;
      if (left == 0) {
        auto done = std::move(consumed);
        unconsumed_.pop_front();
        done();
      }
    }
  }
  void Reset() override {
    reset_ = true;
    unconsumed_.clear();
    if (conn_) conn_->Abort(absl::CancelledError("port-forward connection closed"));
  }

 private:
  void OnMessage(std::string msg, std::function<void()> consumed) {
    if (msg.empty() || reset_) return consumed();
    uint8_t channel = static_cast<uint8_t>(msg[0]);
    std::string payload = msg.substr(1);
    // The first message of each channel is the port it belongs to.
    if (channel <= 1 && !prefix_seen_[channel]) {
      prefix_seen_[channel] = true;
      payload.erase(0, std::min<size_t>(2, payload.size()));
    }
    if (payload.empty() || channel > 1) return consumed();
    if (channel == 1) {
      cb_.on_error(std::move(payload));
      return consumed();
    }
    unconsumed_.emplace_back(payload.size(), std::move(consumed));
    cb_.on_data(std::move(payload));
  }

  Callbacks cb_;
  std::shared_ptr<WsConnection> conn_;
  std::deque<std::pair<size_t, std::function<void()>>> unconsumed_;
  bool prefix_seen_[2] = {false, false};
  bool reset_ = false;
};

const std::vector<std::string> kWsPortForwardProtocols = {"portforward.k8s.io",
                                                          "v4.channel.k8s.io"};

// Owns nothing but the way to the next URL: each Open dials a connection.
class WsTunnels : public PortTunnels {
 public:
  WsTunnels(asio::io_context& io, PortTunnelTarget target) : io_(io), target_(std::move(target)) {}

  absl::StatusOr<std::unique_ptr<PortTunnel>> Open(PortTunnel::Callbacks cb) override {
    if (shut_down_) return absl::CancelledError("port-forward is stopping");
    tcp::socket socket(io_);
    absl::StatusOr<streaming::UpgradeResult> up = absl::UnavailableError("not dialled");
    // The URL from the first RPC serves the first connection, unless its
    // token expired while nobody connected; then, and for every further
    // connection, a fresh one.
    if (!first_used_) {
      first_used_ = true;
      up = streaming::DialWebSocket(socket, target_.url, kWsPortForwardProtocols);
    }
    if (!up.ok() && target_.next_url) {
      absl::StatusOr<std::string> url = target_.next_url();
      if (!url.ok()) return url.status();
      boost::system::error_code ignored;
      socket.close(ignored);
      up = streaming::DialWebSocket(socket, *url, kWsPortForwardProtocols);
    }
    if (!up.ok()) return up.status();
    auto tunnel = std::make_shared<WsTunnel>(std::move(cb));
    tunnel->Start(std::move(socket), std::move(up->leftover));
    open_.push_back(tunnel);
    return std::unique_ptr<PortTunnel>(new Handle(tunnel));
  }

  void Shutdown() override {
    shut_down_ = true;
    for (auto& weak : open_) {
      if (auto t = weak.lock()) t->Reset();
    }
    open_.clear();
  }

 private:
  // The tunnel is shared with its connection's callbacks; the caller owns
  // it through this handle.
  class Handle : public PortTunnel {
   public:
    explicit Handle(std::shared_ptr<WsTunnel> t) : t_(std::move(t)) {}
    ~Handle() override { t_->Reset(); }
    void Send(std::string data, std::function<void()> done) override {
      t_->Send(std::move(data), std::move(done));
    }
    void FinishSending() override { t_->FinishSending(); }
    void Consumed(size_t n) override { t_->Consumed(n); }
    void Reset() override { t_->Reset(); }

   private:
    std::shared_ptr<WsTunnel> t_;
  };

  asio::io_context& io_;
  PortTunnelTarget target_;
  std::vector<std::weak_ptr<WsTunnel>> open_;
  bool first_used_ = false;
  bool shut_down_ = false;
};

}  // namespace

absl::StatusOr<StreamTransport> ParseStreamTransport(std::string_view name) {
  if (name == "spdy") return StreamTransport::kSpdy;
  if (name == "websocket") return StreamTransport::kWebSocket;
  return absl::InvalidArgumentError(
      absl::StrCat("--transport is spdy or websocket, not \"", std::string(name), "\""));
}

absl::StatusOr<std::shared_ptr<RemoteCommandConnection>> ConnectRemoteCommand(
    asio::io_context& io, StreamTransport transport, const std::string& url,
    RemoteCommandConnection::Streams streams, RemoteCommandConnection::Callbacks cb) {
  tcp::socket socket(io);
  if (transport == StreamTransport::kSpdy) {
    absl::StatusOr<streaming::UpgradeResult> up = UpgradeSpdy(
        socket, url,
        {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"});
    if (!up.ok()) return up.status();
    auto c = std::make_shared<SpdyRemoteCommand>(streaming::RemoteCommandVersion(up->protocol),
                                                 std::move(cb));
    if (absl::Status s = c->Start(std::move(socket), std::move(up->leftover), streams); !s.ok()) {
      return s;
    }
    return c;
  }
  // v5 first: only it can end stdin while the command runs.
  absl::StatusOr<streaming::UpgradeResult> up = streaming::DialWebSocket(
      socket, url, {"v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"});
  if (!up.ok()) return up.status();
  auto c = std::make_shared<WsRemoteCommand>(streaming::RemoteCommandVersion(up->protocol),
                                             streams.tty, std::move(cb));
  c->Start(std::move(socket), std::move(up->leftover));
  return c;
}

absl::StatusOr<std::unique_ptr<PortTunnels>> ConnectPortTunnels(
    asio::io_context& io, PortTunnelTarget target,
    std::function<void(const absl::Status&)> on_lost) {
  if (target.transport == StreamTransport::kWebSocket) {
    return std::make_unique<WsTunnels>(io, std::move(target));
  }
  tcp::socket socket(io);
  absl::StatusOr<streaming::UpgradeResult> up =
      UpgradeSpdy(socket, target.url, {"portforward.k8s.io"});
  if (!up.ok()) return up.status();
  auto tunnels = std::make_unique<SpdyTunnels>(target.remote_port, std::move(on_lost));
  tunnels->Start(std::move(socket), std::move(up->leftover));
  return tunnels;
}

}  // namespace crius::client
