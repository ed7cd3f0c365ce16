#include "streaming/ws_handlers.h"

#include <fcntl.h>

#include <boost/asio/post.hpp>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "streaming/pump.h"
#include "streaming/remotecommand.h"
#include "streaming/ws_connection.h"
#include "streaming/ws_frame.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

constexpr uint8_t kStdin = 0, kStdout = 1, kStderr = 2, kError = 3, kResize = 4;
constexpr uint8_t kCloseSignal = 255;  // v5: [255, n] ends channel n

// The channel framing of one negotiated subprotocol.
struct Codec {
  bool base64 = false;

  std::pair<ws::Opcode, std::string> Encode(uint8_t channel, std::string_view data) const {
    if (!base64) {
      std::string m(1, static_cast<char>(channel));
      m.append(data);
      return {ws::kBinary, std::move(m)};
    }
    std::string m(1, static_cast<char>('0' + channel));
    m.append(absl::Base64Escape(AbslView(data)));
    return {ws::kText, std::move(m)};
  }

  // The channel and payload of a client message; false when malformed.
  bool Decode(std::string_view msg, uint8_t& channel, std::string& payload) const {
    if (msg.empty()) return false;
    channel = static_cast<uint8_t>(msg.front());
    if (!base64) {
      payload = std::string(msg.substr(1));
      return true;
    }
    channel = static_cast<uint8_t>(channel - '0');
    std::string decoded;
    if (!absl::Base64Unescape(AbslView(msg.substr(1)), &decoded)) return false;
    payload = std::move(decoded);
    return true;
  }
};

class WsOutStream : public OutStream {
 public:
  WsOutStream(std::weak_ptr<WsConnection> conn, Codec codec, uint8_t channel, bool close_signal)
      : conn_(std::move(conn)), codec_(codec), channel_(channel), close_signal_(close_signal) {}
  void Write(std::string data, std::function<void()> done) override {
    auto c = conn_.lock();
    if (!c) {
      if (done) done();
      return;
    }
    auto [op, msg] = codec_.Encode(channel_, data);
    c->Send(op, std::move(msg), std::move(done));
  }
  void Close() override {
    if (!close_signal_) return;  // before v5 a channel cannot end on its own
    if (auto c = conn_.lock()) {
      c->Send(ws::kBinary,
              std::string{static_cast<char>(kCloseSignal), static_cast<char>(channel_)});
    }
  }

 private:
  std::weak_ptr<WsConnection> conn_;
  Codec codec_;
  uint8_t channel_;
  bool close_signal_;
};

void StartWsRemoteCommand(const HandlerContext& ctx, PendingRequest req, std::string protocol,
                          std::unique_ptr<Transport> transport, std::string initial) {
  auto ex = transport->executor();
  Codec codec{absl::StrContains(protocol, "base64")};
  int version = absl::StartsWith(protocol, "v5.")   ? kRemoteCommandV5
                : absl::StartsWith(protocol, "v4.") ? kRemoteCommandV4
                                                    : kRemoteCommandV1;
  bool in, out, err, tty;
  if (req.kind == RequestKind::kExec) {
    in = req.exec.stdin(), out = req.exec.stdout(), err = req.exec.stderr(), tty = req.exec.tty();
  } else {
    in = req.attach.stdin(), out = req.attach.stdout(), err = req.attach.stderr();
    tty = req.attach.tty();
  }
  // Filled in below; the callbacks reach the command through it.
  auto cmd_slot = std::make_shared<std::shared_ptr<RemoteCommandSession>>();
  WsConnection::Callbacks cb;
  cb.on_message = [cmd_slot, codec, version](ws::Opcode, std::string msg,
                                             std::function<void()> consumed) {
    uint8_t channel;
    std::string payload;
    auto& cmd = *cmd_slot;
    if (!cmd || !codec.Decode(msg, channel, payload)) return consumed();
    if (channel == kStdin) {
      if (payload.empty()) return consumed();
      return cmd->OnStdin(std::move(payload), std::move(consumed));
    }
    if (channel == kResize) cmd->OnResize(payload);
    if (version >= kRemoteCommandV5 && channel == kCloseSignal && !payload.empty() &&
        static_cast<uint8_t>(payload[0]) == kStdin) {
      cmd->OnStdinEof();
    }
    consumed();
  };
  cb.on_closed = [cmd_slot](const absl::Status&) {
    if (*cmd_slot) (*cmd_slot)->Cancel();
    cmd_slot->reset();
  };
  auto conn = WsConnection::Create(std::move(transport), std::move(cb));
  conn->SetIdleTimeout(ctx.idle_timeout);
  bool signal = version >= kRemoteCommandV5;
  RemoteCommandStreams s;
  if (out) s.out = std::make_unique<WsOutStream>(conn, codec, kStdout, signal);
  if (err && !tty) s.err = std::make_unique<WsOutStream>(conn, codec, kStderr, signal);
  s.error = std::make_unique<WsOutStream>(conn, codec, kError, signal);
  s.has_stdin = in;
  std::weak_ptr<WsConnection> weak = conn;
  *cmd_slot = RemoteCommandSession::Create(ex, std::move(req), ctx.backend, ctx.threads, version,
                                           std::move(s), [weak] {
                                             if (auto c = weak.lock()) c->Close();
                                           });
  (*cmd_slot)->Start();
  conn->Start(std::move(initial));
}

// Port-forward over WebSocket: channel 2i carries port i's data, 2i+1 its
// errors; each starts with the port as 2 bytes little-endian.
class WsPortForward : public std::enable_shared_from_this<WsPortForward> {
 public:
  WsPortForward(const HandlerContext& ctx, PendingRequest req, std::vector<int32_t> ports,
                Codec codec, asio::any_io_executor ex)
      : ctx_(ctx), req_(std::move(req)), codec_(codec), ex_(ex) {
    for (int32_t p : ports) {
      Port port;
      port.port = p;
      ports_.push_back(std::move(port));
    }
  }

  void Start(std::unique_ptr<Transport> transport, std::string initial) {
    auto self = shared_from_this();
    WsConnection::Callbacks cb;
    cb.on_message = [self](ws::Opcode, std::string msg, std::function<void()> consumed) {
      self->OnMessage(std::move(msg), std::move(consumed));
    };
    cb.on_closed = [self](const absl::Status&) { self->OnClosed(); };
    conn_ = WsConnection::Create(std::move(transport), std::move(cb));
    conn_->SetIdleTimeout(ctx_.idle_timeout);
    for (size_t i = 0; i < ports_.size(); ++i) {
      std::string prefix{static_cast<char>(ports_[i].port & 0xff),
                         static_cast<char>((ports_[i].port >> 8) & 0xff)};
      Send(2 * i, prefix);
      Send(2 * i + 1, prefix);
      Dial(i);
    }
    conn_->Start(std::move(initial));
  }

 private:
  struct Port {
    int32_t port = 0;
    bool done = false;
    bool dialed = false;
    std::vector<std::pair<std::string, std::function<void()>>> early;
    std::shared_ptr<FdWriter> writer;
    std::shared_ptr<FdReader> reader;
  };

  void Send(size_t channel, std::string_view data, std::function<void()> done = nullptr) {
    if (!conn_) {
      if (done) done();
      return;
    }
    auto [op, msg] = codec_.Encode(static_cast<uint8_t>(channel), data);
    conn_->Send(op, std::move(msg), std::move(done));
  }

  void Dial(size_t i) {
    std::weak_ptr<WsPortForward> weak = shared_from_this();
    auto work = [weak, ex = ex_, backend = ctx_.backend, pod = req_.port_forward.pod_sandbox_id(),
                 port = ports_[i].port, i] {
      auto fd = std::make_shared<absl::StatusOr<UniqueFd>>(backend->DialPod(pod, port));
      asio::post(ex, [weak, i, fd] {
        if (auto self = weak.lock()) self->OnDialed(i, std::move(*fd));
      });
    };
    if (!ctx_.threads->Spawn(cancel_, std::move(work))) {
      OnDialed(i, absl::UnavailableError("streaming server is stopping"));
    }
  }

  void OnDialed(size_t i, absl::StatusOr<UniqueFd> fd) {
    Port& p = ports_[i];
    if (!conn_) return;
    p.dialed = true;
    UniqueFd read_fd;
    if (fd.ok()) read_fd.reset(::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0));
    if (!fd.ok() || !read_fd.valid()) {
      std::string why = fd.ok() ? "dup failed" : std::string(fd.status().message());
      Send(2 * i + 1, absl::StrCat("error forwarding port ", p.port, " to pod ",
                                   req_.port_forward.pod_sandbox_id(), ": ", why));
      PortDone(i);
      return;
    }
    p.writer = FdWriter::Create(ex_, std::move(*fd), /*is_socket=*/true);
    auto self = shared_from_this();
    p.reader = FdReader::Start(
        ex_, std::move(read_fd),
        [self, i](std::string data, std::function<void()> done) {
          self->Send(2 * i, data, std::move(done));
        },
        [self, i] { self->PortDone(i); });
    for (auto& [data, consumed] : p.early) p.writer->Write(std::move(data), std::move(consumed));
    p.early.clear();
  }

  void OnMessage(std::string msg, std::function<void()> consumed) {
    uint8_t channel;
    std::string payload;
    if (!codec_.Decode(msg, channel, payload) || channel % 2 != 0 || channel / 2 >= ports_.size() ||
        payload.empty()) {
      return consumed();
    }
    Port& p = ports_[channel / 2];
    if (p.done) return consumed();
    if (!p.dialed) {
      p.early.emplace_back(std::move(payload), std::move(consumed));
      return;
    }
    p.writer->Write(std::move(payload), std::move(consumed));
  }

  // The pod closed its side (or the dial failed): that port is over. The
  // connection ends with the last port, as a channel cannot end alone.
  void PortDone(size_t i) {
    Port& p = ports_[i];
    if (p.done) return;
    p.done = true;
    if (p.writer) p.writer->Finish();
    for (const Port& q : ports_) {
      if (!q.done) return;
    }
    if (conn_) conn_->Close();
  }

  void OnClosed() {
    cancel_->Cancel();
    for (Port& p : ports_) {
      if (p.writer) p.writer->Abort();
      if (p.reader) p.reader->Cancel();
      for (auto& [data, consumed] : p.early) consumed();
      p.early.clear();
    }
    conn_.reset();
  }

  HandlerContext ctx_;
  PendingRequest req_;
  Codec codec_;
  asio::any_io_executor ex_;
  std::vector<Port> ports_;
  std::shared_ptr<WsConnection> conn_;
  std::shared_ptr<CancellationImpl> cancel_ = std::make_shared<CancellationImpl>();
};

// The ports of a WebSocket port-forward: the `port` query parameters (each
// may hold a comma-separated list, the comma possibly percent-encoded), else
// the ports the PortForward request named, as kubelet's streaming server
// takes them.
absl::StatusOr<std::vector<int32_t>> QueryPorts(std::string_view target,
                                                const runtime::v1::PortForwardRequest& req) {
  size_t q = target.find('?');
  std::vector<int32_t> ports;
  if (q != std::string_view::npos) {
    for (absl::string_view kv : absl::StrSplit(AbslView(target.substr(q + 1)), '&')) {
      if (!absl::StartsWith(kv, "port=")) continue;
      std::string list = absl::StrReplaceAll(kv.substr(5), {{"%2C", ","}, {"%2c", ","}});
      for (absl::string_view p : absl::StrSplit(list, ',')) {
        if (p.empty()) continue;
        int32_t port = 0;
        if (!absl::SimpleAtoi(p, &port) || port < 1 || port > 65535) {
          return absl::InvalidArgumentError(absl::StrCat("unable to parse \"", p, "\" as a port"));
        }
        ports.push_back(port);
      }
    }
  }
  if (ports.empty()) ports.assign(req.port().begin(), req.port().end());
  if (ports.empty()) return absl::InvalidArgumentError("query parameter \"port\" is required");
  return ports;
}

}  // namespace

absl::StatusOr<WebSocketStart> PrepareWebSocket(const http::request<http::empty_body>& req,
                                                std::string_view target, PendingRequest pending) {
  auto header = [&](const char* name) {
    auto v = req[name];
    return std::string(v.data(), v.size());
  };
  std::string key = header("Sec-WebSocket-Key");
  if (key.empty() || header("Sec-WebSocket-Version") != "13") {
    return absl::InvalidArgumentError("websocket: Sec-WebSocket-Key and version 13 required");
  }
  std::vector<std::string> offered;
  for (const auto& field : req) {
    if (!absl::EqualsIgnoreCase(
            absl::string_view(field.name_string().data(), field.name_string().size()),
            "Sec-WebSocket-Protocol")) {
      continue;
    }
    for (absl::string_view p :
         absl::StrSplit(absl::string_view(field.value().data(), field.value().size()), ',')) {
      p = absl::StripAsciiWhitespace(p);
      if (!p.empty()) offered.emplace_back(p);
    }
  }
  bool forward = pending.kind == RequestKind::kPortForward;
  std::vector<std::string> allowed =
      forward ? std::vector<std::string>{"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                         "portforward.k8s.io", "v4.portforward.k8s.io"}
              : std::vector<std::string>{"v5.channel.k8s.io", "v4.channel.k8s.io",
                                         "v4.base64.channel.k8s.io", "channel.k8s.io",
                                         "base64.channel.k8s.io"};
  std::string chosen;
  bool found = offered.empty();  // no subprotocol: the plain binary channels
  for (const std::string& p : offered) {
    if (std::find(allowed.begin(), allowed.end(), p) != allowed.end()) {
      chosen = p;
      found = true;
      break;
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(absl::StrCat(
        "websocket: requested protocol(s) are not supported: [", absl::StrJoin(offered, " "),
        "]; supports [", absl::StrJoin(allowed, " "), "]"));
  }
  std::vector<int32_t> ports;
  if (forward) {
    ASSIGN_OR_RETURN(ports, QueryPorts(target, pending.port_forward));
  }
  WebSocketStart out;
  out.response =
      absl::StrCat("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n",
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: ", ws::AcceptKey(key), "\r\n");
  if (!chosen.empty()) absl::StrAppend(&out.response, "Sec-WebSocket-Protocol: ", chosen, "\r\n");
  absl::StrAppend(&out.response, "\r\n");
  auto shared = std::make_shared<PendingRequest>(std::move(pending));
  out.start = [shared, chosen, ports, forward](const HandlerContext& ctx,
                                               std::unique_ptr<Transport> t, std::string initial) {
    if (forward) {
      auto ex = t->executor();
      auto h = std::make_shared<WsPortForward>(ctx, std::move(*shared), ports,
                                               Codec{absl::StrContains(chosen, "base64")}, ex);
      h->Start(std::move(t), std::move(initial));
    } else {
      StartWsRemoteCommand(ctx, std::move(*shared), chosen, std::move(t), std::move(initial));
    }
  };
  return out;
}

}  // namespace crius::streaming
