#pragma once
// MockOs: a gmock Os for unit tests of modules that mount, unshare, signal or
// touch the filesystem, so they run without root and can inject any errno.
//
//   MockOs os;
//   EXPECT_CALL(os, Mount(_, "/run/netns/p1", _, MS_BIND, _))
//       .WillOnce(Return(absl::PermissionDeniedError("mount: EPERM")));
//
// Open returns a move-only UniqueFd, so give it an action that builds one:
//   .WillOnce([](auto&&...) { return UniqueFd(::open("/dev/null", O_RDONLY)); })

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "common/os.h"
#include "gmock/gmock.h"

namespace crius::testing {

class MockOs : public Os {
 public:
  MOCK_METHOD(absl::Status, Mount,
              (const std::string& source, const std::string& target, const std::string& fstype,
               unsigned long flags, const std::string& data),
              (override));
  MOCK_METHOD(absl::Status, Unmount, (const std::string& target, int flags), (override));
  MOCK_METHOD(absl::Status, Unshare, (int flags), (override));
  MOCK_METHOD(absl::Status, Setns, (int fd, int nstype), (override));
  MOCK_METHOD(absl::Status, Kill, (pid_t pid, int sig), (override));
  MOCK_METHOD(absl::StatusOr<UniqueFd>, Open, (const std::string& path, int flags, mode_t mode),
              (override));
  MOCK_METHOD(absl::Status, Mkdir, (const std::string& path, mode_t mode), (override));
  MOCK_METHOD(absl::Status, Unlink, (const std::string& path), (override));
  MOCK_METHOD(absl::Status, Rmdir, (const std::string& path), (override));
  MOCK_METHOD(absl::Status, Symlink, (const std::string& target, const std::string& link_path),
              (override));
  MOCK_METHOD(absl::Status, Rename, (const std::string& from, const std::string& to), (override));
  MOCK_METHOD(absl::Status, Chmod, (const std::string& path, mode_t mode), (override));
  MOCK_METHOD(absl::Status, Lchown, (const std::string& path, uid_t uid, gid_t gid), (override));
  MOCK_METHOD(absl::Status, Sethostname, (const std::string& name), (override));
  MOCK_METHOD(absl::StatusOr<struct stat>, Stat, (const std::string& path), (override));
  MOCK_METHOD(absl::StatusOr<struct stat>, Lstat, (const std::string& path), (override));
  MOCK_METHOD(absl::StatusOr<bool>, Exists, (const std::string& path), (override));
};

}  // namespace crius::testing
