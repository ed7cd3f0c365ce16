// WebSocket transport of the streaming server, end to end through loopback
// sockets with the fake backend, driven by a small blocking RFC 6455
// client written here (masking, channel prefixes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "common/unique_fd.h"
#include "nlohmann/json.hpp"
#include "streaming/client.h"
#include "streaming/server.h"
#include "streaming/testing/fake_backend.h"
#include "streaming/ws_frame.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

class WsClient {
 public:
  // Returns the HTTP status of the handshake answer.
  int Connect(const std::string& url, const std::string& protocol) {
    std::string extra =
        "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    if (!protocol.empty()) extra += "Sec-WebSocket-Protocol: " + protocol + "\r\n";
    auto r = DialUpgrade(socket_, url, "GET", extra);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return 0;
    if (r->status == 101) {
      // RFC 6455's own example key and answer.
      EXPECT_THAT(r->headers, HasSubstr("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
      reader_.Append(r->leftover);
    }
    return r->status;
  }
  void Send(ws::Opcode op, const std::string& payload) {
    boost::system::error_code ec;
    asio::write(socket_, asio::buffer(ws::EncodeFrame(op, payload, /*mask=*/true)), ec);
  }
  void SendChannel(uint8_t ch, const std::string& data) {
    Send(ws::kBinary, std::string(1, static_cast<char>(ch)) + data);
  }
  // Every message until the server closes; control frames are left out.
  std::vector<ws::Message> ReadAll() {
    std::vector<ws::Message> out;
    while (true) {
      auto m = reader_.Next();
      if (!m.ok()) {
        ADD_FAILURE() << m.status();
        return out;
      }
      if (m->has_value()) {
        if ((*m)->opcode == ws::kClose) return out;
        if (((*m)->opcode & 0x8) == 0) out.push_back(std::move(**m));
        continue;
      }
      char buf[16384];
      boost::system::error_code ec;
      size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) return out;
      reader_.Append(std::string_view(buf, n));
    }
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_{io_};
  ws::FrameReader reader_{/*expect_masked=*/false};
};

// Joins the binary channel messages per channel (the v5 close signal is
// recorded as channel 255).
std::map<int, std::string> ByChannel(const std::vector<ws::Message>& msgs) {
  std::map<int, std::string> out;
  for (const auto& m : msgs) {
    if (m.payload.empty()) continue;
    out[static_cast<uint8_t>(m.payload[0])] += m.payload.substr(1);
  }
  return out;
}

runtime::v1::ExecRequest ExecReq(std::vector<std::string> cmd, bool in = false) {
  runtime::v1::ExecRequest r;
  r.set_container_id("c1");
  for (auto& c : cmd) r.add_cmd(c);
  r.set_stdin(in);
  r.set_stdout(true);
  r.set_stderr(true);
  return r;
}

class WebSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Server::Start({}, &backend_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  void TearDown() override { server_->Stop(); }
  std::string Url(const runtime::v1::ExecRequest& r) { return *server_->ExecUrl(r); }

  testing::FakeBackend backend_;
  std::unique_ptr<Server> server_;
};

TEST_F(WebSocketTest, V5ExecReportsOutputStatusAndCloseSignals) {
  WsClient c;
  ASSERT_EQ(c.Connect(Url(ExecReq({"echo", "hello"})), "v5.channel.k8s.io"), 101);
  auto ch = ByChannel(c.ReadAll());
  EXPECT_EQ(ch[1], "hello");
  EXPECT_EQ(ch[2], "");
  EXPECT_EQ(nlohmann::json::parse(ch[3])["status"], "Success");
  // stdout and stderr were ended with the v5 close signal.
  EXPECT_THAT(ch[255], HasSubstr(std::string(1, '\x01')));
  EXPECT_THAT(ch[255], HasSubstr(std::string(1, '\x02')));
}

TEST_F(WebSocketTest, V5StdinEndsWithTheCloseSignal) {
  WsClient c;
  ASSERT_EQ(c.Connect(Url(ExecReq({"cat"}, true)), "v5.channel.k8s.io"), 101);
  c.SendChannel(0, "abc");
  c.SendChannel(0, "def");
  c.Send(ws::kBinary, std::string("\xff\x00", 2));
  auto ch = ByChannel(c.ReadAll());
  EXPECT_EQ(ch[1], "abcdef");
  EXPECT_EQ(nlohmann::json::parse(ch[3])["status"], "Success");
}

TEST_F(WebSocketTest, V4NonZeroExit) {
  WsClient c;
  ASSERT_EQ(c.Connect(Url(ExecReq({"exit", "42"})), "v4.channel.k8s.io"), 101);
  auto s = nlohmann::json::parse(ByChannel(c.ReadAll())[3]);
  EXPECT_EQ(s["status"], "Failure");
  EXPECT_EQ(s["reason"], "NonZeroExitCode");
  EXPECT_EQ(s["details"]["causes"][0]["message"], "42");
}

TEST_F(WebSocketTest, Base64ChannelsAreTextWithDigitPrefix) {
  WsClient c;
  ASSERT_EQ(c.Connect(Url(ExecReq({"echo", "hello"})), "base64.channel.k8s.io"), 101);
  std::string out;
  for (const auto& m : c.ReadAll()) {
    EXPECT_EQ(m.opcode, ws::kText);
    ASSERT_FALSE(m.payload.empty());
    if (m.payload[0] == '1') {
      std::string decoded;
      ASSERT_TRUE(absl::Base64Unescape(m.payload.substr(1), &decoded));
      out += decoded;
    }
  }
  EXPECT_EQ(out, "hello");
}

TEST_F(WebSocketTest, BadHandshakeIs400AndUsedTokenIs404) {
  std::string url = Url(ExecReq({"echo"}));
  WsClient bad;
  ASSERT_EQ(bad.Connect(url, "v99.channel.k8s.io"), 400);
  WsClient again;
  EXPECT_EQ(again.Connect(url, "v5.channel.k8s.io"), 404);
}

// A listener that answers "got:" + the first chunk it reads, then closes.
class AnswerOnce {
 public:
  AnswerOnce() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_.get(), 8), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c.valid()) return;
      char buf[4096];
      ssize_t n = ::read(c.get(), buf, sizeof(buf));
      std::string answer = "got:" + std::string(buf, n > 0 ? n : 0);
      (void)!::write(c.get(), answer.data(), answer.size());
    });
  }
  ~AnswerOnce() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(WebSocketTest, PortForwardPrefixesPortAndRelays) {
  AnswerOnce listener;
  runtime::v1::PortForwardRequest pf;
  pf.set_pod_sandbox_id("pod");
  std::string url = *server_->PortForwardUrl(pf) + "?port=" + std::to_string(listener.port());
  WsClient c;
  ASSERT_EQ(c.Connect(url, "v4.channel.k8s.io"), 101);
  c.SendChannel(0, "hello");
  auto ch = ByChannel(c.ReadAll());
  std::string prefix{static_cast<char>(listener.port() & 0xff),
                     static_cast<char>(listener.port() >> 8)};
  EXPECT_EQ(ch[0], prefix + "got:hello");
  EXPECT_EQ(ch[1], prefix);  // no error
}

TEST_F(WebSocketTest, PortForwardWithoutPortIs400) {
  runtime::v1::PortForwardRequest pf;
  pf.set_pod_sandbox_id("pod");
  WsClient c;
  EXPECT_EQ(c.Connect(*server_->PortForwardUrl(pf), "v4.channel.k8s.io"), 400);
}

}  // namespace
}  // namespace crius::streaming
