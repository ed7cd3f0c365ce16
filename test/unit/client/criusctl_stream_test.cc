// criusctl exec/attach/port-forward end to end: the fake CRI server answers
// the URLs of an in-process streaming server whose fake backend runs the
// commands (streaming/testing/fake_backend.h), over real loopback sockets.

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
#include <sstream>
#include <thread>

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

  // Runs criusctl against the fake server, stdin from `in_fd`.
  Result Ctl(std::vector<std::string> args, int in_fd = -1) {
    args.insert(args.begin(), {"-r", cri_.endpoint()});
    std::ostringstream out, err;
    int code = RunCriusctl(args, in_fd, out, err);
    return {code, out.str(), err.str()};
  }

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

TEST_F(CriusctlStreamTest, ExecStreamsOutput) {
  Result r = Ctl({"exec", "c1", "echo", "hello", "world"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world");
}

TEST_F(CriusctlStreamTest, ExecExitsWithTheRemoteExitCode) {
  Result r = Ctl({"exec", "c1", "exit", "7"});
  EXPECT_EQ(r.code, 7) << r.err;
}

TEST_F(CriusctlStreamTest, ExecSendsStdinUntilEof) {
  // Bigger than one read and one SPDY window, to go through flow control.
  std::string input;
  for (int i = 0; input.size() < 200 * 1024; ++i)
    input += std::to_string(i) + "\n";
  Result r = CtlWithInput({"exec", "-i", "c1", "cat"}, input);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.size(), input.size());
  EXPECT_TRUE(r.out == input);
}

TEST_F(CriusctlStreamTest, ExecWithTtyAsksForATerminal) {
  Result r = Ctl({"exec", "-t", "c1", "tty"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "/dev/pts/0\n");
}

// A pseudo-terminal as criusctl's stdin: the terminal size goes to the
// command, and the terminal leaves raw mode again when criusctl exits.
TEST_F(CriusctlStreamTest, ExecWithTtySendsTheTerminalSizeAndRestoresIt) {
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

  Result r = Ctl({"exec", "-i", "-t", "c1", "size"}, slave);
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

TEST_F(CriusctlStreamTest, AttachRelaysStdin) {
  Result r = CtlWithInput({"attach", "-i", "c1"}, "typed into the container");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "typed into the container");
}

TEST_F(CriusctlStreamTest, WebSocketTransportIsRefusedClearly) {
  Result r = Ctl({"exec", "--transport", "websocket", "c1", "echo", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("SPDY"));
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

// Sends `data` through the forwarded port and returns the answer.
std::string RoundTrip(int port, const std::string& data) {
  int fd = Connect(port);
  if (fd < 0) return "<connect failed>";
  WriteAll(fd, data);
  shutdown(fd, SHUT_WR);
  std::string answer = ReadAll(fd);
  close(fd);
  return answer;
}

TEST_F(CriusctlStreamTest, PortForwardRelaysEachConnection) {
  ReversingServer pod(2);
  int local = 0;
  int probe = Listen(local);  // a free port for criusctl to listen on
  ASSERT_GE(probe, 0);
  close(probe);
  Result r;
  std::thread ctl([&] {
    r = Ctl({"port-forward", "pod1",
             std::to_string(local) + ":" + std::to_string(pod.port())});
  });
  // Connectable means listening, and criusctl's SIGTERM handler is set.
  int fd = -1;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while ((fd = Connect(local)) < 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GE(fd, 0) << "criusctl never listened";
  std::string first(5000, 'a');
  first += "end";
  WriteAll(fd, first);
  shutdown(fd, SHUT_WR);
  std::string answer = ReadAll(fd);
  close(fd);
  EXPECT_EQ(answer, std::string(first.rbegin(), first.rend()));
  EXPECT_EQ(RoundTrip(local, "second connection"), "noitcennoc dnoces");
  kill(getpid(), SIGTERM);
  ctl.join();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Forwarding from 127.0.0.1:"));
}

}  // namespace
}  // namespace crius::client
