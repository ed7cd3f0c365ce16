// criusctl exec/attach/port-forward end to end: the fake CRI server answers
// the URLs of an in-process streaming server whose fake backend runs the
// commands (streaming/testing/fake_backend.h), over real loopback sockets.
// The streaming cases run once per --transport (spdy, websocket).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/criusctl.h"
#include "client/stream_client.h"
#include "streaming/server.h"
#include "streaming/testing/fake_backend.h"
#include "test/unit/client/fake_cri_server.h"

namespace crius::client {
namespace {

using ::testing::HasSubstr;
namespace v1 = runtime::v1;

struct Result {
  int code;
  std::string out;
  std::string err;
};

// A loopback TCP socket: listening on a kernel-chosen port, or connected.
int Listen(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      listen(fd, 8) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

class CriusctlStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<streaming::Server>> server =
        streaming::Server::Start({}, &backend_);
    ASSERT_TRUE(server.ok()) << server.status();
    streaming_ = std::move(*server);
    testing::FakeRuntimeService::StreamingHooks hooks;
    hooks.exec = [this](const v1::ExecRequest& r) {
      return streaming_->ExecUrl(r).value_or("");
    };
    hooks.attach = [this](const v1::AttachRequest& r) {
      return streaming_->AttachUrl(r).value_or("");
    };
    hooks.port_forward = [this](const v1::PortForwardRequest& r) {
      return streaming_->PortForwardUrl(r).value_or("");
    };
    cri_.runtime().SetStreamingHooks(std::move(hooks));
  }
  void TearDown() override {
    if (streaming_) streaming_->Stop();
  }

 public:
  // Runs criusctl against the fake server, stdin from `in_fd`.
  Result Ctl(std::vector<std::string> args, int in_fd = -1) {
    args.insert(args.begin(), {"-r", cri_.endpoint()});
    std::ostringstream out, err;
    int code = RunCriusctl(args, in_fd, out, err);
    return {code, out.str(), err.str()};
  }

 protected:
  // Runs criusctl with `input` on a pipe as its stdin.
  Result CtlWithInput(std::vector<std::string> args, const std::string& input) {
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    std::thread writer([&] {
      WriteAll(p[1], input);
      close(p[1]);
    });
    Result r = Ctl(std::move(args), p[0]);
    writer.join();
    close(p[0]);
    return r;
  }

  streaming::testing::FakeBackend backend_;
  std::unique_ptr<streaming::Server> streaming_;
  testing::FakeCriServer cri_;
};

// The same cases over each transport: `Stream({"exec", ...})` is criusctl's
// command line with `--transport <param>` after the subcommand.
class CriusctlTransportTest : public CriusctlStreamTest,
                              public ::testing::WithParamInterface<std::string> {
 protected:
  std::vector<std::string> Stream(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--transport", GetParam()});
    return args;
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, CriusctlTransportTest, ::testing::Values("spdy", "websocket"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(CriusctlTransportTest, ExecStreamsOutput) {
  Result r = Ctl(Stream({"exec", "c1", "echo", "hello", "world"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world");
}

TEST_P(CriusctlTransportTest, ExecExitsWithTheRemoteExitCode) {
  Result r = Ctl(Stream({"exec", "c1", "exit", "7"}));
  EXPECT_EQ(r.code, 7) << r.err;
}

TEST_P(CriusctlTransportTest, ExecSendsStdinUntilEof) {
  // Bigger than one read and one SPDY window, to go through flow control.
  std::string input;
  for (int i = 0; input.size() < 200 * 1024; ++i)
    input += std::to_string(i) + "\n";
  Result r = CtlWithInput(Stream({"exec", "-i", "c1", "cat"}), input);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), input.size());
  EXPECT_TRUE(r.out == input);
}

TEST_P(CriusctlTransportTest, ExecWithTtyAsksForATerminal) {
  Result r = Ctl(Stream({"exec", "-t", "c1", "tty"}));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "/dev/pts/0\n");
}

// A pseudo-terminal as criusctl's stdin: the terminal size goes to the
// command, and the terminal leaves raw mode again when criusctl exits.
TEST_P(CriusctlTransportTest, ExecWithTtySendsTheTerminalSizeAndRestoresIt) {
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(grantpt(master), 0);
  ASSERT_EQ(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  winsize ws{};
  ws.ws_row = 33;
  ws.ws_col = 111;
  ASSERT_EQ(ioctl(slave, TIOCSWINSZ, &ws), 0);
  termios before{};
  ASSERT_EQ(tcgetattr(slave, &before), 0);
  ASSERT_NE(before.c_lflag & ICANON, 0u);  // a cooked terminal to start

  Result r = Ctl(Stream({"exec", "-i", "-t", "c1", "size"}), slave);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "33 111\n");  // the fake's "H W"
  termios after{};
  ASSERT_EQ(tcgetattr(slave, &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  close(slave);
  close(master);
}

TEST_F(CriusctlStreamTest, SyncExecStillUsesExecSync) {
  Result r = Ctl({"exec", "-s", "c1", "exit", "3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "ran: exit 3\n");  // the fake ExecSync's answer
}

TEST_P(CriusctlTransportTest, AttachRelaysStdin) {
  Result r = CtlWithInput(Stream({"attach", "-i", "c1"}), "typed into the container");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "typed into the container");
}

TEST_F(CriusctlStreamTest, AnUnknownTransportIsRefusedClearly) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"exec", "c1", "echo"}, {"attach", "c1"}, {"port-forward", "pod1", "1:2"}}) {
    args.insert(args.begin() + 1, {"--transport", "carrier-pigeon"});
    Result r = Ctl(args);
    EXPECT_EQ(r.code, 1) << args[0];
    EXPECT_THAT(r.err, HasSubstr("spdy or websocket")) << args[0];
  }
}

TEST_P(CriusctlTransportTest, AUsedUrlIsRefusedWithTheServersAnswer) {
  // The hook mints one URL and answers it twice: the second session finds
  // the token spent (404) and criusctl says so instead of hanging.
  v1::ExecRequest req;
  req.set_container_id("c1");
  req.add_cmd("echo");
  req.set_stdout(true);
  std::string url = streaming_->ExecUrl(req).value_or("");
  testing::FakeRuntimeService::StreamingHooks hooks;
  hooks.exec = [url](const v1::ExecRequest&) { return url; };
  cri_.runtime().SetStreamingHooks(std::move(hooks));
  EXPECT_EQ(Ctl(Stream({"exec", "c1", "echo"})).code, 0);
  Result again = Ctl(Stream({"exec", "c1", "echo"}));
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("404"));
}

TEST(ExitCodeFromErrorStreamTest, ReadsEveryProtocolGeneration) {
  EXPECT_EQ(*ExitCodeFromErrorStream(4, R"({"status":"Success"})"), 0);
  EXPECT_EQ(
      *ExitCodeFromErrorStream(
          4, R"({"status":"Failure","reason":"NonZeroExitCode",)"
             R"("details":{"causes":[{"reason":"ExitCode","message":"42"}]}})"),
      42);
  absl::StatusOr<int> failed = ExitCodeFromErrorStream(
      4, R"({"status":"Failure","message":"no such container"})");
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("no such container"));
  EXPECT_EQ(*ExitCodeFromErrorStream(1, ""), 0);
  EXPECT_FALSE(ExitCodeFromErrorStream(1, "exec failed").ok());
}

// The pod side: a loopback listener the test owns, answering each
// connection with what it received, reversed, once the client half-closed.
class ReversingServer {
 public:
  explicit ReversingServer(int connections) {
    fd_ = Listen(port_);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::string got = ReadAll(c);
        WriteAll(c, std::string(got.rbegin(), got.rend()));
        close(c);
      }
    });
  }
  ~ReversingServer() {
    shutdown(fd_, SHUT_RDWR);  // ends a pending accept
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// The pod side for both transports: echoes every connection as it reads
// (a WebSocket tunnel cannot pass on a half-close, so nothing here waits
// for one), each connection on its own thread.
class EchoServer {
 public:
  EchoServer() {
    fd_ = Listen(port_);
    acceptor_ = std::thread([this] {
      while (true) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        std::lock_guard<std::mutex> lock(mu_);
        conns_.push_back(c);
        threads_.emplace_back([c] {
          char buf[4096];
          ssize_t n;
          while ((n = read(c, buf, sizeof(buf))) > 0) {
            if (!WriteAll(c, std::string(buf, n))) return;
          }
        });
      }
    });
  }
  ~EchoServer() {
    shutdown(fd_, SHUT_RDWR);  // ends a pending accept
    acceptor_.join();
    for (int c : conns_) shutdown(c, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int c : conns_) close(c);
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> threads_;
};

// Reads until `n` bytes or EOF.
std::string ReadN(int fd, size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t got = read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (got <= 0) break;
    out.append(buf, got);
  }
  return out;
}

// Starts `args` (a port-forward to `remote`) on a thread and waits until the
// local port it was given accepts; returns that connection.
class PortForwardRun {
 public:
  PortForwardRun(CriusctlStreamTest* t, std::vector<std::string> args, int remote, Result& r) {
    int probe = Listen(local_);  // a free port for criusctl to listen on
    EXPECT_GE(probe, 0);
    close(probe);
    args.push_back(std::to_string(local_) + ":" + std::to_string(remote));
    thread_ = std::thread([t, args, &r] { r = t->Ctl(args); });
  }
  // Connectable means listening, and criusctl's SIGTERM handler is set.
  int Connect() {
    int fd = -1;
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while ((fd = crius::client::Connect(local_)) < 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return fd;
  }
  void Stop() {
    kill(getpid(), SIGTERM);
    thread_.join();
  }
  int local() const { return local_; }

 private:
  int local_ = 0;
  std::thread thread_;
};

TEST_P(CriusctlTransportTest, PortForwardRelaysEachConnection) {
  EchoServer pod;
  Result r;
  PortForwardRun run(this, Stream({"port-forward", "pod1"}), pod.port(), r);
  for (int i = 0; i < 3; ++i) {
    int fd = run.Connect();
    ASSERT_GE(fd, 0) << "criusctl never listened";
    // Bigger than one read on either side.
    std::string data = std::string(50000 + i, static_cast<char>('a' + i)) + "end";
    ASSERT_TRUE(WriteAll(fd, data));
    EXPECT_EQ(ReadN(fd, data.size()), data) << "connection " << i;
    close(fd);
  }
  run.Stop();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Forwarding from 127.0.0.1:"));
}

TEST_P(CriusctlTransportTest, PortForwardToAClosedPortReportsTheServersError) {
  int closed_port = 0;
  close(Listen(closed_port));  // nothing listens there any more
  Result r;
  PortForwardRun run(this, Stream({"port-forward", "pod1"}), closed_port, r);
  int fd = run.Connect();
  ASSERT_GE(fd, 0) << "criusctl never listened";
  EXPECT_EQ(ReadAll(fd), "");  // the tunnel ends without data
  close(fd);
  run.Stop();
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("127.0.0.1:", closed_port)));
}

// SPDY carries a local half-close to the pod (FIN on the data stream): a
// server that answers only after EOF still gets to answer.
TEST_F(CriusctlStreamTest, PortForwardOverSpdyPassesOnTheHalfClose) {
  ReversingServer pod(2);
  Result r;
  PortForwardRun run(this, {"port-forward", "pod1"}, pod.port(), r);
  int fd = run.Connect();
  ASSERT_GE(fd, 0) << "criusctl never listened";
  std::string first(5000, 'a');
  first += "end";
  WriteAll(fd, first);
  shutdown(fd, SHUT_WR);
  std::string answer = ReadAll(fd);
  close(fd);
  EXPECT_EQ(answer, std::string(first.rbegin(), first.rend()));
  fd = run.Connect();
  WriteAll(fd, "second connection");
  shutdown(fd, SHUT_WR);
  EXPECT_EQ(ReadAll(fd), "noitcennoc dnoces");
  close(fd);
  run.Stop();
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace crius::client
