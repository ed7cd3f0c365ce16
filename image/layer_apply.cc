#include "image/layer_apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::image::store_internal {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";

std::string Join(const std::vector<std::string>& path, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back('/');
    out += path[i];
  }
  return out.empty() ? "." : out;
}

// Overlayfs reads its own control xattrs from lower layers (redirects,
// metacopy, opacity). A layer that carried them could make overlayfs look
// up paths its author chose, so only the opaque marker this unpacker sets
// itself may exist.
bool IsOverlayXattr(std::string_view name) {
  return absl::StartsWith(AbslView(name), "trusted.overlay.") ||
         absl::StartsWith(AbslView(name), "user.overlay.");
}

// Names are taken as UTF-8 when libarchive can convert them, else as the
// raw bytes the archive holds.
const char* Either(const char* a, const char* b) { return a != nullptr ? a : b; }

// openat2 exists since Linux 5.6; remembered once it is found missing.
std::atomic<bool> g_no_openat2{false};

}  // namespace

struct LayerWriter::Meta {
  std::string what;  // the member's name, for messages
  uid_t uid;
  gid_t gid;
  mode_t perm;
  int64_t size;              // regular files: the length after all data blocks
  struct timespec times[2];  // atime, mtime
  std::vector<std::pair<std::string, std::string>> xattrs;
};

namespace {

absl::Status SetXattrs(const std::vector<std::pair<std::string, std::string>>& xattrs,
                       const std::string& what, int fd, const std::string& path) {
  for (const auto& [name, value] : xattrs) {
    int rc = fd >= 0 ? ::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0)
                     : ::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0);
    if (rc == 0) continue;
    // The filesystem under the store may not support a namespace, and
    // symlinks accept no user.* xattrs; the image still runs without them.
    if (errno == ENOTSUP || errno == EOPNOTSUPP ||
        (errno == EPERM && !absl::StartsWith(AbslView(name), "trusted."))) {
      CRIUS_LOG(kDebug) << "layer member " << what << ": xattr " << name
                        << " not kept: " << ErrnoStatus("setxattr");
      continue;
    }
    return ErrnoStatus(absl::StrCat("set xattr ", name, " on ", what));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CleanMemberPath(std::string_view name) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(start, slash - start);
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("layer member \"", AbslView(name), "\": \"..\" is not allowed"));
    }
    if (!part.empty() && part != ".") out.emplace_back(part);
    start = slash + 1;
  }
  return out;
}

absl::StatusOr<LayerWriter> LayerWriter::Open(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open layer directory ", dir));
  return LayerWriter(std::move(fd));
}

// Resolves `rel` with the layer directory acting as "/". Without openat2 the
// walk refuses symlinked components outright: stricter, but still safe.
absl::StatusOr<UniqueFd> LayerWriter::Resolve(const std::string& rel, int flags) const {
  if (!g_no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    for (int attempt = 0; attempt < 16; ++attempt) {
      long fd = ::syscall(SYS_openat2, root_.get(), rel.c_str(), &how, sizeof(how));
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      // EAGAIN: a concurrent rename somewhere in the filesystem; retry.
      if (errno != EAGAIN) break;
    }
    if (errno != ENOSYS) return ErrnoStatus(absl::StrCat("open ", rel, " in layer"));
    g_no_openat2.store(true, std::memory_order_relaxed);
  }
  UniqueFd cur(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  if (!cur) return ErrnoStatus("dup layer root");
  ASSIGN_OR_RETURN(std::vector<std::string> parts, CleanMemberPath(rel));
  for (size_t i = 0; i < parts.size(); ++i) {
    int f = i + 1 == parts.size() ? flags : (O_RDONLY | O_DIRECTORY);
    UniqueFd next(::openat(cur.get(), parts[i].c_str(), f | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return ErrnoStatus(absl::StrCat("open ", rel, " in layer"));
    cur = std::move(next);
  }
  return cur;
}

// Opens the directory made of the first `n` components, creating missing
// ones (0755, root-owned, as tar implies for parents it does not list).
absl::StatusOr<UniqueFd> LayerWriter::OpenDir(const std::vector<std::string>& path, size_t n,
                                              bool create) const {
  const int flags = O_RDONLY | O_DIRECTORY;
  absl::StatusOr<UniqueFd> fd = Resolve(Join(path, n), flags);
  if (fd.ok() || !create || !absl::IsNotFound(fd.status())) return fd;
  // Slow path: build the missing suffix one level at a time, re-resolving
  // each prefix from the root so symlinks stay confined.
  UniqueFd cur(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
  if (!cur) return ErrnoStatus("dup layer root");
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<UniqueFd> next = Resolve(Join(path, i + 1), flags);
    if (!next.ok() && absl::IsNotFound(next.status())) {
      if (::mkdirat(cur.get(), path[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(absl::StrCat("create directory ", Join(path, i + 1), " in layer"));
      }
      // Still missing after EEXIST: a dangling symlink sits there.
      next = Resolve(Join(path, i + 1), flags);
    }
    if (!next.ok()) return next.status();
    cur = std::move(next).value();
  }
  return cur;
}

// Makes room for a new member called `name`: whatever is there goes, except
// an existing directory when the member is itself a directory (tar merges
// those, keeping the contents).
absl::Status LayerWriter::ClearSlot(int parent, const std::string& name, const std::string& what,
                                    bool keep_dir, bool* kept_dir) const {
  if (kept_dir) *kept_dir = false;
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(absl::StrCat("stat ", what));
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) {
      if (kept_dir) *kept_dir = true;
      return absl::OkStatus();
    }
    return RemoveAll(absl::StrCat("/proc/self/fd/", parent, "/", name));
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("replace ", what));
  }
  return absl::OkStatus();
}

LayerWriter::Meta LayerWriter::ReadMeta(struct archive_entry* entry, const char* name) {
  Meta meta;
  meta.what = name;
  meta.uid = static_cast<uid_t>(archive_entry_uid(entry));
  meta.gid = static_cast<gid_t>(archive_entry_gid(entry));
  meta.perm = archive_entry_perm(entry) & 07777;
  meta.size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
  meta.times[1] = {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
  meta.times[0] = archive_entry_atime_is_set(entry)
                      ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)}
                      : meta.times[1];
  archive_entry_xattr_reset(entry);
  const char* xname;
  const void* xvalue;
  size_t xsize;
  while (archive_entry_xattr_next(entry, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
    if (IsOverlayXattr(xname)) continue;
    meta.xattrs.emplace_back(xname, std::string(static_cast<const char*>(xvalue), xsize));
  }
  return meta;
}

absl::Status LayerWriter::Apply(struct archive* a, struct archive_entry* entry) {
  const char* raw = Either(archive_entry_pathname_utf8(entry), archive_entry_pathname(entry));
  if (raw == nullptr) return absl::InvalidArgumentError("layer member without a name");
  ASSIGN_OR_RETURN(std::vector<std::string> path, CleanMemberPath(raw));

  const Meta meta = ReadMeta(entry, raw);
  const bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
  if (path.empty()) {
    if (!is_dir) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer member \"", meta.what, "\": the layer root must be a directory"));
    }
    return ApplyDir(-1, path, meta);
  }
  std::string name = path.back();
  ASSIGN_OR_RETURN(UniqueFd parent, OpenDir(path, path.size() - 1, /*create=*/true));

  if (absl::StartsWith(AbslView(name), AbslView(kWhiteoutPrefix))) {
    if (name == kOpaqueMarker) {
      if (::fsetxattr(parent.get(), kOpaqueXattr, "y", 1, 0) != 0) {
        return ErrnoStatus(absl::StrCat("mark ", meta.what, "'s directory opaque"));
      }
      return absl::OkStatus();
    }
    // Other ".wh..wh." names are aufs bookkeeping with no meaning here.
    if (absl::StartsWith(AbslView(name), AbslView(kWhiteoutMetaPrefix))) return absl::OkStatus();
    std::string target = name.substr(kWhiteoutPrefix.size());
    if (target.empty() || target == "." || target == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("layer member \"", meta.what, "\": invalid whiteout"));
    }
    return ApplyWhiteout(parent.get(), target, meta);
  }

  if (const char* link =
          Either(archive_entry_hardlink_utf8(entry), archive_entry_hardlink(entry))) {
    return ApplyHardlink(parent.get(), name, link, meta.what);
  }
  switch (archive_entry_filetype(entry)) {
    case AE_IFDIR:
      return ApplyDir(parent.get(), path, meta);
    case AE_IFREG:
      return ApplyFile(a, parent.get(), name, meta);
    case AE_IFLNK:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return ApplySpecial(parent.get(), name, entry, meta);
    case AE_IFSOCK:
      return absl::OkStatus();  // a socket in a tar is inert; tar skips it too
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("layer member \"", meta.what, "\": unsupported file type"));
  }
}

absl::Status LayerWriter::ApplyWhiteout(int parent, const std::string& name, const Meta& meta) {
  RETURN_IF_ERROR(ClearSlot(parent, name, meta.what, false, nullptr));
  // Overlayfs treats a 0/0 character device in a lower layer as "deleted".
  if (::mknodat(parent, name.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
    return ErrnoStatus(absl::StrCat("create whiteout for ", meta.what));
  }
  if (::fchownat(parent, name.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(absl::StrCat("chown whiteout ", meta.what));
  }
  if (::utimensat(parent, name.c_str(), meta.times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(absl::StrCat("set times of whiteout ", meta.what));
  }
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplyDir(int parent, const std::vector<std::string>& path,
                                   const Meta& meta) {
  UniqueFd dir;
  if (path.empty()) {
    dir.reset(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
    if (!dir) return ErrnoStatus("dup layer root");
  } else {
    const std::string& name = path.back();
    bool kept = false;
    RETURN_IF_ERROR(ClearSlot(parent, name, meta.what, true, &kept));
    if (!kept && ::mkdirat(parent, name.c_str(), 0700) != 0) {
      return ErrnoStatus(absl::StrCat("create directory ", meta.what));
    }
    dir.reset(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return ErrnoStatus(absl::StrCat("open directory ", meta.what));
  }
  if (::fchown(dir.get(), meta.uid, meta.gid) != 0) {
    return ErrnoStatus(absl::StrCat("chown ", meta.what));
  }
  if (::fchmod(dir.get(), meta.perm) != 0) return ErrnoStatus(absl::StrCat("chmod ", meta.what));
  RETURN_IF_ERROR(SetXattrs(meta.xattrs, meta.what, dir.get(), ""));
  DirTimes t;
  t.path = path;
  t.times[0] = meta.times[0];
  t.times[1] = meta.times[1];
  dir_times_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplyFile(struct archive* a, int parent, const std::string& name,
                                    const Meta& meta) {
  RETURN_IF_ERROR(ClearSlot(parent, name, meta.what, false, nullptr));
  UniqueFd fd(
      ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus(absl::StrCat("create ", meta.what));
  // Blocks come with their offsets so sparse members keep their holes.
  int64_t written_end = 0;
  for (;;) {
    const void* buf;
    size_t size;
    la_int64_t offset;
    int rc = archive_read_data_block(a, &buf, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && written_end == meta.size && meta.size > 0) {
      // Every byte of the member arrived; only the padding after it did not.
      ended_in_padding_ = true;
      break;
    }
    if (rc != ARCHIVE_OK) {
      return absl::DataLossError(
          absl::StrCat("read ", meta.what, ": ", Either(archive_error_string(a), "unknown error")));
    }
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(absl::StrCat("write ", meta.what));
      }
      p += n;
      offset += n;
      size -= static_cast<size_t>(n);
    }
    written_end = std::max<int64_t>(written_end, offset);
  }
  // A trailing hole has no data block; the size still covers it.
  if (::ftruncate(fd.get(), meta.size) != 0) {
    return ErrnoStatus(absl::StrCat("set size of ", meta.what));
  }
  content_bytes_ += meta.size;
  // Owner before mode and xattrs: chown clears setuid/setgid bits and file
  // capabilities, which must survive.
  if (::fchown(fd.get(), meta.uid, meta.gid) != 0) {
    return ErrnoStatus(absl::StrCat("chown ", meta.what));
  }
  if (::fchmod(fd.get(), meta.perm) != 0) return ErrnoStatus(absl::StrCat("chmod ", meta.what));
  RETURN_IF_ERROR(SetXattrs(meta.xattrs, meta.what, fd.get(), ""));
  if (::futimens(fd.get(), meta.times) != 0) {
    return ErrnoStatus(absl::StrCat("set times of ", meta.what));
  }
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplyHardlink(int parent, const std::string& name,
                                        std::string_view target, const std::string& what) {
  ASSIGN_OR_RETURN(std::vector<std::string> tpath, CleanMemberPath(target));
  if (tpath.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer member \"", what, "\": hard link to the layer root"));
  }
  // The target's directory is resolved inside the layer like any parent,
  // so the link can only ever name a file this layer already holds.
  absl::StatusOr<UniqueFd> tparent = OpenDir(tpath, tpath.size() - 1, /*create=*/false);
  if (!tparent.ok()) {
    return Annotate(tparent.status(), absl::StrCat("layer member \"", what, "\": hard link target ",
                                                   AbslView(target)));
  }
  struct stat st;
  if (::fstatat(tparent->get(), tpath.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Annotate(ErrnoStatus("stat"), absl::StrCat("layer member \"", what,
                                                      "\": hard link target ", AbslView(target)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer member \"", what, "\": hard link to a directory"));
  }
  // Linking a name to itself would otherwise delete the only copy first.
  struct stat self;
  if (::fstatat(parent, name.c_str(), &self, AT_SYMLINK_NOFOLLOW) == 0 &&
      self.st_dev == st.st_dev && self.st_ino == st.st_ino) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ClearSlot(parent, name, what, false, nullptr));
  // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
  if (::linkat(tparent->get(), tpath.back().c_str(), parent, name.c_str(), 0) != 0) {
    return ErrnoStatus(absl::StrCat("hard link ", what, " to ", AbslView(target)));
  }
  return absl::OkStatus();
}

absl::Status LayerWriter::ApplySpecial(int parent, const std::string& name,
                                       struct archive_entry* entry, const Meta& meta) {
  RETURN_IF_ERROR(ClearSlot(parent, name, meta.what, false, nullptr));
  const auto type = archive_entry_filetype(entry);
  if (type == AE_IFLNK) {
    const char* target = Either(archive_entry_symlink_utf8(entry), archive_entry_symlink(entry));
    if (target == nullptr) target = "";
    if (::symlinkat(target, parent, name.c_str()) != 0) {
      return ErrnoStatus(absl::StrCat("create symlink ", meta.what));
    }
  } else {
    mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
    dev_t dev = kind == S_IFIFO
                    ? 0
                    : makedev(archive_entry_rdevmajor(entry), archive_entry_rdevminor(entry));
    if (::mknodat(parent, name.c_str(), kind | 0600, dev) != 0) {
      return ErrnoStatus(absl::StrCat("create node ", meta.what));
    }
  }
  if (::fchownat(parent, name.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(absl::StrCat("chown ", meta.what));
  }
  // Symlink modes mean nothing on Linux; nodes take theirs after chown.
  if (type != AE_IFLNK && ::fchmodat(parent, name.c_str(), meta.perm, 0) != 0) {
    return ErrnoStatus(absl::StrCat("chmod ", meta.what));
  }
  // Devices and symlinks cannot be opened safely for f*xattr; go through
  // the parent's descriptor instead (lsetxattr does not follow the name).
  RETURN_IF_ERROR(
      SetXattrs(meta.xattrs, meta.what, -1, absl::StrCat("/proc/self/fd/", parent, "/", name)));
  if (::utimensat(parent, name.c_str(), meta.times, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(absl::StrCat("set times of ", meta.what));
  }
  return absl::OkStatus();
}

absl::Status LayerWriter::Finish() {
  // Deepest-last order in the archive; undo it so a parent's time is set
  // after its children stopped changing it.
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    absl::StatusOr<UniqueFd> dir = OpenDir(it->path, it->path.size(), /*create=*/false);
    if (!dir.ok()) {
      // Replaced by a later member (a file, a symlink): nothing to set.
      if (absl::IsNotFound(dir.status()) || absl::IsInvalidArgument(dir.status())) continue;
      return dir.status();
    }
    if (::futimens(dir->get(), it->times) != 0) {
      return ErrnoStatus(absl::StrCat("set times of directory ", Join(it->path, it->path.size())));
    }
  }
  dir_times_.clear();
  return absl::OkStatus();
}

}  // namespace crius::image::store_internal
