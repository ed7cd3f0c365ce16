#pragma once
// The Os seam: the syscalls whose failures the daemon must handle (mounts,
// namespaces, signals, filesystem changes) go through this interface, passed
// in by constructor, so unit tests can fake them and inject errors without
// root. RealOs is the one production implementation; it is stateless, so a
// single instance can be shared by every thread.
//
// Every failure is an ErrnoStatus whose message names the call and its
// arguments, e.g. `mount("overlay", "/run/x", "overlay", 0x0, "..."): ...`.

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace crius {

class Os {
 public:
  virtual ~Os() = default;

  virtual absl::Status Mount(const std::string& source, const std::string& target,
                             const std::string& fstype, unsigned long flags,
                             const std::string& data) = 0;
  // umount2(2); `flags` such as MNT_DETACH.
  virtual absl::Status Unmount(const std::string& target, int flags) = 0;
  virtual absl::Status Unshare(int flags) = 0;
  virtual absl::Status Setns(int fd, int nstype) = 0;
  virtual absl::Status Kill(pid_t pid, int sig) = 0;

  // O_CLOEXEC is always added: no descriptor the daemon opens may leak into
  // a child it spawns.
  virtual absl::StatusOr<UniqueFd> Open(const std::string& path, int flags, mode_t mode) = 0;
  virtual absl::Status Mkdir(const std::string& path, mode_t mode) = 0;
  virtual absl::Status Unlink(const std::string& path) = 0;
  virtual absl::Status Rmdir(const std::string& path) = 0;
  // Creates `link_path` pointing at `target`, in symlink(2)'s order.
  virtual absl::Status Symlink(const std::string& target, const std::string& link_path) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Chmod(const std::string& path, mode_t mode) = 0;
  // Does not follow a final symlink (lchown), so a planted link cannot
  // hand a host file to a container's user.
  virtual absl::Status Lchown(const std::string& path, uid_t uid, gid_t gid) = 0;
  virtual absl::Status Sethostname(const std::string& name) = 0;

  virtual absl::StatusOr<struct stat> Stat(const std::string& path) = 0;
  virtual absl::StatusOr<struct stat> Lstat(const std::string& path) = 0;
  // Whether anything (even a dangling symlink) is at `path`. Only "does not
  // exist" is false; other errors (EACCES, ENOTDIR...) are returned.
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
};

class RealOs final : public Os {
 public:
  absl::Status Mount(const std::string& source, const std::string& target,
                     const std::string& fstype, unsigned long flags,
                     const std::string& data) override;
  absl::Status Unmount(const std::string& target, int flags) override;
  absl::Status Unshare(int flags) override;
  absl::Status Setns(int fd, int nstype) override;
  absl::Status Kill(pid_t pid, int sig) override;
  absl::StatusOr<UniqueFd> Open(const std::string& path, int flags, mode_t mode) override;
  absl::Status Mkdir(const std::string& path, mode_t mode) override;
  absl::Status Unlink(const std::string& path) override;
  absl::Status Rmdir(const std::string& path) override;
  absl::Status Symlink(const std::string& target, const std::string& link_path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Chmod(const std::string& path, mode_t mode) override;
  absl::Status Lchown(const std::string& path, uid_t uid, gid_t gid) override;
  absl::Status Sethostname(const std::string& name) override;
  absl::StatusOr<struct stat> Stat(const std::string& path) override;
  absl::StatusOr<struct stat> Lstat(const std::string& path) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
};

}  // namespace crius
