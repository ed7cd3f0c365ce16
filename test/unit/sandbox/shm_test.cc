#include "sandbox/shm.h"

#include <sys/mount.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/mock_os.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::sandbox {
namespace {

using ::crius::testing::MockOs;
using ::crius::testing::TempDir;
using ::testing::Contains;
using ::testing::Return;
using ::testing::StrictMock;
using namespace ::crius::sandbox::testing;  // NOLINT

TEST(MountPodShm, MountsTmpfsWithSafeFlagsAndTheSize) {
  StrictMock<MockOs> os;
  EXPECT_CALL(os, Mkdir("/pod/shm", 0755)).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(os, Mount("shm", "/pod/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                        "mode=1777,size=1048576"))
      .WillOnce(Return(absl::OkStatus()));
  EXPECT_TRUE(MountPodShm(os, "/pod/shm", 1 << 20).ok());
}

TEST(MountPodShm, ZeroSizeMeans64MiB) {
  StrictMock<MockOs> os;
  EXPECT_CALL(os, Mkdir("/pod/shm", 0755)).WillOnce(Return(absl::AlreadyExistsError("EEXIST")));
  EXPECT_CALL(os, Mount("shm", "/pod/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                        "mode=1777,size=67108864"))
      .WillOnce(Return(absl::OkStatus()));
  EXPECT_TRUE(MountPodShm(os, "/pod/shm", 0).ok());
}

class ShmKernelTest : public ::testing::Test {
 protected:
  void SetUp() override { CRIUS_REQUIRE_ROOT(); }
  // Before TempDir is removed: nothing may stay mounted inside it.
  void TearDown() override { (void)UnmountPodShm(os_, path()); }
  std::string path() const { return dir_.Path("shm"); }

  RealOs os_;
  TempDir dir_;
};

TEST_F(ShmKernelTest, MountInfoShowsSizeModeAndFlags) {
  ASSERT_TRUE(MountPodShm(os_, path(), 2 << 20).ok());
  auto mounts = MountsAt(path());
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].fstype, "tmpfs");
  auto opts = SplitOptions(mounts[0].mount_options);
  EXPECT_THAT(opts, Contains("nosuid"));
  EXPECT_THAT(opts, Contains("nodev"));
  EXPECT_THAT(opts, Contains("noexec"));
  auto super = SplitOptions(mounts[0].super_options);
  EXPECT_THAT(super, Contains("size=2048k"));
  // tmpfs lists mode= only when it differs from its default, 1777; stat
  // shows it instead.
  struct stat st {};
  ASSERT_EQ(::stat(path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);

  ASSERT_TRUE(UnmountPodShm(os_, path()).ok());
  EXPECT_TRUE(MountsAt(path()).empty());
  EXPECT_FALSE(PathExists(path()));
  EXPECT_TRUE(UnmountPodShm(os_, path()).ok());  // idempotent
}

TEST_F(ShmKernelTest, UnmountWithNothingMountedIsFine) {
  EXPECT_TRUE(UnmountPodShm(os_, path()).ok());
}

}  // namespace
}  // namespace crius::sandbox
