// DialInNetns against the real kernel as root: a listener inside a network
// namespace the test creates (unique name, deleted after) is reached, the
// caller's own namespace never changes, and refused or invalid ports are
// clear errors.

#include "sandbox/netns_dial.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/os.h"
#include "gtest/gtest.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::sandbox {
namespace {

using namespace ::crius::sandbox::testing;  // NOLINT

std::string ThreadNetns() {
  char buf[128];
  ssize_t n = ::readlink("/proc/thread-self/ns/net", buf, sizeof(buf));
  return n > 0 ? std::string(buf, size_t(n)) : "";
}

// A loopback listener on a kernel-chosen port, made in `netns_path` (empty:
// here) by a thread of the test's own.
struct Listener {
  UniqueFd fd;
  int port = 0;
};

Listener ListenIn(const std::string& netns_path) {
  Listener l;
  std::thread t([&] {
    if (!netns_path.empty()) {
      UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!ns || ::setns(ns.get(), CLONE_NEWNET) != 0) return;
    }
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd.get(), 4) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    l.port = ntohs(addr.sin_port);
    l.fd = std::move(fd);
  });
  t.join();
  EXPECT_TRUE(l.fd) << "listener in " << netns_path;
  return l;
}

class NetnsDialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CRIUS_REQUIRE_ROOT();
    name_ = UniqueName("crius-dial");
    RunCmd({Tool("ip"), "netns", "add", name_});
    RunCmd({Tool("ip"), "-n", name_, "link", "set", "lo", "up"});
    path_ = "/run/netns/" + name_;
  }
  void TearDown() override {
    if (!name_.empty() && PathExists("/run/netns/" + name_)) {
      RunCmd({Tool("ip"), "netns", "del", name_});
    }
  }

  RealOs os_;
  std::string name_, path_;
};

TEST_F(NetnsDialTest, ReachesAListenerInsideThePodNamespace) {
  Listener l = ListenIn(path_);
  ASSERT_GT(l.port, 0);
  const std::string before = ThreadNetns();
  auto conn = DialInNetns(os_, path_, l.port);
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(ThreadNetns(), before) << "the caller's thread changed namespace";
  UniqueFd peer(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(peer) << "the connection did not land in the pod namespace";
  ASSERT_EQ(::write(conn->get(), "ping", 4), 4);
  char buf[8] = {};
  ASSERT_EQ(::read(peer.get(), buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
}

TEST_F(NetnsDialTest, HostNetworkDialsInTheDaemonsNamespace) {
  Listener l = ListenIn("");
  ASSERT_GT(l.port, 0);
  auto conn = DialInNetns(os_, "", l.port);
  ASSERT_TRUE(conn.ok()) << conn.status();
  UniqueFd peer(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(peer);
}

TEST_F(NetnsDialTest, ClosedPortIsUnavailableAndBadInputIsRejected) {
  // A port that was listening and is closed again: nothing listens now.
  int port = 0;
  {
    Listener l = ListenIn(path_);
    port = l.port;
  }
  ASSERT_GT(port, 0);
  auto refused = DialInNetns(os_, path_, port);
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_TRUE(absl::IsInvalidArgument(DialInNetns(os_, path_, 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DialInNetns(os_, path_, 70000).status()));
  EXPECT_FALSE(DialInNetns(os_, "/run/netns/" + name_ + "-none", 80).ok());
}

}  // namespace
}  // namespace crius::sandbox
