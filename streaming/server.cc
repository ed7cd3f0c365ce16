#include "streaming/server.h"

#include <signal.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "streaming/handler_context.h"
#include "streaming/session_support.h"
#include "streaming/spdy_handlers.h"
#include "streaming/tokens.h"
#include "streaming/transport.h"
#include "streaming/ws_handlers.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

// Connections get this long to send their request header.
constexpr auto kHeaderTimeout = std::chrono::seconds(30);
constexpr size_t kMaxHeader = 64 * 1024;
constexpr int kIoThreads = 2;

const std::vector<std::string>& SpdyRemoteCommandProtocols() {
  static const auto* p = new std::vector<std::string>{
      "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"};
  return *p;
}

std::string Response(int code, std::string_view reason, std::string_view body,
                     const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  std::string out = absl::StrCat("HTTP/1.1 ", code, " ", AbslView(reason), "\r\n");
  for (const auto& [k, v] : extra) absl::StrAppend(&out, k, ": ", v, "\r\n");
  absl::StrAppend(&out, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ",
                  body.size(), "\r\nConnection: close\r\n\r\n", AbslView(body));
  return out;
}

// Every value of a header that may repeat and hold comma-separated lists.
std::vector<std::string> HeaderList(const http::request<http::empty_body>& req,
                                    std::string_view name) {
  std::vector<std::string> out;
  auto range = req.equal_range(boost::beast::string_view(name.data(), name.size()));
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view v(it->value().data(), it->value().size());
    for (absl::string_view part : absl::StrSplit(AbslView(v), ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (!part.empty()) out.emplace_back(part);
    }
  }
  return out;
}

bool HasToken(const http::request<http::empty_body>& req, std::string_view name,
              std::string_view token) {
  for (const std::string& v : HeaderList(req, name)) {
    if (absl::EqualsIgnoreCase(v, AbslView(token))) return true;
  }
  return false;
}

class ServerImpl;

// One accepted connection until it is upgraded (or answered and closed).
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(ServerImpl* server, std::unique_ptr<Transport> t)
      : server_(server), transport_(std::move(t)), timer_(transport_->executor()) {
    parser_.header_limit(kMaxHeader);
  }
  void Start() {
    timer_.expires_after(kHeaderTimeout);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->transport_) self->transport_->Close();
    });
    ReadMore();
  }

 private:
  void ReadMore();
  void OnHeader();
  void Reply(std::string response);
  void Dispatch(std::string_view kind, std::string_view token);

  ServerImpl* server_;
  std::unique_ptr<Transport> transport_;
  asio::steady_timer timer_;
  http::request_parser<http::empty_body> parser_;
  std::string buf_;
  std::string out_;
  char read_buf_[4096];
};

class ServerImpl : public Server {
 public:
  ServerImpl(const ServerOptions& o, Backend* backend)
      : options_(o), tokens_(o.token_ttl, o.max_tokens) {
    ctx_.backend = backend;
    ctx_.threads = &threads_;
    ctx_.idle_timeout = o.idle_timeout;
    ctx_.stream_creation_timeout = o.stream_creation_timeout;
    for (int i = 0; i < kIoThreads; ++i) {
      ios_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*ios_.back()));
    }
  }
  ~ServerImpl() override { Stop(); }

  absl::Status Init();
  absl::StatusOr<std::string> ExecUrl(const runtime::v1::ExecRequest& req) override;
  absl::StatusOr<std::string> AttachUrl(const runtime::v1::AttachRequest& req) override;
  absl::StatusOr<std::string> PortForwardUrl(const runtime::v1::PortForwardRequest& req) override;
  std::string BaseUrl() const override { return base_url_; }
  void Stop() override;

  TokenStore& tokens() { return tokens_; }
  const HandlerContext& context() const { return ctx_; }

 private:
  absl::StatusOr<std::string> Mint(PendingRequest req, std::string_view kind);
  void Accept();
  void OnAccepted(tcp::socket socket);

  ServerOptions options_;
  TokenStore tokens_;
  ThreadGroup threads_;
  HandlerContext ctx_;
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::string base_url_;
  std::atomic<size_t> next_io_{0};
  std::atomic<bool> stopped_{false};
};

void HttpConnection::ReadMore() {
  transport_->AsyncReadSome(
      asio::buffer(read_buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        if (ec) {
          self->timer_.cancel();
          self->transport_->Close();
          return;
        }
        self->buf_.append(self->read_buf_, n);
        self->OnHeader();
      });
}

void HttpConnection::OnHeader() {
  boost::beast::error_code ec;
  size_t used = parser_.put(asio::buffer(buf_), ec);
  buf_.erase(0, used);
  if (ec == http::error::need_more) {
    if (buf_.size() > kMaxHeader) return Reply(Response(431, "Request Header Fields Too Large", ""));
    return ReadMore();
  }
  if (ec || !parser_.is_header_done()) {
    return Reply(Response(400, "Bad Request", "malformed HTTP request\n"));
  }
  timer_.cancel();
  const auto& req = parser_.get();
  if (req.method() != http::verb::get && req.method() != http::verb::post) {
    return Reply(Response(405, "Method Not Allowed", "only GET and POST\n"));
  }
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  std::vector<absl::string_view> parts = absl::StrSplit(AbslView(path), '/');
  // "/exec/<token>" splits into "", "exec", "<token>".
  if (parts.size() != 3 || !parts[0].empty() || parts[2].empty() ||
      (parts[1] != "exec" && parts[1] != "attach" && parts[1] != "portforward")) {
    return Reply(Response(404, "Not Found", "404 page not found\n"));
  }
  Dispatch(StdView(parts[1]), StdView(parts[2]));
}

void HttpConnection::Dispatch(std::string_view kind, std::string_view token) {
  const auto& req = parser_.get();
  std::optional<PendingRequest> pending = server_->tokens().Take(token);
  RequestKind want = kind == "exec"     ? RequestKind::kExec
                     : kind == "attach" ? RequestKind::kAttach
                                        : RequestKind::kPortForward;
  if (!pending || pending->kind != want) {
    return Reply(Response(404, "Not Found", "404 page not found\n"));
  }
  bool is_upgrade = HasToken(req, "Connection", "upgrade");
  std::vector<std::string> upgrade = HeaderList(req, "Upgrade");
  if (is_upgrade && upgrade.size() == 1 && absl::EqualsIgnoreCase(upgrade[0], "websocket")) {
    std::string_view target(req.target().data(), req.target().size());
    auto result = PrepareWebSocket(req, target, *pending);
    if (!result.ok()) {
      return Reply(Response(400, "Bad Request", absl::StrCat(result.status().message(), "\n")));
    }
    out_ = std::move(result->response);
    auto self = shared_from_this();
    transport_->AsyncWrite(asio::buffer(out_), [self, ws = std::move(*result)](
                                                   const boost::system::error_code& ec,
                                                   size_t) mutable {
      if (ec) return self->transport_->Close();
      ws.start(self->server_->context(), std::move(self->transport_), std::move(self->buf_));
    });
    return;
  }
  if (!is_upgrade || upgrade.size() != 1 || !absl::EqualsIgnoreCase(upgrade[0], "SPDY/3.1")) {
    return Reply(Response(400, "Bad Request",
                          "unable to upgrade: missing upgrade headers in request\n"));
  }
  std::vector<std::string> offered = HeaderList(req, "X-Stream-Protocol-Version");
  std::vector<std::string> supported =
      want == RequestKind::kPortForward ? std::vector<std::string>{"portforward.k8s.io"}
                                        : SpdyRemoteCommandProtocols();
  std::string chosen;
  for (const std::string& p : offered) {
    if (std::find(supported.begin(), supported.end(), p) != supported.end()) {
      chosen = p;
      break;
    }
  }
  if (!offered.empty() && chosen.empty()) {
    return Reply(Response(
        403, "Forbidden",
        absl::StrCat("unable to upgrade: unable to negotiate protocol: client supports [",
                     absl::StrJoin(offered, " "), "], server accepts [",
                     absl::StrJoin(supported, " "), "]\n"),
        {{"X-Accepted-Stream-Protocol-Versions", absl::StrJoin(supported, ", ")}}));
  }
  out_ = absl::StrCat("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n",
                      "Upgrade: SPDY/3.1\r\n");
  if (!chosen.empty()) absl::StrAppend(&out_, "X-Stream-Protocol-Version: ", chosen, "\r\n");
  absl::StrAppend(&out_, "\r\n");
  auto self = shared_from_this();
  transport_->AsyncWrite(asio::buffer(out_), [self, chosen, want,
                                              pending = std::move(*pending)](
                                                 const boost::system::error_code& ec,
                                                 size_t) mutable {
    if (ec) return self->transport_->Close();
    const HandlerContext& ctx = self->server_->context();
    if (want == RequestKind::kPortForward) {
      ServeSpdyPortForward(ctx, std::move(pending), std::move(self->transport_),
                           std::move(self->buf_));
    } else {
      ServeSpdyRemoteCommand(ctx, std::move(pending), chosen, std::move(self->transport_),
                             std::move(self->buf_));
    }
  });
}

void HttpConnection::Reply(std::string response) {
  timer_.cancel();
  out_ = std::move(response);
  transport_->AsyncWrite(asio::buffer(out_),
                         [self = shared_from_this()](const boost::system::error_code&, size_t) {
                           self->transport_->Close();
                         });
}

absl::Status ServerImpl::Init() {
  // Writing to a pipe whose reader is gone must be an error, not a signal
  // that kills the daemon. Only the default action is replaced.
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  bool tls = !options_.tls_cert_file.empty() || !options_.tls_key_file.empty();
  if (tls) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      return absl::InvalidArgumentError("streaming: TLS needs both a certificate and a key file");
    }
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    boost::system::error_code ec;
    tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1,
                      ec);
    tls_->use_certificate_chain_file(options_.tls_cert_file, ec);
    if (ec) {
      return absl::InvalidArgumentError(absl::StrCat(
          "streaming: load certificate ", options_.tls_cert_file, ": ", ec.message()));
    }
    tls_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("streaming: load key ", options_.tls_key_file, ": ", ec.message()));
    }
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options_.address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("streaming: bad address '", options_.address, "': ", ec.message()));
  }
  tcp::endpoint ep(addr, static_cast<uint16_t>(options_.port));
  acceptor_ = std::make_unique<tcp::acceptor>(*ios_[0]);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("streaming: listen on ", options_.address, ":",
                                               options_.port, ": ", ec.message()));
  }
  auto bound = acceptor_->local_endpoint();
  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = absl::StrCat("[", host, "]");
  base_url_ = absl::StrCat(tls ? "https://" : "http://", host, ":", bound.port());
  Accept();
  for (auto& io : ios_) io_threads_.emplace_back([io = io.get()] { io->run(); });
  return absl::OkStatus();
}

void ServerImpl::Accept() {
  asio::io_context& io = *ios_[next_io_++ % ios_.size()];
  acceptor_->async_accept(io, [this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (!ec) OnAccepted(std::move(socket));
    Accept();
  });
}

void ServerImpl::OnAccepted(tcp::socket socket) {
  if (!tls_) {
    std::make_shared<HttpConnection>(this, MakeTcpTransport(std::move(socket)))->Start();
    return;
  }
  auto stream = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(socket), *tls_);
  auto* raw = stream.get();
  auto timer = std::make_shared<asio::steady_timer>(raw->get_executor(), kHeaderTimeout);
  timer->async_wait([raw](const boost::system::error_code& ec) {
    boost::system::error_code ignored;
    if (!ec) raw->lowest_layer().close(ignored);
  });
  raw->async_handshake(asio::ssl::stream_base::server,
                       [this, stream = std::move(stream),
                        timer](const boost::system::error_code& ec) mutable {
                         timer->cancel();
                         if (ec) return;  // the stream closes as it goes
                         std::make_shared<HttpConnection>(this, MakeTlsTransport(std::move(stream)))
                             ->Start();
                       });
}

absl::StatusOr<std::string> ServerImpl::Mint(PendingRequest req, std::string_view kind) {
  ASSIGN_OR_RETURN(std::string token, tokens_.Mint(std::move(req)));
  return absl::StrCat(base_url_, "/", AbslView(kind), "/", token);
}

absl::Status CheckStreams(bool in, bool out, bool err, bool tty) {
  if (!in && !out && !err) {
    return absl::InvalidArgumentError("one of stdin, stdout, or stderr must be set");
  }
  if (tty && err) return absl::InvalidArgumentError("tty and stderr cannot both be set");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ServerImpl::ExecUrl(const runtime::v1::ExecRequest& req) {
  if (req.container_id().empty()) return absl::InvalidArgumentError("container_id is required");
  if (req.cmd().empty()) return absl::InvalidArgumentError("cmd is required");
  RETURN_IF_ERROR(CheckStreams(req.stdin(), req.stdout(), req.stderr(), req.tty()));
  PendingRequest p;
  p.kind = RequestKind::kExec;
  p.exec = req;
  return Mint(std::move(p), "exec");
}

absl::StatusOr<std::string> ServerImpl::AttachUrl(const runtime::v1::AttachRequest& req) {
  if (req.container_id().empty()) return absl::InvalidArgumentError("container_id is required");
  RETURN_IF_ERROR(CheckStreams(req.stdin(), req.stdout(), req.stderr(), req.tty()));
  PendingRequest p;
  p.kind = RequestKind::kAttach;
  p.attach = req;
  return Mint(std::move(p), "attach");
}

absl::StatusOr<std::string> ServerImpl::PortForwardUrl(
    const runtime::v1::PortForwardRequest& req) {
  if (req.pod_sandbox_id().empty()) {
    return absl::InvalidArgumentError("pod_sandbox_id is required");
  }
  PendingRequest p;
  p.kind = RequestKind::kPortForward;
  p.port_forward = req;
  return Mint(std::move(p), "portforward");
}

void ServerImpl::Stop() {
  if (stopped_.exchange(true)) return;
  if (acceptor_) {
    asio::post(*ios_[0], [this] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    });
  }
  // Backend calls first: cancelled, they return and their sessions end.
  threads_.Stop();
  for (auto& io : ios_) io->stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  // Destroying the contexts destroys every connection still queued on them.
  acceptor_.reset();
  guards_.clear();
  ios_.clear();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      Backend* backend) {
  if (backend == nullptr) return absl::InvalidArgumentError("streaming: no backend");
  auto server = std::make_unique<ServerImpl>(options, backend);
  RETURN_IF_ERROR(server->Init());
  return server;
}

}  // namespace crius::streaming
