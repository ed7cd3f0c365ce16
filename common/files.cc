#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/unique_fd.h"

namespace crius {
namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The pid tells a human which process left a temp file behind after a crash;
// the counter and random bits keep concurrent writers (threads, or two
// processes sharing a pid namespace view) from ever picking the same name.
std::string TempName(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) rnd = 0;
  return absl::StrFormat("%s/.%s.tmp-%d-%d-%08x", DirName(path), BaseName(path), getpid(),
                         counter.fetch_add(1), rnd);
}

// close() is checked here because on some filesystems (NFS) it is where a
// deferred write error finally surfaces.
absl::Status CloseChecked(UniqueFd fd, const std::string& what) {
  if (::close(fd.release()) != 0 && errno != EINTR) {
    return ErrnoStatus(absl::StrCat("close ", what));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> CreateTemp(const std::string& path, mode_t mode, std::string* name) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    *name = TempName(path);
    int fd = ::open(name->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != EEXIST) return ErrnoStatus(absl::StrCat("create temp file ", *name));
  }
  return absl::AlreadyExistsError(absl::StrCat("no free temp file name for ", path));
}

}  // namespace

absl::Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("write ", AbslView(what)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open directory ", dir));
  if (::fsync(fd.get()) != 0) return ErrnoStatus(absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode,
                             Durability durability) {
  const bool durable = durability == Durability::kDurable;
  std::string tmp;
  ASSIGN_OR_RETURN(UniqueFd fd, CreateTemp(path, mode, &tmp));
  absl::Cleanup remove_tmp = [&tmp] { ::unlink(tmp.c_str()); };
  // fchmod because open() applied the umask, and callers asking for 0600 or
  // 0644 mean exactly that.
  if (::fchmod(fd.get(), mode) != 0) return ErrnoStatus(absl::StrCat("chmod ", tmp));
  RETURN_IF_ERROR(WriteAll(fd.get(), data, tmp));
  if (durable && ::fsync(fd.get()) != 0) return ErrnoStatus(absl::StrCat("fsync ", tmp));
  RETURN_IF_ERROR(CloseChecked(std::move(fd), tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("rename ", tmp, " to ", path));
  }
  std::move(remove_tmp).Cancel();
  return durable ? FsyncDir(DirName(path)) : absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", path));
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("read ", path));
    }
    if (n == 0) return out;
    // Checked before appending so the cap also bounds memory, not just the
    // size reported afterwards.
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("read ", path, ": file is larger than ", max_bytes, " bytes"));
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

bool SystemdIsInit() { return ::access("/run/systemd/system", F_OK) == 0; }

absl::Status MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return absl::InvalidArgumentError("mkdir: empty path");
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), mode) == 0) continue;
    int err = errno;
    if (err != EEXIST) return ErrnoStatus(err, absl::StrCat("mkdir ", prefix));
    // stat() follows symlinks on purpose: a symlink to a directory (e.g. a
    // relocated /var/lib) is a valid parent.
    struct stat st;
    if (::stat(prefix.c_str(), &st) != 0) return ErrnoStatus(absl::StrCat("stat ", prefix));
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("mkdir ", path, ": ", prefix, " exists and is not a directory"));
    }
  }
  return absl::OkStatus();
}

namespace {

// Names are collected and the DIR stream closed before recursing, so each
// level holds just one descriptor (its own directory) while descending.
absl::StatusOr<std::vector<std::string>> ListDir(int dirfd, const std::string& what) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return ErrnoStatus(absl::StrCat("dup ", what));
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    ::close(dup);
    return ErrnoStatus(absl::StrCat("opendir ", what));
  }
  absl::Cleanup close_dir = [dir] { ::closedir(dir); };
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return ErrnoStatus(absl::StrCat("readdir ", what));
  return names;
}

absl::Status RemoveEntry(int parent, const std::string& name, const std::string& what);

absl::Status RemoveContents(int dirfd, const std::string& what) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dirfd, what));
  for (const std::string& name : names) {
    RETURN_IF_ERROR(RemoveEntry(dirfd, name, absl::StrCat(what, "/", name)));
  }
  return absl::OkStatus();
}

absl::Status RemoveEntry(int parent, const std::string& name, const std::string& what) {
  if (::unlinkat(parent, name.c_str(), 0) == 0 || errno == ENOENT) return absl::OkStatus();
  if (errno != EISDIR) return ErrnoStatus(absl::StrCat("unlink ", what));
  // O_NOFOLLOW: if the entry was swapped for a symlink since unlinkat saw a
  // directory, opening fails instead of descending into the link's target.
  UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", what));
  RETURN_IF_ERROR(RemoveContents(fd.get(), what));
  fd.reset();
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("rmdir ", what));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveAll(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("remove: empty path");
  return RemoveEntry(AT_FDCWD, path, path);
}

std::string JoinPath(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) {
    if (part.empty()) continue;
    if (out.empty()) {
      out.assign(part);
      continue;
    }
    while (!part.empty() && part.front() == '/') part.remove_prefix(1);
    if (out.back() != '/') out.push_back('/');
    out.append(part);
  }
  return out;
}

}  // namespace crius
