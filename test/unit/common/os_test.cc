#include "common/os.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/mock_os.h"
#include "test/unit/common/temp_dir.h"

namespace crius {
namespace {

using ::crius::testing::MockOs;
using ::crius::testing::TempDir;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Return;

TEST(RealOsTest, DirectoryAndFileLifecycle) {
  TempDir dir;
  RealOs os;
  std::string d = dir.Path("d");
  ASSERT_TRUE(os.Mkdir(d, 0750).ok());
  EXPECT_TRUE(S_ISDIR(os.Stat(d)->st_mode));

  std::string f = dir.Path("d/f");
  absl::StatusOr<UniqueFd> fd = os.Open(f, O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC) << "Open must add O_CLOEXEC";
  EXPECT_TRUE(*os.Exists(f));

  ASSERT_TRUE(os.Symlink("f", dir.Path("d/l")).ok());
  EXPECT_TRUE(S_ISLNK(os.Lstat(dir.Path("d/l"))->st_mode));
  EXPECT_TRUE(S_ISREG(os.Stat(dir.Path("d/l"))->st_mode));
  ASSERT_TRUE(os.Rename(f, dir.Path("d/g")).ok());
  EXPECT_TRUE(*os.Exists(dir.Path("d/l"))) << "a dangling symlink still exists";
  ASSERT_TRUE(os.Chmod(dir.Path("d/g"), 0640).ok());
  EXPECT_EQ(os.Stat(dir.Path("d/g"))->st_mode & 0777, 0640u);
  ASSERT_TRUE(os.Lchown(dir.Path("d/g"), ::getuid(), ::getgid()).ok());

  ASSERT_TRUE(os.Unlink(dir.Path("d/g")).ok());
  ASSERT_TRUE(os.Unlink(dir.Path("d/l")).ok());
  EXPECT_FALSE(*os.Exists(f));
  ASSERT_TRUE(os.Rmdir(d).ok());
  EXPECT_FALSE(*os.Exists(d));
}

TEST(RealOsTest, ErrorsCarryCodeCallAndArguments) {
  TempDir dir;
  RealOs os;
  absl::Status s = os.Mkdir(dir.path(), 0755);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("mkdir(\"" + dir.path() + "\""));

  absl::StatusOr<UniqueFd> fd = os.Open(dir.Path("missing"), O_RDONLY, 0);
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(fd.status().message(), HasSubstr(dir.Path("missing")));

  EXPECT_EQ(os.Unlink(dir.Path("missing")).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(os.Stat(dir.Path("missing")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(os.Setns(-1, CLONE_NEWNET).message(), HasSubstr("setns(fd -1, CLONE_NEWNET)"));
}

TEST(RealOsTest, ExistsReportsErrorsOtherThanMissing) {
  TempDir dir;
  RealOs os;
  ASSERT_TRUE(os.Open(dir.Path("file"), O_WRONLY | O_CREAT, 0600).ok());
  // A path through a regular file is ENOTDIR, not "does not exist".
  EXPECT_FALSE(os.Exists(dir.Path("file/x")).ok());
}

TEST(RealOsTest, MountFailureNamesTheTarget) {
  TempDir dir;
  RealOs os;
  // Refused as ENODEV (unknown fstype) with root, EPERM without: either way
  // the error must say what was being mounted where.
  absl::Status s = os.Mount("none", dir.path(), "crius-no-such-fs", MS_NOSUID, "opt=1");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("\"" + dir.path() + "\""));
  EXPECT_THAT(s.message(), HasSubstr("crius-no-such-fs"));
  EXPECT_FALSE(os.Unmount(dir.Path("not-a-mount"), MNT_DETACH).ok());
}

TEST(RealOsTest, KillChecksThePid) {
  RealOs os;
  EXPECT_TRUE(os.Kill(::getpid(), 0).ok());
  // Above any pid_max, so it can never name a live process.
  absl::Status s = os.Kill(INT_MAX, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("kill(2147483647, 0)"));
}

// Code under test only sees an Os&; this stands in for later modules.
absl::Status PinNamespace(Os& os, const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, os.Open(path, O_RDONLY | O_CREAT, 0444));
  RETURN_IF_ERROR(Annotate(os.Mount("/proc/self/ns/net", path, "", MS_BIND, ""), "pin netns"));
  return absl::OkStatus();
}

TEST(MockOsTest, InjectedFailuresPropagate) {
  MockOs os;
  EXPECT_CALL(os, Open("/run/netns/p1", _, _)).WillOnce([](auto&&...) {
    return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  });
  EXPECT_CALL(os, Mount(_, "/run/netns/p1", _, MS_BIND, _))
      .WillOnce(Return(absl::PermissionDeniedError("mount: Operation not permitted")));
  absl::Status s = PinNamespace(os, "/run/netns/p1");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(), "pin netns: mount: Operation not permitted");
}

TEST(MockOsTest, OpenFailureStopsBeforeMount) {
  MockOs os;
  EXPECT_CALL(os, Open(_, _, _)).WillOnce(Return(absl::NotFoundError("open: ENOENT")));
  EXPECT_CALL(os, Mount).Times(0);
  EXPECT_EQ(PinNamespace(os, "/x").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace crius
