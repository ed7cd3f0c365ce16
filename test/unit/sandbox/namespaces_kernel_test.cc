// CreatePodNamespaces / RemovePodNamespaces against the real kernel (root):
// real namespaces, real pins in /run/netns, checked from the outside with
// ip(8), nsenter(1) and the mount table.

#include <limits.h>
#include <sys/mount.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/namespaces.h"
#include "test/unit/common/mock_os.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::sandbox {
namespace {

using ::crius::testing::MockOs;
using ::crius::testing::TempDir;
using ::testing::_;
using ::testing::AnyNumber;
using ::testing::AtLeast;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using ::testing::Return;
using namespace ::crius::sandbox::testing;  // NOLINT

std::string NsLink(const std::string& path) {
  char buf[PATH_MAX] = {};
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::string ReadTrimmed(const std::string& path) {
  auto data = ReadFile(path);
  EXPECT_TRUE(data.ok()) << data.status();
  std::string s = data.value_or("");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class NamespacesKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CRIUS_REQUIRE_ROOT();
    name_ = UniqueName("crius-t");
  }

  // Whatever a test made (or wrongly left) is removed before TempDir goes.
  void TearDown() override {
    for (const auto& p : made_) {
      absl::Status s = RemovePodNamespaces(os_, p);
      EXPECT_TRUE(s.ok()) << s;
    }
    PinnedNamespaces leftovers{JoinPath(kDefaultNetnsDir, name_), JoinPath(PinDir(), "ipc"),
                               JoinPath(PinDir(), "uts"), PinDir()};
    (void)RemovePodNamespaces(os_, leftovers);
  }

  std::string PinDir() const { return dir_.Path("ns"); }
  std::string NetPin() const { return JoinPath(kDefaultNetnsDir, name_); }

  NamespaceSpec Spec() const {
    NamespaceSpec spec;
    spec.netns_name = name_;
    spec.pin_dir = PinDir();
    spec.hostname = "crius-pod";
    return spec;
  }

  absl::StatusOr<PinnedNamespaces> Create(Os& os, const NamespaceSpec& spec) {
    auto r = CreatePodNamespaces(os, spec);
    if (r.ok()) made_.push_back(*r);
    return r;
  }
  absl::StatusOr<PinnedNamespaces> Create(const NamespaceSpec& spec) { return Create(os_, spec); }

  void ExpectPinned(const std::string& pin) {
    EXPECT_TRUE(PathExists(pin)) << pin;
    auto mounts = MountsAt(pin);
    ASSERT_EQ(mounts.size(), 1u) << pin;
    EXPECT_EQ(mounts[0].fstype, "nsfs") << pin;
  }

  void ExpectNothingLeft() {
    EXPECT_FALSE(PathExists(NetPin()));
    EXPECT_TRUE(MountsAt(NetPin()).empty());
    EXPECT_FALSE(PathExists(PinDir()));
    EXPECT_TRUE(MountsAt(PinDir()).empty());
    EXPECT_FALSE(HasChildren()) << "a namespace helper was left behind";
  }

  RealOs os_;
  TempDir dir_;
  std::string name_;
  std::vector<PinnedNamespaces> made_;
};

TEST_F(NamespacesKernelTest, CreatesPinsAndConfiguresEveryNamespace) {
  NamespaceSpec spec = Spec();
  spec.hostname = "crius-pod-a";
  spec.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "0"}, {"kernel.shmmax", "123456789"}};
  std::string node_port_start = ReadTrimmed("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  std::string node_shmmax = ReadTrimmed("/proc/sys/kernel/shmmax");
  std::string my_net = NsLink("/proc/thread-self/ns/net");
  std::string my_ipc = NsLink("/proc/thread-self/ns/ipc");
  std::string my_uts = NsLink("/proc/thread-self/ns/uts");

  auto pinned = Create(spec);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->net, NetPin());
  EXPECT_EQ(pinned->ipc, JoinPath(PinDir(), "ipc"));
  EXPECT_EQ(pinned->uts, JoinPath(PinDir(), "uts"));
  ExpectPinned(pinned->net);
  ExpectPinned(pinned->ipc);
  ExpectPinned(pinned->uts);

  EXPECT_THAT(RunCmd({Tool("ip"), "netns", "list"}), HasSubstr(name_));
  std::string nsenter = Tool("nsenter");
  EXPECT_EQ(RunCmd({nsenter, "--uts=" + pinned->uts, Tool("uname"), "-n"}), "crius-pod-a\n");
  EXPECT_THAT(RunCmd({Tool("ip"), "-n", name_, "-o", "link", "show", "lo"}),
              HasSubstr("<LOOPBACK,UP,"));
  EXPECT_EQ(RunCmd({nsenter, "--net=" + pinned->net, Tool("cat"),
                    "/proc/sys/net/ipv4/ip_unprivileged_port_start"}),
            "0\n");
  EXPECT_EQ(RunCmd({nsenter, "--ipc=" + pinned->ipc, Tool("cat"), "/proc/sys/kernel/shmmax"}),
            "123456789\n");

  // The node and the calling thread are untouched.
  EXPECT_EQ(ReadTrimmed("/proc/sys/net/ipv4/ip_unprivileged_port_start"), node_port_start);
  EXPECT_EQ(ReadTrimmed("/proc/sys/kernel/shmmax"), node_shmmax);
  EXPECT_EQ(NsLink("/proc/thread-self/ns/net"), my_net);
  EXPECT_EQ(NsLink("/proc/thread-self/ns/ipc"), my_ipc);
  EXPECT_EQ(NsLink("/proc/thread-self/ns/uts"), my_uts);
  EXPECT_FALSE(HasChildren()) << "the namespace helper was not reaped";

  ASSERT_TRUE(RemovePodNamespaces(os_, *pinned).ok());
  ExpectNothingLeft();
  EXPECT_THAT(RunCmd({Tool("ip"), "netns", "list"}), ::testing::Not(HasSubstr(name_)));
  // Idempotent: a second remove of the same pod is fine.
  EXPECT_TRUE(RemovePodNamespaces(os_, *pinned).ok());
}

TEST_F(NamespacesKernelTest, HostNetworkPinsOnlyIpcAndUts) {
  NamespaceSpec spec = Spec();
  spec.net = false;
  spec.sysctls = {{"kernel.msgmax", "16384"}};
  auto pinned = Create(spec);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->net, "");
  EXPECT_FALSE(PathExists(NetPin()));
  ExpectPinned(pinned->ipc);
  ExpectPinned(pinned->uts);
  EXPECT_EQ(
      RunCmd({Tool("nsenter"), "--ipc=" + pinned->ipc, Tool("cat"), "/proc/sys/kernel/msgmax"}),
      "16384\n");
  ASSERT_TRUE(RemovePodNamespaces(os_, *pinned).ok());
  ExpectNothingLeft();
}

TEST_F(NamespacesKernelTest, HostIpcAndUtsPinOnlyTheNetwork) {
  NamespaceSpec spec = Spec();
  spec.ipc = spec.uts = false;
  auto pinned = Create(spec);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  ExpectPinned(pinned->net);
  EXPECT_EQ(pinned->ipc, "");
  EXPECT_EQ(pinned->uts, "");
  EXPECT_EQ(pinned->pin_dir, "");
  EXPECT_FALSE(PathExists(PinDir()));
  ASSERT_TRUE(RemovePodNamespaces(os_, *pinned).ok());
  ExpectNothingLeft();
}

TEST_F(NamespacesKernelTest, UnknownSysctlFailsAndLeavesNothing) {
  NamespaceSpec spec = Spec();
  spec.sysctls = {{"kernel.shmmax", "123456789"}, {"net.ipv4.nope", "1"}};
  auto pinned = Create(spec);
  EXPECT_TRUE(absl::IsInvalidArgument(pinned.status())) << pinned.status();
  EXPECT_THAT(std::string(pinned.status().message()), HasSubstr("net.ipv4.nope"));
  ExpectNothingLeft();
}

TEST_F(NamespacesKernelTest, ValueTheKernelRefusesFailsAndLeavesNothing) {
  NamespaceSpec spec = Spec();
  spec.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "not-a-number"}};
  auto pinned = Create(spec);
  EXPECT_TRUE(absl::IsInvalidArgument(pinned.status())) << pinned.status();
  EXPECT_THAT(std::string(pinned.status().message()), HasSubstr("refused"));
  ExpectNothingLeft();
}

TEST_F(NamespacesKernelTest, NodeWideSysctlIsRefusedBeforeAnythingIsMade) {
  NamespaceSpec spec = Spec();
  spec.sysctls = {{"vm.swappiness", "10"}};
  auto pinned = Create(spec);
  EXPECT_TRUE(absl::IsInvalidArgument(pinned.status())) << pinned.status();
  EXPECT_THAT(std::string(pinned.status().message()), HasSubstr("not namespaced"));
  ExpectNothingLeft();
}

TEST_F(NamespacesKernelTest, TakenNetnsNameIsAlreadyExistsAndKeepsTheFirstPod) {
  auto first = Create(Spec());
  ASSERT_TRUE(first.ok()) << first.status();
  NamespaceSpec second = Spec();
  second.pin_dir = dir_.Path("ns2");
  auto r = Create(second);
  EXPECT_TRUE(absl::IsAlreadyExists(r.status())) << r.status();
  EXPECT_FALSE(PathExists(second.pin_dir));
  ExpectPinned(first->net);
  ExpectPinned(first->ipc);
  ASSERT_TRUE(RemovePodNamespaces(os_, *first).ok());
  ExpectNothingLeft();
}

// The real kernel everywhere, except that pinning the IPC namespace (the
// second pin) fails: the network pin already made must be undone.
TEST_F(NamespacesKernelTest, MountFailureOnSecondPinUnwindsTheFirst) {
  NiceMock<MockOs> os;
  ON_CALL(os, Mount).WillByDefault([&](auto&&... a) { return os_.Mount(a...); });
  ON_CALL(os, Unmount).WillByDefault([&](auto&&... a) { return os_.Unmount(a...); });
  ON_CALL(os, Open).WillByDefault([&](auto&&... a) { return os_.Open(a...); });
  ON_CALL(os, Mkdir).WillByDefault([&](auto&&... a) { return os_.Mkdir(a...); });
  ON_CALL(os, Unlink).WillByDefault([&](auto&&... a) { return os_.Unlink(a...); });
  ON_CALL(os, Rmdir).WillByDefault([&](auto&&... a) { return os_.Rmdir(a...); });
  // Later expectations take precedence: every other mount goes through.
  EXPECT_CALL(os, Mount).Times(AnyNumber());
  EXPECT_CALL(os, Mount(_, NetPin(), _, MS_BIND, _)).Times(1);
  EXPECT_CALL(os, Mount(_, EndsWith("/ipc"), _, _, _))
      .WillOnce(Return(absl::PermissionDeniedError("injected")));
  EXPECT_CALL(os, Unmount(NetPin(), _)).Times(AtLeast(1));
  auto pinned = Create(os, Spec());
  EXPECT_TRUE(absl::IsPermissionDenied(pinned.status())) << pinned.status();
  ExpectNothingLeft();
}

// Pods are created from gRPC worker threads; several at once must each get
// their own namespaces and leave every thread where it was.
TEST_F(NamespacesKernelTest, ConcurrentCreatesFromThreads) {
  constexpr int kThreads = 4;
  std::vector<std::string> names(kThreads), hostnames(kThreads);
  std::vector<absl::StatusOr<PinnedNamespaces>> results(kThreads, absl::UnknownError("unset"));
  std::vector<bool> same_ns(kThreads, false);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    names[i] = UniqueName("crius-t");
    hostnames[i] = "pod-" + std::to_string(i);
    threads.emplace_back([&, i] {
      std::string before = NsLink("/proc/thread-self/ns/net") + NsLink("/proc/thread-self/ns/uts");
      NamespaceSpec spec;
      spec.netns_name = names[i];
      spec.pin_dir = dir_.Path("ns-" + std::to_string(i));
      spec.hostname = hostnames[i];
      results[i] = CreatePodNamespaces(os_, spec);
      same_ns[i] =
          before == NsLink("/proc/thread-self/ns/net") + NsLink("/proc/thread-self/ns/uts");
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    if (results[i].ok()) made_.push_back(*results[i]);
  }
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_TRUE(same_ns[i]) << "thread " << i << " changed namespaces";
    EXPECT_EQ(RunCmd({Tool("nsenter"), "--uts=" + results[i]->uts, Tool("uname"), "-n"}),
              hostnames[i] + "\n");
  }
  EXPECT_FALSE(HasChildren());
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(RemovePodNamespaces(os_, *results[i]).ok());
    EXPECT_FALSE(PathExists(results[i]->net));
    EXPECT_FALSE(PathExists(results[i]->pin_dir));
  }
}

}  // namespace
}  // namespace crius::sandbox
