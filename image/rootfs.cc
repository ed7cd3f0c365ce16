#include "image/rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/digest.h"

namespace crius::image {
namespace {

constexpr char kLinkDir[] = "l";
constexpr char kEmptyLower[] = ".empty";
// overlayfs refuses more lower layers than this.
constexpr size_t kMaxLowers = 500;
constexpr size_t kMountDataMax = 4095;  // one page, with its NUL
constexpr int kMaxUnmounts = 8;

// The fallback is announced once per process, not on every mount.
std::atomic<bool> g_fallback_logged{false};

absl::Status ValidateId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 128 && id != kLinkDir &&
            std::isalnum(static_cast<unsigned char>(id[0]));
  for (char c : id) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid container id \"", AbslView(id), "\" for a rootfs"));
  }
  return absl::OkStatus();
}

// Decodes the octal escapes (\040 and friends) mountinfo uses for spaces,
// tabs, newlines and backslashes in paths.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out.push_back(static_cast<char>(v));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The messages overlayfs queued on an fs context, for errors worth reading.
std::string FsContextLog(int fs) {
  std::string out;
  char buf[512];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::read(fs, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::Status FsError(int fs, const std::string& what) {
  absl::Status s = ErrnoStatus(what);
  std::string log = FsContextLog(fs);
  return log.empty() ? s : Annotate(s, log);
}

absl::Status MkdirIfMissing(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
  return ErrnoStatus(absl::StrCat("mkdir ", path));
}

}  // namespace

absl::StatusOr<bool> IsMountPoint(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    if (errno == ENOENT) return false;
    return ErrnoStatus(absl::StrCat("resolve ", path));
  }
  ASSIGN_OR_RETURN(std::string info, ReadFile("/proc/self/mountinfo"));
  std::string_view want = resolved;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t eol = info.find('\n', pos);
    if (eol == std::string::npos) eol = info.size();
    std::string_view line(info.data() + pos, eol - pos);
    pos = eol + 1;
    // Fields: id parent major:minor root mount-point ...
    size_t start = 0;
    for (int field = 0; field < 4 && start != std::string_view::npos; ++field) {
      start = line.find(' ', start);
      if (start != std::string_view::npos) ++start;
    }
    if (start == std::string_view::npos) continue;
    size_t end = line.find(' ', start);
    std::string_view mount_point =
        line.substr(start, end == std::string_view::npos ? end : end - start);
    if (Unescape(mount_point) == want) return true;
  }
  return false;
}

class Rootfs::IdLock {
 public:
  IdLock(Rootfs& r, const std::string& id) : r_(r), id_(id) {
    {
      absl::MutexLock lock(&r_.ids_mu_);
      auto& mu = r_.id_locks_[id_];
      if (!mu) mu = std::make_shared<absl::Mutex>();
      mu_ = mu;
    }
    mu_->Lock();
  }
  ~IdLock() {
    mu_->Unlock();
    absl::MutexLock lock(&r_.ids_mu_);
    auto it = r_.id_locks_.find(id_);
    // Nobody else holds or waits for it (the map's reference and ours).
    if (it != r_.id_locks_.end() && it->second.use_count() == 2) r_.id_locks_.erase(it);
  }
  IdLock(const IdLock&) = delete;
  IdLock& operator=(const IdLock&) = delete;

 private:
  Rootfs& r_;
  const std::string id_;
  std::shared_ptr<absl::Mutex> mu_;
};

absl::StatusOr<std::unique_ptr<Rootfs>> Rootfs::Open(Os& os, RootfsOptions options) {
  if (options.root.empty() || options.root[0] != '/') {
    return absl::InvalidArgumentError("rootfs root must be an absolute path");
  }
  for (const char* sub : {kLinkDir, kEmptyLower}) {
    RETURN_IF_ERROR(Annotate(MkdirAll(JoinPath(options.root, sub), 0700), "open rootfs store"));
  }
  return std::unique_ptr<Rootfs>(new Rootfs(os, std::move(options)));
}

std::string Rootfs::Dir(std::string_view container_id) const {
  return JoinPath(options_.root, container_id);
}

std::string Rootfs::MergedPath(std::string_view container_id) const {
  return JoinPath(options_.root, container_id, "merged");
}

absl::StatusOr<std::string> Rootfs::Mount(std::string_view container_id,
                                          const std::vector<std::string>& lower_dirs) {
  RETURN_IF_ERROR(ValidateId(container_id));
  const std::string id(container_id);
  const std::string context = absl::StrCat("mount rootfs of ", id);
  if (lower_dirs.size() > kMaxLowers) {
    return absl::InvalidArgumentError(absl::StrCat(
        context, ": ", lower_dirs.size(), " layers, overlayfs takes at most ", kMaxLowers));
  }
  std::vector<std::string> lowers = lower_dirs;
  if (lowers.empty()) lowers.push_back(JoinPath(options_.root, kEmptyLower));
  for (const std::string& l : lowers) {
    if (l.empty() || l[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": layer directory \"", l, "\" is not absolute"));
    }
  }
  IdLock lock(*this, id);
  const std::string dir = Dir(id);
  RETURN_IF_ERROR(Annotate(MkdirAll(dir, 0700), context));
  RETURN_IF_ERROR(Annotate(MkdirIfMissing(JoinPath(dir, "upper"), 0755), context));
  RETURN_IF_ERROR(Annotate(MkdirIfMissing(JoinPath(dir, "work"), 0700), context));
  RETURN_IF_ERROR(Annotate(MkdirIfMissing(JoinPath(dir, "merged"), 0755), context));
  const std::string merged = MergedPath(id);
  ASSIGN_OR_RETURN(bool mounted, IsMountPoint(merged));
  if (mounted) return merged;

  // Tried on every mount rather than remembered: EINVAL for a layer fd
  // means "too old a kernel" but could also be one bad layer directory.
  if (!options_.force_legacy_mount) {
    absl::Status s = MountNewApi(id, lowers);
    if (s.ok()) return merged;
    if (!absl::IsUnimplemented(s)) return Annotate(s, context);
    if (!g_fallback_logged.exchange(true)) {
      CRIUS_LOG(kInfo) << "overlayfs takes no layer fds here (" << s
                       << "); mounting with short layer links";
    }
  }
  RETURN_IF_ERROR(Annotate(MountLegacy(id, lowers), context));
  return merged;
}

// Unimplemented means "this kernel cannot do it this way": the caller then
// falls back to mount(2). Any other error is the mount's real failure.
absl::Status Rootfs::MountNewApi(const std::string& id,
                                 const std::vector<std::string>& lowers) const {
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) {
    if (errno == ENOSYS || errno == EPERM) return absl::UnimplementedError("fsopen unavailable");
    return ErrnoStatus("fsopen overlay");
  }
  bool first = true;
  auto set_dir = [&](const char* key, const std::string& path) -> absl::Status {
    UniqueFd d(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d) return ErrnoStatus(absl::StrCat("open ", path));
    if (::fsconfig(fs.get(), FSCONFIG_SET_FD, key, nullptr, d.get()) != 0) {
      // Kernels before 6.13 take layers only as strings.
      if (first && (errno == EINVAL || errno == EOPNOTSUPP)) {
        return absl::UnimplementedError(FsError(fs.get(), "fsconfig lowerdir+ fd").ToString());
      }
      return FsError(fs.get(), absl::StrCat("fsconfig ", key, "=", path));
    }
    first = false;
    return absl::OkStatus();
  };
  for (const std::string& lower : lowers) RETURN_IF_ERROR(set_dir("lowerdir+", lower));
  const std::string dir = Dir(id);
  RETURN_IF_ERROR(set_dir("upperdir", JoinPath(dir, "upper")));
  RETURN_IF_ERROR(set_dir("workdir", JoinPath(dir, "work")));
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return FsError(fs.get(), "create overlay");
  }
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return FsError(fs.get(), "fsmount overlay");
  const std::string merged = MergedPath(id);
  if (::move_mount(mnt.get(), "", AT_FDCWD, merged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return ErrnoStatus(absl::StrCat("move_mount to ", merged));
  }
  return absl::OkStatus();
}

// "l/<12 hex>": short enough that even hundreds of layers fit in a page.
absl::StatusOr<std::string> Rootfs::ShortLink(const std::string& layer_dir) {
  std::string name(DigestHex(Sha256Digest(layer_dir)).substr(0, 12));
  std::string link = JoinPath(options_.root, kLinkDir, name);
  if (::symlink(layer_dir.c_str(), link.c_str()) != 0) {
    if (errno != EEXIST) return ErrnoStatus(absl::StrCat("symlink ", link));
    char target[PATH_MAX];
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target));
    if (n < 0 || std::string_view(target, static_cast<size_t>(n)) != layer_dir) {
      return absl::InternalError(
          absl::StrCat("layer link ", link, " does not point at ", layer_dir));
    }
  }
  return absl::StrCat(kLinkDir, "/", name);
}

absl::Status Rootfs::MountLegacy(const std::string& id, const std::vector<std::string>& lowers) {
  std::vector<std::string> links;
  // Held through the mount: a link made here must not be pruned before it.
  absl::ReaderMutexLock links_lock(&links_mu_);
  for (const std::string& lower : lowers) {
    ASSIGN_OR_RETURN(std::string link, ShortLink(lower));
    links.push_back(std::move(link));
  }
  // Relative to <root>; the id was validated, so no ':' or ',' can appear.
  std::string data = absl::StrCat("lowerdir=", absl::StrJoin(links, ":"), ",upperdir=", id,
                                  "/upper,workdir=", id, "/work");
  if (data.size() > kMountDataMax) {
    return absl::ResourceExhaustedError(
        absl::StrCat(lowers.size(), " layers do not fit in one mount(2) option page"));
  }
  // The relative paths need <root> as working directory, and the daemon's
  // own must not change under its other threads: this thread unshares its
  // filesystem attributes first, so its chdir is private.
  absl::Status result;
  std::thread helper([&] {
    if (::unshare(CLONE_FS) != 0) {
      result = ErrnoStatus("unshare(CLONE_FS)");
      return;
    }
    if (::chdir(options_.root.c_str()) != 0) {
      result = ErrnoStatus(absl::StrCat("chdir ", options_.root));
      return;
    }
    result = os_.Mount("overlay", MergedPath(id), "overlay", 0, data);
  });
  helper.join();
  return result;
}

absl::Status Rootfs::UnmountLocked(const std::string& id) {
  const std::string merged = MergedPath(id);
  // Loop: something may be stacked on top of the rootfs mount.
  for (int i = 0; i < kMaxUnmounts; ++i) {
    ASSIGN_OR_RETURN(bool mounted, IsMountPoint(merged));
    if (!mounted) return absl::OkStatus();
    absl::Status s = os_.Unmount(merged, 0);
    // Busy (a process still has its cwd inside): detach now, the kernel
    // frees it when the last user goes.
    if (absl::IsUnavailable(s)) s = os_.Unmount(merged, MNT_DETACH);
    if (!s.ok() && !absl::IsInvalidArgument(s) && !absl::IsNotFound(s)) {
      return Annotate(s, absl::StrCat("unmount rootfs of ", id));
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("rootfs of ", id, " is still mounted after ", kMaxUnmounts, " unmounts"));
}

absl::Status Rootfs::Unmount(std::string_view container_id) {
  RETURN_IF_ERROR(ValidateId(container_id));
  const std::string id(container_id);
  IdLock lock(*this, id);
  return UnmountLocked(id);
}

absl::Status Rootfs::Remove(std::string_view container_id) {
  RETURN_IF_ERROR(ValidateId(container_id));
  const std::string id(container_id);
  IdLock lock(*this, id);
  RETURN_IF_ERROR(UnmountLocked(id));
  return Annotate(RemoveAll(Dir(id)), absl::StrCat("remove rootfs of ", id));
}

absl::StatusOr<RootfsState> Rootfs::State(std::string_view container_id) const {
  RETURN_IF_ERROR(ValidateId(container_id));
  RootfsState state;
  state.merged = MergedPath(container_id);
  state.exists = ::access(Dir(container_id).c_str(), F_OK) == 0;
  if (state.exists) {
    ASSIGN_OR_RETURN(state.mounted, IsMountPoint(state.merged));
  }
  return state;
}

absl::StatusOr<std::vector<std::string>> Rootfs::List() const {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(options_.root.c_str()), ::closedir);
  if (!d) return ErrnoStatus(absl::StrCat("list ", options_.root));
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (ValidateId(name).ok()) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status Rootfs::PruneLinks() {
  absl::MutexLock lock(&links_mu_);
  std::string dir = JoinPath(options_.root, kLinkDir);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return ErrnoStatus(absl::StrCat("list ", dir));
  while (struct dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string link = JoinPath(dir, name);
    struct stat st;
    if (::stat(link.c_str(), &st) != 0 && errno == ENOENT && ::unlink(link.c_str()) != 0 &&
        errno != ENOENT) {
      return ErrnoStatus(absl::StrCat("remove ", link));
    }
  }
  return absl::OkStatus();
}

}  // namespace crius::image
