// The streaming server end to end through real loopback sockets, with the
// fake backend (streaming/testing/fake_backend.h) behind it and our SPDY
// client role in front.
#include "streaming/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "common/unique_fd.h"
#include "nlohmann/json.hpp"
#include "streaming/client.h"
#include "streaming/spdy_frame.h"
#include "streaming/testing/fake_backend.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

// Waits for `cond` up to `limit`; the tests never sleep a fixed time.
bool WaitFor(const std::function<bool()>& cond, absl::Duration limit = absl::Seconds(10)) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return cond();
}

std::string ListFds() {
  std::string out;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[256] = {};
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    (void)!readlink(path.c_str(), target, sizeof(target) - 1);
    out += std::string(e->d_name) + "->" + target + " ";
  }
  closedir(d);
  return out;
}

int CountFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

runtime::v1::ExecRequest ExecReq(std::vector<std::string> cmd, bool in = false, bool tty = false) {
  runtime::v1::ExecRequest r;
  r.set_container_id("c1");
  for (auto& c : cmd) r.add_cmd(c);
  r.set_stdin(in);
  r.set_stdout(true);
  r.set_stderr(!tty);
  r.set_tty(tty);
  return r;
}

class StreamingServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  void StartServer(ServerOptions o) {
    if (server_) server_->Stop();
    auto s = Server::Start(o, &backend_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }
  std::string Url(const runtime::v1::ExecRequest& r) {
    auto u = server_->ExecUrl(r);
    EXPECT_TRUE(u.ok()) << u.status();
    return u.value_or("");
  }
  // An upgrade request with raw headers; returns the answer.
  UpgradeResult Upgrade(const std::string& url, const std::string& extra,
                        asio::io_context& io, asio::ip::tcp::socket& socket) {
    (void)io;
    auto r = DialUpgrade(socket, url, "POST", extra);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.value_or(UpgradeResult{});
  }

  testing::FakeBackend backend_;
  std::unique_ptr<Server> server_;
};

nlohmann::json StatusOf(const RemoteCommandResult& r) {
  return nlohmann::json::parse(r.error, nullptr, false);
}

TEST_F(StreamingServerTest, UrlsAreAbsoluteOnTheBoundAddress) {
  EXPECT_THAT(server_->BaseUrl(), ::testing::StartsWith("http://127.0.0.1:"));
  EXPECT_THAT(Url(ExecReq({"echo", "x"})), ::testing::StartsWith(server_->BaseUrl() + "/exec/"));
  runtime::v1::PortForwardRequest pf;
  pf.set_pod_sandbox_id("p");
  EXPECT_THAT(*server_->PortForwardUrl(pf),
              ::testing::StartsWith(server_->BaseUrl() + "/portforward/"));
  runtime::v1::ExecRequest bad = ExecReq({"echo"});
  bad.set_stdout(false);
  bad.set_stderr(false);
  EXPECT_EQ(server_->ExecUrl(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StreamingServerTest, ExecWithoutTtyReturnsStdoutAndSuccess) {
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"echo", "hello"})), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->protocol, "v4.channel.k8s.io");
  EXPECT_EQ(r->out, "hello");
  EXPECT_EQ(r->err, "");
  EXPECT_EQ(StatusOf(*r)["status"], "Success");
}

TEST_F(StreamingServerTest, ExecWithStdinPassesEveryByteBothWays) {
  // Well past the 64 KiB windows: flow control has to move.
  std::string data;
  for (int i = 0; i < 300000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  RemoteCommandOptions o;
  o.stdin = true;
  o.stdin_data = data;
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"cat"}, true)), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out.size(), data.size());
  EXPECT_TRUE(r->out == data);
  EXPECT_EQ(StatusOf(*r)["status"], "Success");
}

TEST_F(StreamingServerTest, ExecWithTtyGetsTerminalAndResizes) {
  RemoteCommandOptions o;
  o.tty = true;
  o.stderr = false;
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"tty"}, false, true)), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "/dev/pts/0\n");

  o.resizes = {{100, 40}};
  r = RunSpdyRemoteCommand(Url(ExecReq({"size"}, false, true)), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "40 100\n");
}

TEST_F(StreamingServerTest, NonZeroExitIsReportedAsKubernetesStatus) {
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"exit", "3"})), {});
  ASSERT_TRUE(r.ok()) << r.status();
  auto s = StatusOf(*r);
  EXPECT_EQ(s["status"], "Failure");
  EXPECT_EQ(s["reason"], "NonZeroExitCode");
  EXPECT_EQ(s["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(s["details"]["causes"][0]["message"], "3");
  EXPECT_THAT(s["message"].get<std::string>(),
              HasSubstr("command terminated with non-zero exit code"));
}

TEST_F(StreamingServerTest, OlderProtocolsGetTheErrorAsText) {
  RemoteCommandOptions o;
  o.protocols = {"v2.channel.k8s.io"};
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"exit", "7"})), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->protocol, "v2.channel.k8s.io");
  EXPECT_THAT(r->error, HasSubstr("exit status 7"));
  r = RunSpdyRemoteCommand(Url(ExecReq({"echo", "ok"})), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->error, "");  // success is silence before v4
  EXPECT_EQ(r->out, "ok");
}

TEST_F(StreamingServerTest, BackendErrorsReachTheClient) {
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"no-such-command"})), {});
  ASSERT_TRUE(r.ok()) << r.status();
  auto s = StatusOf(*r);
  EXPECT_EQ(s["status"], "Failure");
  EXPECT_THAT(s["message"].get<std::string>(), HasSubstr("no-such-command"));
}

TEST_F(StreamingServerTest, AttachCopiesStdin) {
  runtime::v1::AttachRequest a;
  a.set_container_id("c1");
  a.set_stdin(true);
  a.set_stdout(true);
  a.set_stderr(true);
  auto url = server_->AttachUrl(a);
  ASSERT_TRUE(url.ok());
  RemoteCommandOptions o;
  o.stdin = true;
  o.stdin_data = "typed into the container\n";
  auto r = RunSpdyRemoteCommand(*url, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, o.stdin_data);
  EXPECT_EQ(StatusOf(*r)["status"], "Success");
}

// A loopback listener the test owns: answers each connection with
// "got:" + everything it read until the client half-closed.
class EchoListener {
 public:
  EchoListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_.get(), 64), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c.valid()) return;  // shut down
        std::string got;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(c.get(), buf, sizeof(buf))) > 0) got.append(buf, n);
        std::string answer = "got:" + got;
        (void)!::write(c.get(), answer.data(), answer.size());
      }
    });
  }
  ~EchoListener() {
    ::shutdown(fd_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(StreamingServerTest, PortForwardRelaysBothWaysWithHalfClose) {
  EchoListener listener;
  runtime::v1::PortForwardRequest pf;
  pf.set_pod_sandbox_id("pod");
  auto url = server_->PortForwardUrl(pf);
  ASSERT_TRUE(url.ok());
  std::string big(200000, 'q');
  auto r = RunSpdyPortForwardOnce(*url, listener.port(), "GET / HTTP/1.0\r\n\r\n" + big);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->data, "got:GET / HTTP/1.0\r\n\r\n" + big);
  EXPECT_EQ(r->error, "");
}

TEST_F(StreamingServerTest, PortForwardDialErrorGoesToTheErrorStream) {
  int port;
  {
    EchoListener l;  // a port that was just closed: nothing listens there
    port = l.port();
  }
  runtime::v1::PortForwardRequest pf;
  pf.set_pod_sandbox_id("pod");
  auto r = RunSpdyPortForwardOnce(*server_->PortForwardUrl(pf), port, "x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->error, HasSubstr("error forwarding port"));
  EXPECT_EQ(r->data, "");
}

TEST_F(StreamingServerTest, TokensAreSingleUseAndUnknownOnesAre404) {
  std::string url = Url(ExecReq({"echo", "once"}));
  ASSERT_TRUE(RunSpdyRemoteCommand(url, {}).ok());
  asio::io_context io;
  asio::ip::tcp::socket s1(io);
  auto again = Upgrade(url, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n", io, s1);
  EXPECT_EQ(again.status, 404);
  asio::ip::tcp::socket s2(io);
  auto unknown = Upgrade(server_->BaseUrl() + "/exec/AAAAAAAAAAAAAAAAAAAAAA",
                         "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n", io, s2);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "404 page not found\n");
}

TEST_F(StreamingServerTest, ExpiredTokensAre404) {
  ServerOptions o;
  o.token_ttl = absl::Milliseconds(1);
  StartServer(o);
  std::string url = Url(ExecReq({"echo", "late"}));
  absl::SleepFor(absl::Milliseconds(5));  // past the TTL; not a timing assertion
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  EXPECT_EQ(Upgrade(url, "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n", io, s).status, 404);
}

TEST_F(StreamingServerTest, MalformedUpgradeIs400AndNoCommonProtocolIs403) {
  asio::io_context io;
  asio::ip::tcp::socket s1(io);
  EXPECT_EQ(Upgrade(Url(ExecReq({"echo"})), "Connection: keep-alive\r\n", io, s1).status, 400);
  asio::ip::tcp::socket s2(io);
  auto r = Upgrade(Url(ExecReq({"echo"})),
                   "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
                   "v99.channel.k8s.io\r\n",
                   io, s2);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("unable to negotiate protocol"));
  asio::ip::tcp::socket s3(io);
  boost::system::error_code ec;
  s3.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                     static_cast<uint16_t>(std::stoi(
                                         server_->BaseUrl().substr(server_->BaseUrl().rfind(':') + 1)))),
             ec);
  ASSERT_FALSE(ec);
  asio::write(s3, asio::buffer(std::string("this is not http\r\n\r\n")), ec);
  std::string answer;
  char buf[512];
  size_t n;
  while ((n = s3.read_some(asio::buffer(buf), ec)) > 0 && !ec) answer.append(buf, n);
  EXPECT_THAT(answer, ::testing::StartsWith("HTTP/1.1 400"));
}

TEST_F(StreamingServerTest, GarbageFramesCloseOnlyThatSession) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  auto up = Upgrade(Url(ExecReq({"echo"})),
                    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
                    "v4.channel.k8s.io\r\n",
                    io, s);
  ASSERT_EQ(up.status, 101);
  // A SYN_STREAM whose header block is not zlib at all.
  std::string junk = {'\x80', '\x03', '\x00', '\x01', 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0,
                      0, 0, 'j', 'u', 'n', 'k'};
  boost::system::error_code ec;
  asio::write(s, asio::buffer(junk), ec);
  char buf[512];
  while (!ec) s.read_some(asio::buffer(buf), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  // The server still serves.
  auto r = RunSpdyRemoteCommand(Url(ExecReq({"echo", "still here"})), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "still here");
}

TEST_F(StreamingServerTest, ClientThatNeverOpensStreamsIsDropped) {
  ServerOptions o;
  o.stream_creation_timeout = absl::Milliseconds(200);
  StartServer(o);
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  auto up = Upgrade(Url(ExecReq({"echo"})),
                    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
                    "v4.channel.k8s.io\r\n",
                    io, s);
  ASSERT_EQ(up.status, 101);
  boost::system::error_code ec;
  char buf[512];
  while (!ec) s.read_some(asio::buffer(buf), ec);  // returns once the server drops us
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
}

TEST_F(StreamingServerTest, ClientVanishingCancelsTheCallAndLeaksNoFd) {
  // One session first, so the fds the server creates lazily (the io
  // contexts' epoll sets) are in the baseline.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(RunSpdyRemoteCommand(Url(ExecReq({"echo", "warm"})), {}).ok());
  int before = CountFds();
  std::thread client([&] {
    RemoteCommandOptions o;
    o.stdin = true;
    o.keep_stdin_open = true;
    o.timeout = std::chrono::seconds(1);  // the client gives up and disappears
    auto r = RunSpdyRemoteCommand(Url(ExecReq({"cat"}, true)), o);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  });
  ASSERT_TRUE(WaitFor([&] { return backend_.running_calls() == 1; }));
  client.join();
  EXPECT_TRUE(WaitFor([&] { return backend_.cancelled_calls() == 1; }));
  EXPECT_TRUE(WaitFor([&] { return backend_.running_calls() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return CountFds() <= before; }))
      << "fds before " << before << " after " << CountFds() << ": " << ListFds();
}

TEST_F(StreamingServerTest, FiftyConcurrentSessions) {
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < 50; ++i) {
    std::string url = Url(ExecReq({"echo", "session", std::to_string(i)}));
    clients.emplace_back([url, i, &good] {
      auto r = RunSpdyRemoteCommand(url, {});
      if (r.ok() && r->out == "session " + std::to_string(i) && r->error.find("Success") != std::string::npos) {
        ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 50);
}

TEST_F(StreamingServerTest, StopCancelsRunningSessions) {
  std::thread client([url = Url(ExecReq({"sleep", "60"}))] {
    RemoteCommandOptions o;
    o.timeout = std::chrono::seconds(30);
    (void)RunSpdyRemoteCommand(url, o);
  });
  ASSERT_TRUE(WaitFor([&] { return backend_.running_calls() == 1; }));
  server_->Stop();  // returns only once the call was cancelled and joined
  EXPECT_EQ(backend_.running_calls(), 0);
  EXPECT_EQ(backend_.cancelled_calls(), 1);
  client.join();
}

}  // namespace
}  // namespace crius::streaming
