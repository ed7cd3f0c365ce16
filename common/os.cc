#include "common/os.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace crius {
namespace {

// Arguments are quoted and escaped so an empty or odd path is visible in
// the message rather than silently blank.
std::string Q(const std::string& s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

// Errors carry the call, its arguments and errno's canonical code.
absl::Status Check(int rc, const std::string& call) {
  return rc == 0 ? absl::OkStatus() : ErrnoStatus(call);
}

std::string NsTypeName(int nstype) {
  switch (nstype) {
    case 0: return "any";
    case CLONE_NEWNET: return "CLONE_NEWNET";
    case CLONE_NEWIPC: return "CLONE_NEWIPC";
    case CLONE_NEWUTS: return "CLONE_NEWUTS";
    case CLONE_NEWPID: return "CLONE_NEWPID";
    case CLONE_NEWNS: return "CLONE_NEWNS";
    case CLONE_NEWUSER: return "CLONE_NEWUSER";
    case CLONE_NEWCGROUP: return "CLONE_NEWCGROUP";
    default: return absl::StrFormat("0x%x", nstype);
  }
}

}  // namespace

absl::Status RealOs::Mount(const std::string& source, const std::string& target,
                           const std::string& fstype, unsigned long flags,
                           const std::string& data) {
  // Empty source/fstype/data mean "none" to the kernel (remount, bind and
  // propagation changes pass NULL), not an empty string.
  auto c = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
  int rc = ::mount(c(source), target.c_str(), c(fstype), flags, c(data));
  return Check(rc, absl::StrFormat("mount(%s, %s, %s, 0x%x, %s)", Q(source), Q(target), Q(fstype),
                                   flags, Q(data)));
}

absl::Status RealOs::Unmount(const std::string& target, int flags) {
  return Check(::umount2(target.c_str(), flags),
               absl::StrFormat("umount2(%s, 0x%x)", Q(target), flags));
}

absl::Status RealOs::Unshare(int flags) {
  return Check(::unshare(flags), absl::StrFormat("unshare(0x%x)", flags));
}

absl::Status RealOs::Setns(int fd, int nstype) {
  return Check(::setns(fd, nstype), absl::StrCat("setns(fd ", fd, ", ", NsTypeName(nstype), ")"));
}

absl::Status RealOs::Kill(pid_t pid, int sig) {
  return Check(::kill(pid, sig), absl::StrCat("kill(", pid, ", ", sig, ")"));
}

absl::StatusOr<UniqueFd> RealOs::Open(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(absl::StrFormat("open(%s, 0x%x, 0%o)", Q(path), flags, mode));
  return UniqueFd(fd);
}

absl::Status RealOs::Mkdir(const std::string& path, mode_t mode) {
  return Check(::mkdir(path.c_str(), mode), absl::StrFormat("mkdir(%s, 0%o)", Q(path), mode));
}

absl::Status RealOs::Unlink(const std::string& path) {
  return Check(::unlink(path.c_str()), absl::StrCat("unlink(", Q(path), ")"));
}

absl::Status RealOs::Rmdir(const std::string& path) {
  return Check(::rmdir(path.c_str()), absl::StrCat("rmdir(", Q(path), ")"));
}

absl::Status RealOs::Symlink(const std::string& target, const std::string& link_path) {
  return Check(::symlink(target.c_str(), link_path.c_str()),
               absl::StrCat("symlink(", Q(target), ", ", Q(link_path), ")"));
}

absl::Status RealOs::Rename(const std::string& from, const std::string& to) {
  return Check(::rename(from.c_str(), to.c_str()),
               absl::StrCat("rename(", Q(from), ", ", Q(to), ")"));
}

absl::Status RealOs::Chmod(const std::string& path, mode_t mode) {
  return Check(::chmod(path.c_str(), mode), absl::StrFormat("chmod(%s, 0%o)", Q(path), mode));
}

absl::Status RealOs::Lchown(const std::string& path, uid_t uid, gid_t gid) {
  return Check(::lchown(path.c_str(), uid, gid),
               absl::StrCat("lchown(", Q(path), ", ", uid, ", ", gid, ")"));
}

absl::Status RealOs::Sethostname(const std::string& name) {
  return Check(::sethostname(name.data(), name.size()), absl::StrCat("sethostname(", Q(name), ")"));
}

absl::StatusOr<struct stat> RealOs::Stat(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(absl::StrCat("stat(", Q(path), ")"));
  return st;
}

absl::StatusOr<struct stat> RealOs::Lstat(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus(absl::StrCat("lstat(", Q(path), ")"));
  return st;
}

absl::StatusOr<bool> RealOs::Exists(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus(absl::StrCat("lstat(", Q(path), ")"));
}

}  // namespace crius
