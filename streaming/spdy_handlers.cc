#include "streaming/spdy_handlers.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <map>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "streaming/pump.h"
#include "streaming/remotecommand.h"
#include "streaming/spdy_session.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;

class SpdyOutStream : public OutStream {
 public:
  SpdyOutStream(std::weak_ptr<SpdySession> session, uint32_t id)
      : session_(std::move(session)), id_(id) {}
  void Write(std::string data, std::function<void()> done) override {
    if (auto s = session_.lock()) {
      s->Send(id_, std::move(data), false, std::move(done));
    } else if (done) {
      done();
    }
  }
  void Close() override {
    if (auto s = session_.lock()) s->Send(id_, "", true);
  }

 private:
  std::weak_ptr<SpdySession> session_;
  uint32_t id_;
};

class SpdyRemoteCommand : public std::enable_shared_from_this<SpdyRemoteCommand> {
 public:
  SpdyRemoteCommand(const HandlerContext& ctx, PendingRequest req, int version,
                    asio::any_io_executor ex)
      : ctx_(ctx), req_(std::move(req)), version_(version), ex_(ex), creation_timer_(ex) {
    bool in, out, err, tty;
    if (req_.kind == RequestKind::kExec) {
      in = req_.exec.stdin(), out = req_.exec.stdout(), err = req_.exec.stderr();
      tty = req_.exec.tty();
    } else {
      in = req_.attach.stdin(), out = req_.attach.stdout(), err = req_.attach.stderr();
      tty = req_.attach.tty();
    }
    // The streams a client opens for this request (client-go's rules).
    expected_ = {"error"};
    if (in) expected_.push_back("stdin");
    if (out) expected_.push_back("stdout");
    if (err && !tty) expected_.push_back("stderr");
    if (tty && version_ >= 3) expected_.push_back("resize");
  }

  void Start(std::unique_ptr<Transport> transport, std::string initial) {
    auto self = shared_from_this();
    SpdySession::Callbacks cb;
    cb.on_stream = [self](uint32_t id, const spdy::Headers& h, bool) { self->OnStream(id, h); };
    cb.on_data = [self](uint32_t id, std::string data) { self->OnData(id, std::move(data)); };
    cb.on_fin = [self](uint32_t id) { self->OnInputEnd(id); };
    cb.on_reset = [self](uint32_t id, uint32_t) { self->OnInputEnd(id); };
    cb.on_closed = [self](const absl::Status&) { self->OnClosed(); };
    session_ = SpdySession::Create(std::move(transport), SpdySession::Role::kServer, std::move(cb));
    session_->SetIdleTimeout(ctx_.idle_timeout);
    creation_timer_.expires_after(absl::ToChronoNanoseconds(ctx_.stream_creation_timeout));
    creation_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec || self->cmd_ || !self->session_) return;
      CRIUS_LOG(kInfo) << "streaming: client did not open its streams in time";
      self->session_->Abort(absl::DeadlineExceededError("stream creation timeout"));
    });
    session_->Start(std::move(initial));
  }

 private:
  void OnStream(uint32_t id, const spdy::Headers& h) {
    std::string type = spdy::FindHeader(h, "streamtype").value_or("");
    if (cmd_ || ids_.count(type)) {
      session_->Reset(id, spdy::kRefusedStream);  // a stream type twice, or late
      return;
    }
    ids_[type] = id;
    if (type == "stdin") stdin_id_ = id;
    if (type == "resize") resize_id_ = id;
    for (const std::string& want : expected_) {
      if (!ids_.count(want)) return;
    }
    StartCommand();
  }

  void StartCommand() {
    creation_timer_.cancel();
    RemoteCommandStreams s;
    auto stream = [&](const char* type) -> std::unique_ptr<OutStream> {
      auto it = ids_.find(type);
      if (it == ids_.end()) return nullptr;
      return std::make_unique<SpdyOutStream>(session_, it->second);
    };
    s.out = stream("stdout");
    s.err = stream("stderr");
    s.error = stream("error");
    s.has_stdin = stdin_id_ != 0;
    std::weak_ptr<SpdySession> weak = session_;
    cmd_ = RemoteCommandSession::Create(ex_, req_, ctx_.backend, ctx_.threads, version_,
                                        std::move(s), [weak] {
                                          if (auto sess = weak.lock()) sess->Close();
                                        });
    cmd_->Start();
    for (std::string& data : early_stdin_) {
      size_t n = data.size();
      cmd_->OnStdin(std::move(data),
                    [self = shared_from_this(), n] { self->Consumed(self->stdin_id_, n); });
    }
    early_stdin_.clear();
    if (early_stdin_eof_) cmd_->OnStdinEof();
  }

  void OnData(uint32_t id, std::string data) {
    size_t n = data.size();
    if (id == stdin_id_ && id != 0) {
      if (!cmd_) {
        early_stdin_.push_back(std::move(data));
        return;
      }
      cmd_->OnStdin(std::move(data), [self = shared_from_this(), id, n] { self->Consumed(id, n); });
      return;
    }
    if (id == resize_id_ && id != 0 && cmd_) cmd_->OnResize(data);
    Consumed(id, n);
  }

  void Consumed(uint32_t id, size_t n) {
    if (session_) session_->Consumed(id, n);
  }

  void OnInputEnd(uint32_t id) {
    if (id != stdin_id_ || id == 0) return;
    if (cmd_) {
      cmd_->OnStdinEof();
    } else {
      early_stdin_eof_ = true;
    }
  }

  void OnClosed() {
    creation_timer_.cancel();
    if (cmd_) cmd_->Cancel();
    session_.reset();
  }

  HandlerContext ctx_;
  PendingRequest req_;
  const int version_;
  asio::any_io_executor ex_;
  asio::steady_timer creation_timer_;
  std::vector<std::string> expected_;
  std::shared_ptr<SpdySession> session_;
  std::map<std::string, uint32_t> ids_;
  uint32_t stdin_id_ = 0;
  uint32_t resize_id_ = 0;
  std::vector<std::string> early_stdin_;
  bool early_stdin_eof_ = false;
  std::shared_ptr<RemoteCommandSession> cmd_;
};

// One forwarded connection: the client's error and data streams and the
// socket DialPod gave us.
struct ForwardPair {
  uint32_t error_id = 0;
  uint32_t data_id = 0;
  int32_t port = 0;
  bool dialing = false;
  bool client_done = false;  // FIN on the data stream
  std::vector<std::string> early;
  std::shared_ptr<FdWriter> writer;
  std::shared_ptr<FdReader> reader;
};

class SpdyPortForward : public std::enable_shared_from_this<SpdyPortForward> {
 public:
  SpdyPortForward(const HandlerContext& ctx, PendingRequest req, asio::any_io_executor ex)
      : ctx_(ctx), req_(std::move(req)), ex_(ex) {}

  void Start(std::unique_ptr<Transport> transport, std::string initial) {
    auto self = shared_from_this();
    SpdySession::Callbacks cb;
    cb.on_stream = [self](uint32_t id, const spdy::Headers& h, bool) { self->OnStream(id, h); };
    cb.on_data = [self](uint32_t id, std::string data) { self->OnData(id, std::move(data)); };
    cb.on_fin = [self](uint32_t id) { self->OnFin(id, false); };
    cb.on_reset = [self](uint32_t id, uint32_t) { self->OnFin(id, true); };
    cb.on_closed = [self](const absl::Status&) { self->OnClosed(); };
    session_ = SpdySession::Create(std::move(transport), SpdySession::Role::kServer, std::move(cb));
    session_->SetIdleTimeout(ctx_.idle_timeout);
    session_->Start(std::move(initial));
  }

 private:
  void OnStream(uint32_t id, const spdy::Headers& h) {
    std::string type = spdy::FindHeader(h, "streamtype").value_or("");
    std::string port_text = spdy::FindHeader(h, "port").value_or("");
    int32_t port = 0;
    if ((type != "error" && type != "data") || !absl::SimpleAtoi(port_text, &port) || port <= 0 ||
        port > 65535) {
      CRIUS_LOG(kInfo) << "streaming: port-forward stream with type '" << type << "' port '"
                       << port_text << "' refused";
      session_->Reset(id, spdy::kProtocolError);
      return;
    }
    // Old clients send no requestID; their pairs arrive one after another.
    std::string key = spdy::FindHeader(h, "requestid").value_or(absl::StrCat("port-", port_text));
    ForwardPair& p = pairs_[key];
    uint32_t& slot = type == "error" ? p.error_id : p.data_id;
    if (slot != 0) {
      session_->Reset(id, spdy::kStreamInUse);
      return;
    }
    slot = id;
    p.port = port;
    stream_keys_[id] = key;
    if (p.error_id && p.data_id && !p.dialing) Dial(key, p);
  }

  void Dial(const std::string& key, ForwardPair& p) {
    p.dialing = true;
    std::weak_ptr<SpdyPortForward> weak = shared_from_this();
    auto work = [weak, ex = ex_, backend = ctx_.backend,
                 pod = req_.port_forward.pod_sandbox_id(), port = p.port, key] {
      absl::StatusOr<UniqueFd> fd = backend->DialPod(pod, port);
      auto shared = std::make_shared<absl::StatusOr<UniqueFd>>(std::move(fd));
      asio::post(ex, [weak, key, shared] {
        if (auto self = weak.lock()) self->OnDialed(key, std::move(*shared));
      });
    };
    if (!ctx_.threads->Spawn(cancel_, std::move(work))) {
      OnDialed(key, absl::UnavailableError("streaming server is stopping"));
    }
  }

  void OnDialed(const std::string& key, absl::StatusOr<UniqueFd> fd) {
    auto it = pairs_.find(key);
    if (it == pairs_.end() || !session_) return;  // reset or closed meanwhile
    ForwardPair& p = it->second;
    if (!fd.ok()) {
      std::string msg = absl::StrCat("error forwarding port ", p.port, " to pod ",
                                     req_.port_forward.pod_sandbox_id(), ": ",
                                     fd.status().message());
      session_->Send(p.error_id, std::move(msg), true);
      session_->Send(p.data_id, "", true);
      Forget(key);
      return;
    }
    UniqueFd read_fd(::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0));
    if (!read_fd.valid()) {
      session_->Send(p.error_id, "error forwarding port: dup failed", true);
      session_->Send(p.data_id, "", true);
      Forget(key);
      return;
    }
    p.writer = FdWriter::Create(ex_, std::move(*fd), /*is_socket=*/true);
    std::weak_ptr<SpdySession> weak_session = session_;
    uint32_t data_id = p.data_id;
    uint32_t error_id = p.error_id;
    p.reader = FdReader::Start(
        ex_, std::move(read_fd),
        [weak_session, data_id](std::string data, std::function<void()> done) {
          if (auto s = weak_session.lock()) {
            s->Send(data_id, std::move(data), false, std::move(done));
          } else {
            done();
          }
        },
        [weak_session, data_id, error_id] {
          if (auto s = weak_session.lock()) {
            s->Send(data_id, "", true);
            s->Send(error_id, "", true);
          }
        });
    for (std::string& data : p.early) {
      size_t n = data.size();
      p.writer->Write(std::move(data), [self = shared_from_this(), data_id, n] {
        if (self->session_) self->session_->Consumed(data_id, n);
      });
    }
    p.early.clear();
    if (p.client_done) p.writer->Finish();
  }

  ForwardPair* PairOf(uint32_t id) {
    auto k = stream_keys_.find(id);
    if (k == stream_keys_.end()) return nullptr;
    auto it = pairs_.find(k->second);
    return it == pairs_.end() ? nullptr : &it->second;
  }

  void OnData(uint32_t id, std::string data) {
    ForwardPair* p = PairOf(id);
    size_t n = data.size();
    if (!p || id != p->data_id) {
      session_->Consumed(id, n);
      return;
    }
    if (!p->writer) {
      p->early.push_back(std::move(data));
      return;
    }
    p->writer->Write(std::move(data), [self = shared_from_this(), id, n] {
      if (self->session_) self->session_->Consumed(id, n);
    });
  }

  void OnFin(uint32_t id, bool reset) {
    ForwardPair* p = PairOf(id);
    if (!p || id != p->data_id) return;
    p->client_done = true;
    if (!p->writer) return;
    if (reset) {
      p->writer->Abort();
      if (p->reader) p->reader->Cancel();
      Forget(stream_keys_[id]);
    } else {
      p->writer->Finish();  // half-close: the pod's answer may still come
    }
  }

  void Forget(std::string key) {
    auto it = pairs_.find(key);
    if (it == pairs_.end()) return;
    stream_keys_.erase(it->second.error_id);
    stream_keys_.erase(it->second.data_id);
    pairs_.erase(it);
  }

  void OnClosed() {
    cancel_->Cancel();
    for (auto& [key, p] : pairs_) {
      if (p.writer) p.writer->Abort();
      if (p.reader) p.reader->Cancel();
    }
    pairs_.clear();
    stream_keys_.clear();
    session_.reset();
  }

  HandlerContext ctx_;
  PendingRequest req_;
  asio::any_io_executor ex_;
  std::shared_ptr<SpdySession> session_;
  std::shared_ptr<CancellationImpl> cancel_ = std::make_shared<CancellationImpl>();
  std::map<std::string, ForwardPair> pairs_;
  std::map<uint32_t, std::string> stream_keys_;
};

}  // namespace

void ServeSpdyRemoteCommand(const HandlerContext& ctx, PendingRequest req, std::string protocol,
                            std::unique_ptr<Transport> transport, std::string initial) {
  auto ex = transport->executor();
  auto h = std::make_shared<SpdyRemoteCommand>(ctx, std::move(req),
                                               RemoteCommandVersion(protocol), ex);
  h->Start(std::move(transport), std::move(initial));
}

void ServeSpdyPortForward(const HandlerContext& ctx, PendingRequest req,
                          std::unique_ptr<Transport> transport, std::string initial) {
  auto ex = transport->executor();
  auto h = std::make_shared<SpdyPortForward>(ctx, std::move(req), ex);
  h->Start(std::move(transport), std::move(initial));
}

}  // namespace crius::streaming
