#include "streaming/client.h"

#include <sys/random.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "common/strings.h"
#include "streaming/remotecommand.h"
#include "streaming/spdy_session.h"
#include "streaming/transport.h"
#include "streaming/ws_frame.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct ParsedUrl {
  std::string host;
  std::string port;
  std::string path;
};

absl::StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("only http:// URLs are supported: ", url));
  }
  size_t slash = rest.find('/');
  absl::string_view hostport = rest.substr(0, slash);
  ParsedUrl out;
  out.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = hostport.rfind(':');
  if (colon == absl::string_view::npos) return absl::InvalidArgumentError("URL needs a port");
  out.host = std::string(hostport.substr(0, colon));
  out.port = std::string(hostport.substr(colon + 1));
  if (absl::StartsWith(out.host, "[")) out.host = out.host.substr(1, out.host.size() - 2);
  return out;
}

}  // namespace

absl::StatusOr<UpgradeResult> DialUpgrade(tcp::socket& socket, const std::string& url,
                                          const std::string& method, const std::string& extra) {
  ASSIGN_OR_RETURN(ParsedUrl u, ParseUrl(url));
  boost::system::error_code ec;
  tcp::resolver resolver(socket.get_executor());
  auto endpoints = resolver.resolve(u.host, u.port, ec);
  if (!ec) asio::connect(socket, endpoints, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("connect ", url, ": ", ec.message()));
  std::string req = absl::StrCat(method, " ", u.path, " HTTP/1.1\r\nHost: ", u.host, ":", u.port,
                                 "\r\n", extra, "\r\n");
  asio::write(socket, asio::buffer(req), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("write request: ", ec.message()));
  std::string buf;
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    char chunk[4096];
    size_t n = socket.read_some(asio::buffer(chunk), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("read answer: ", ec.message()));
    buf.append(chunk, n);
  }
  UpgradeResult r;
  r.headers = buf.substr(0, end);
  r.leftover = buf.substr(end + 4);
  std::vector<absl::string_view> lines = absl::StrSplit(r.headers, "\r\n");
  std::vector<absl::string_view> first = absl::StrSplit(lines[0], ' ');
  if (first.size() < 2 || !absl::SimpleAtoi(first[1], &r.status)) {
    return absl::InvalidArgumentError(absl::StrCat("bad answer: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(lines[i], ':');
    if (absl::EqualsIgnoreCase(kv.first, "X-Stream-Protocol-Version")) {
      r.protocol = std::string(absl::StripAsciiWhitespace(kv.second));
    } else if (absl::EqualsIgnoreCase(kv.first, "Sec-WebSocket-Protocol")) {
      r.protocol = std::string(absl::StripAsciiWhitespace(kv.second));
    } else if (absl::EqualsIgnoreCase(kv.first, "Sec-WebSocket-Accept")) {
      r.ws_accept = std::string(absl::StripAsciiWhitespace(kv.second));
    }
  }
  if (r.status != 101) {
    r.body = r.leftover;
    r.leftover.clear();
    while (true) {
      char chunk[4096];
      size_t n = socket.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      r.body.append(chunk, n);
    }
  }
  return r;
}

absl::StatusOr<UpgradeResult> DialWebSocket(tcp::socket& socket, const std::string& url,
                                            const std::vector<std::string>& protocols) {
  char nonce[16];
  if (getrandom(nonce, sizeof(nonce), 0) != static_cast<ssize_t>(sizeof(nonce))) {
    return absl::InternalError("getrandom for the WebSocket key failed");
  }
  std::string key = absl::Base64Escape(absl::string_view(nonce, sizeof(nonce)));
  std::string extra =
      absl::StrCat("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                   "Sec-WebSocket-Key: ", key, "\r\n");
  if (!protocols.empty()) {
    absl::StrAppend(&extra, "Sec-WebSocket-Protocol: ", absl::StrJoin(protocols, ", "), "\r\n");
  }
  ASSIGN_OR_RETURN(UpgradeResult up, DialUpgrade(socket, url, "GET", extra));
  if (up.status != 101) {
    std::string why = absl::StrCat("streaming server refused the WebSocket upgrade: HTTP ",
                                   up.status, ": ", absl::StripAsciiWhitespace(up.body));
    return up.status == 404 ? absl::NotFoundError(why) : absl::FailedPreconditionError(why);
  }
  if (up.ws_accept != ws::AcceptKey(key)) {
    return absl::FailedPreconditionError("WebSocket upgrade answered a wrong Sec-WebSocket-Accept");
  }
  if (!protocols.empty() &&
      std::find(protocols.begin(), protocols.end(), up.protocol) == protocols.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("WebSocket upgrade chose a protocol not offered: \"", up.protocol, "\""));
  }
  return up;
}

absl::StatusOr<RemoteCommandResult> RunSpdyRemoteCommand(const std::string& url,
                                                         const RemoteCommandOptions& o) {
  asio::io_context io(1);
  tcp::socket socket(io);
  std::string extra = "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";
  for (const std::string& p : o.protocols) {
    absl::StrAppend(&extra, "X-Stream-Protocol-Version: ", p, "\r\n");
  }
  ASSIGN_OR_RETURN(UpgradeResult up, DialUpgrade(socket, url, "POST", extra));
  if (up.status != 101) {
    return absl::FailedPreconditionError(
        absl::StrCat("upgrade refused: HTTP ", up.status, ": ", up.body));
  }
  RemoteCommandResult result;
  result.protocol = up.protocol;
  std::map<uint32_t, std::string*> sinks;
  absl::Status closed_status;
  bool closed = false;
  std::weak_ptr<SpdySession> weak;
  SpdySession::Callbacks cb;
  cb.on_data = [&](uint32_t id, std::string data) {
    auto it = sinks.find(id);
    if (it != sinks.end()) it->second->append(data);
    if (auto s = weak.lock()) s->Consumed(id, data.size());
  };
  cb.on_closed = [&](const absl::Status& s) {
    closed = true;
    closed_status = s;
  };
  auto session = SpdySession::Create(MakeTcpTransport(std::move(socket)),
                                     SpdySession::Role::kClient, std::move(cb));
  weak = session;
  session->Start(up.leftover);
  // client-go's order: error first, then the rest.
  auto open = [&](const char* type) -> absl::StatusOr<uint32_t> {
    return session->OpenStream({{"streamtype", type}});
  };
  ASSIGN_OR_RETURN(uint32_t error_id, open("error"));
  sinks[error_id] = &result.error;
  if (o.stdin) {
    ASSIGN_OR_RETURN(uint32_t id, open("stdin"));
    if (!o.stdin_data.empty()) session->Send(id, o.stdin_data, false);
    if (!o.keep_stdin_open) session->Send(id, "", true);
  }
  if (o.stdout) {
    ASSIGN_OR_RETURN(uint32_t id, open("stdout"));
    sinks[id] = &result.out;
  }
  if (o.stderr && !o.tty) {
    ASSIGN_OR_RETURN(uint32_t id, open("stderr"));
    sinks[id] = &result.err;
  }
  if (o.tty && RemoteCommandVersion(up.protocol) >= 3) {
    ASSIGN_OR_RETURN(uint32_t id, open("resize"));
    for (const TerminalSize& s : o.resizes) {
      session->Send(id, absl::StrCat("{\"Width\":", s.width, ",\"Height\":", s.height, "}\n"),
                    false);
    }
  }
  io.run_for(o.timeout);
  if (!closed) {
    session->Abort(absl::DeadlineExceededError("timeout"));
    io.poll();
    return absl::DeadlineExceededError("remote command did not finish in time");
  }
  return result;
}

absl::StatusOr<PortForwardResult> RunSpdyPortForwardOnce(const std::string& url, int port,
                                                         const std::string& data,
                                                         std::chrono::seconds timeout) {
  asio::io_context io(1);
  tcp::socket socket(io);
  std::string extra =
      "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
      "portforward.k8s.io\r\n";
  ASSIGN_OR_RETURN(UpgradeResult up, DialUpgrade(socket, url, "POST", extra));
  if (up.status != 101) {
    return absl::FailedPreconditionError(
        absl::StrCat("upgrade refused: HTTP ", up.status, ": ", up.body));
  }
  PortForwardResult result;
  uint32_t error_id = 0, data_id = 0;
  bool data_done = false, error_done = false, closed = false;
  std::weak_ptr<SpdySession> weak;
  SpdySession::Callbacks cb;
  cb.on_data = [&](uint32_t id, std::string d) {
    if (id == data_id) result.data.append(d);
    if (id == error_id) result.error.append(d);
    if (auto s = weak.lock()) s->Consumed(id, d.size());
  };
  cb.on_fin = [&](uint32_t id) {
    if (id == data_id) data_done = true;
    if (id == error_id) error_done = true;
    if (data_done && error_done) {
      if (auto s = weak.lock()) s->Close();
    }
  };
  cb.on_reset = [&](uint32_t, uint32_t) {
    if (auto s = weak.lock()) s->Close();
  };
  cb.on_closed = [&](const absl::Status&) { closed = true; };
  auto session = SpdySession::Create(MakeTcpTransport(std::move(socket)),
                                     SpdySession::Role::kClient, std::move(cb));
  weak = session;
  session->Start(up.leftover);
  std::string port_text = std::to_string(port);
  ASSIGN_OR_RETURN(
      error_id,
      session->OpenStream({{"streamtype", "error"}, {"port", port_text}, {"requestid", "0"}}));
  ASSIGN_OR_RETURN(data_id, session->OpenStream(
                                {{"streamtype", "data"}, {"port", port_text}, {"requestid", "0"}}));
  session->Send(data_id, data, true);
  io.run_for(timeout);
  if (!closed) {
    session->Abort(absl::DeadlineExceededError("timeout"));
    io.poll();
    return absl::DeadlineExceededError("port-forward did not finish in time");
  }
  return result;
}

}  // namespace crius::streaming
