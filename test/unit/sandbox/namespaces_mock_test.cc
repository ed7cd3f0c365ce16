// The pinning and removal logic against a mock Os: the order of mounts and
// unmounts, and that every failure leaves nothing behind. No root needed.

#include <fcntl.h>
#include <sys/mount.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/namespaces.h"
#include "test/unit/common/mock_os.h"

namespace crius::sandbox {
namespace {

using ::crius::testing::MockOs;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::StrictMock;

constexpr int kPinFlags = O_RDONLY | O_CREAT | O_EXCL;

auto OpenDevNull() {
  return [](auto&&...) -> absl::StatusOr<UniqueFd> {
    return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  };
}

NamespaceSpec FullSpec() {
  NamespaceSpec spec;
  spec.netns_dir = "/run/netns";
  spec.netns_name = "p1";
  spec.pin_dir = "/state/pods/p1/ns";
  spec.hostname = "p1";
  return spec;
}

TEST(PinNamespaces, PinsNetIpcUtsInOrder) {
  StrictMock<MockOs> os;
  {
    InSequence seq;
    for (const char* ns : {"net", "ipc", "uts"}) {
      std::string target =
          std::string(ns) == "net" ? "/run/netns/p1" : std::string("/state/pods/p1/ns/") + ns;
      EXPECT_CALL(os, Open(target, kPinFlags, 0)).WillOnce(OpenDevNull());
      EXPECT_CALL(os, Mount(std::string("/proc/42/ns/") + ns, target, "", MS_BIND, ""))
          .WillOnce(Return(absl::OkStatus()));
    }
  }
  auto pinned = PinNamespaces(os, FullSpec(), "/proc/42/ns");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->net, "/run/netns/p1");
  EXPECT_EQ(pinned->ipc, "/state/pods/p1/ns/ipc");
  EXPECT_EQ(pinned->uts, "/state/pods/p1/ns/uts");
  EXPECT_EQ(pinned->pin_dir, "/state/pods/p1/ns");
}

TEST(PinNamespaces, MountFailureOnSecondPinRemovesTheFirst) {
  StrictMock<MockOs> os;
  {
    InSequence seq;
    EXPECT_CALL(os, Open("/run/netns/p1", kPinFlags, 0)).WillOnce(OpenDevNull());
    EXPECT_CALL(os, Mount("/proc/42/ns/net", "/run/netns/p1", "", MS_BIND, ""))
        .WillOnce(Return(absl::OkStatus()));
    EXPECT_CALL(os, Open("/state/pods/p1/ns/ipc", kPinFlags, 0)).WillOnce(OpenDevNull());
    EXPECT_CALL(os, Mount("/proc/42/ns/ipc", "/state/pods/p1/ns/ipc", "", MS_BIND, ""))
        .WillOnce(Return(absl::PermissionDeniedError("mount: EPERM")));
    // The failed pin is only a file; the first one is a mount and a file.
    EXPECT_CALL(os, Unlink("/state/pods/p1/ns/ipc")).WillOnce(Return(absl::OkStatus()));
    EXPECT_CALL(os, Unmount("/run/netns/p1", 0)).WillOnce(Return(absl::OkStatus()));
    EXPECT_CALL(os, Unlink("/run/netns/p1")).WillOnce(Return(absl::OkStatus()));
  }
  auto pinned = PinNamespaces(os, FullSpec(), "/proc/42/ns");
  EXPECT_TRUE(absl::IsPermissionDenied(pinned.status())) << pinned.status();
  EXPECT_THAT(std::string(pinned.status().message()), HasSubstr("pin ipc namespace"));
}

TEST(PinNamespaces, ExistingPinIsAlreadyExistsAndUntouched) {
  StrictMock<MockOs> os;
  EXPECT_CALL(os, Open("/run/netns/p1", kPinFlags, 0))
      .WillOnce(Return(absl::AlreadyExistsError("open: EEXIST")));
  auto pinned = PinNamespaces(os, FullSpec(), "/proc/42/ns");
  EXPECT_TRUE(absl::IsAlreadyExists(pinned.status())) << pinned.status();
}

TEST(PinNamespaces, HostModesPinOnlyTheRest) {
  StrictMock<MockOs> os;
  NamespaceSpec spec = FullSpec();
  spec.net = false;
  spec.ipc = false;
  EXPECT_CALL(os, Open("/state/pods/p1/ns/uts", kPinFlags, 0)).WillOnce(OpenDevNull());
  EXPECT_CALL(os, Mount("/proc/42/ns/uts", "/state/pods/p1/ns/uts", "", MS_BIND, ""))
      .WillOnce(Return(absl::OkStatus()));
  auto pinned = PinNamespaces(os, spec, "/proc/42/ns");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->net, "");
  EXPECT_EQ(pinned->ipc, "");
  EXPECT_EQ(pinned->uts, "/state/pods/p1/ns/uts");
}

TEST(RemovePodNamespaces, BusyMountIsDetachedAndMissingPinsAreFine) {
  StrictMock<MockOs> os;
  {
    InSequence seq;
    EXPECT_CALL(os, Unmount("/run/netns/p1", 0))
        .WillOnce(Return(absl::UnavailableError("umount: EBUSY")));
    EXPECT_CALL(os, Unmount("/run/netns/p1", MNT_DETACH)).WillOnce(Return(absl::OkStatus()));
    EXPECT_CALL(os, Unlink("/run/netns/p1")).WillOnce(Return(absl::OkStatus()));
    // Not a mount point any more, file already gone: both fine.
    EXPECT_CALL(os, Unmount("/s/ns/ipc", 0))
        .WillOnce(Return(absl::InvalidArgumentError("umount: EINVAL")));
    EXPECT_CALL(os, Unlink("/s/ns/ipc")).WillOnce(Return(absl::NotFoundError("ENOENT")));
    EXPECT_CALL(os, Unmount("/s/ns/uts", 0)).WillOnce(Return(absl::NotFoundError("ENOENT")));
    EXPECT_CALL(os, Unlink("/s/ns/uts")).WillOnce(Return(absl::NotFoundError("ENOENT")));
    EXPECT_CALL(os, Rmdir("/s/ns")).WillOnce(Return(absl::NotFoundError("ENOENT")));
  }
  PinnedNamespaces pinned{"/run/netns/p1", "/s/ns/ipc", "/s/ns/uts", "/s/ns"};
  EXPECT_TRUE(RemovePodNamespaces(os, pinned).ok());
}

TEST(RemovePodNamespaces, TriesEverythingAndReturnsTheFirstError) {
  StrictMock<MockOs> os;
  EXPECT_CALL(os, Unmount("/run/netns/p1", _))
      .Times(2)
      .WillRepeatedly(Return(absl::PermissionDeniedError("umount: EPERM")));
  EXPECT_CALL(os, Unmount("/s/ns/uts", 0)).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(os, Unlink("/s/ns/uts")).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(os, Rmdir("/s/ns")).WillOnce(Return(absl::OkStatus()));
  PinnedNamespaces pinned{"/run/netns/p1", "", "/s/ns/uts", "/s/ns"};
  absl::Status s = RemovePodNamespaces(os, pinned);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
}

TEST(EnsureSharedNetnsDir, BindsTheDirOntoItselfWhenNotAMountPoint) {
  StrictMock<MockOs> os;
  InSequence seq;
  EXPECT_CALL(os, Mkdir("/run/netns", 0755)).WillOnce(Return(absl::AlreadyExistsError("EEXIST")));
  EXPECT_CALL(os, Mount("", "/run/netns", "", MS_SHARED | MS_REC, ""))
      .WillOnce(Return(absl::InvalidArgumentError("EINVAL")));
  EXPECT_CALL(os, Mount("/run/netns", "/run/netns", "", MS_BIND | MS_REC, ""))
      .WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(os, Mount("", "/run/netns", "", MS_SHARED | MS_REC, ""))
      .WillOnce(Return(absl::OkStatus()));
  EXPECT_TRUE(EnsureSharedNetnsDir(os, "/run/netns").ok());
}

TEST(EnsureSharedNetnsDir, AlreadySharedMountIsOneCall) {
  StrictMock<MockOs> os;
  EXPECT_CALL(os, Mkdir("/run/netns", 0755)).WillOnce(Return(absl::AlreadyExistsError("EEXIST")));
  EXPECT_CALL(os, Mount("", "/run/netns", "", MS_SHARED | MS_REC, ""))
      .WillOnce(Return(absl::OkStatus()));
  EXPECT_TRUE(EnsureSharedNetnsDir(os, "/run/netns").ok());
}

TEST(CreatePodNamespaces, InvalidSpecsTouchNothing) {
  StrictMock<MockOs> os;  // any Os call fails the test
  auto expect_invalid = [&](NamespaceSpec spec) {
    auto r = CreatePodNamespaces(os, spec);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  };
  NamespaceSpec s = FullSpec();
  s.netns_name = "a/b";
  expect_invalid(s);
  s = FullSpec();
  s.netns_name = "..";
  expect_invalid(s);
  s = FullSpec();
  s.pin_dir = "relative/ns";
  expect_invalid(s);
  s = FullSpec();
  s.hostname = "bad host";
  expect_invalid(s);
  s = FullSpec();
  s.sysctls = {{"vm.swappiness", "1"}};
  expect_invalid(s);
  s = FullSpec();
  s.net = false;
  s.sysctls = {{"net.core.somaxconn", "1"}};
  expect_invalid(s);
}

TEST(CreatePodNamespaces, AllHostModesCreateNothing) {
  StrictMock<MockOs> os;
  NamespaceSpec s = FullSpec();
  s.net = s.ipc = s.uts = false;
  auto r = CreatePodNamespaces(os, s);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->net, "");
  EXPECT_EQ(r->ipc, "");
  EXPECT_EQ(r->uts, "");
  EXPECT_EQ(r->pin_dir, "");
}

}  // namespace
}  // namespace crius::sandbox
