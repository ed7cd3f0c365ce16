#include "oci/user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::oci {
namespace {

// Same bound as the kernel's own symlink limit for one lookup.
constexpr int kMaxSymlinks = 40;

// O_NONBLOCK so a FIFO planted at /etc/passwd cannot hang the daemon in
// open(); the file is checked to be regular right after.
constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

std::vector<std::string> Components(std::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(AbslView(path), '/', absl::SkipEmpty())) {
    if (part != ".") out.emplace_back(part);
  }
  return out;
}

// Opens the directory chain `dirs` below root; none of them is a symlink
// (the walker only records real directories), so O_NOFOLLOW just guards
// against one being swapped in meanwhile.
absl::StatusOr<UniqueFd> OpenDirChain(int root_fd, const std::vector<std::string>& dirs) {
  UniqueFd current(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!current) return ErrnoStatus("dup rootfs fd");
  for (const auto& dir : dirs) {
    UniqueFd next(
        ::openat(current.get(), dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return ErrnoStatus(absl::StrCat("open ", dir));
    current = std::move(next);
  }
  return current;
}

absl::StatusOr<uint32_t> ParseId(std::string_view text) {
  uint64_t value = 0;
  if (!absl::SimpleAtoi(AbslView(text), &value) || value >= std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", AbslView(text), "\" is not an id"));
  }
  return static_cast<uint32_t>(value);
}

bool IsNumeric(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

absl::StatusOr<uint32_t> CheckedId(int64_t value, std::string_view field) {
  if (value < 0 || value >= std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(field), ": ", value, " is out of range"));
  }
  return static_cast<uint32_t>(value);
}

const PasswdEntry* FindUser(const std::vector<PasswdEntry>& users, std::string_view name) {
  for (const auto& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const PasswdEntry* FindUid(const std::vector<PasswdEntry>& users, uint32_t uid) {
  for (const auto& u : users) {
    if (u.uid == uid) return &u;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<UniqueFd> OpenInRootByWalking(const std::string& rootfs, std::string_view path) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus(absl::StrCat("open rootfs ", rootfs));

  std::vector<std::string> resolved;  // real directories below the root
  std::deque<std::string> pending;
  for (auto& c : Components(path)) pending.push_back(std::move(c));
  if (pending.empty()) return absl::InvalidArgumentError("cannot open the root itself");
  int links = 0;
  while (!pending.empty()) {
    std::string name = std::move(pending.front());
    pending.pop_front();
    if (name == "..") {
      // The root is its own parent, as chroot makes it for the container.
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    ASSIGN_OR_RETURN(UniqueFd dir, OpenDirChain(root.get(), resolved));
    struct stat st;
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(
          absl::StrCat("stat ", JoinPath(rootfs, absl::StrJoin(resolved, "/"), name)));
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxSymlinks) return ErrnoStatus(ELOOP, path);
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(dir.get(), name.c_str(), target, sizeof(target) - 1);
      if (n < 0) return ErrnoStatus(absl::StrCat("readlink ", name));
      std::string_view link(target, static_cast<size_t>(n));
      if (!link.empty() && link.front() == '/') resolved.clear();
      auto parts = Components(link);
      pending.insert(pending.begin(), parts.begin(), parts.end());
      continue;
    }
    if (pending.empty()) {
      UniqueFd fd(::openat(dir.get(), name.c_str(), kReadFlags | O_NOFOLLOW));
      if (!fd) return ErrnoStatus(absl::StrCat("open ", AbslView(path), " in ", rootfs));
      return fd;
    }
    if (!S_ISDIR(st.st_mode)) return ErrnoStatus(ENOTDIR, path);
    resolved.push_back(std::move(name));
  }
  // The path ended in "..": it names a directory, never a file we read.
  return ErrnoStatus(EISDIR, path);
}

absl::StatusOr<UniqueFd> OpenInRoot(const std::string& rootfs, std::string_view path) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoStatus(absl::StrCat("open rootfs ", rootfs));
  struct open_how how = {};
  how.flags = kReadFlags;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string relative(path);
  // EAGAIN: a concurrent rename raced the ".." checks; the kernel asks for
  // a retry.
  for (int attempt = 0; attempt < 8; ++attempt) {
    long fd = ::syscall(SYS_openat2, root.get(), relative.c_str(), &how, sizeof(how));
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == ENOSYS) return OpenInRootByWalking(rootfs, path);
    if (errno != EAGAIN) break;
  }
  return ErrnoStatus(absl::StrCat("open ", relative, " in ", rootfs));
}

absl::StatusOr<std::optional<std::string>> ReadFileInRoot(const std::string& rootfs,
                                                          std::string_view path, size_t max_bytes) {
  auto fd = OpenInRoot(rootfs, path);
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status())) return std::optional<std::string>();
    return fd.status();
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(absl::StrCat("stat ", AbslView(path)));
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(AbslView(path), " in the image is not a regular file"));
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(absl::StrCat("read ", AbslView(path)));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(AbslView(path), " in the image is larger than ", max_bytes, " bytes"));
    }
  }
  return std::optional<std::string>(std::move(out));
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (absl::string_view line : absl::StrSplit(AbslView(text), '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() < 4 || f[0].empty()) continue;
    auto uid = ParseId(StdView(f[2]));
    auto gid = ParseId(StdView(f[3]));
    if (!uid.ok() || !gid.ok()) continue;
    out.push_back({std::string(f[0]), *uid, *gid});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  for (absl::string_view line : absl::StrSplit(AbslView(text), '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() < 3 || f[0].empty()) continue;
    auto gid = ParseId(StdView(f[2]));
    if (!gid.ok()) continue;
    GroupEntry g{std::string(f[0]), *gid, {}};
    if (f.size() >= 4) {
      for (absl::string_view m : absl::StrSplit(f[3], ',', absl::SkipWhitespace())) {
        g.members.emplace_back(absl::StripAsciiWhitespace(m));
      }
    }
    out.push_back(std::move(g));
  }
  return out;
}

absl::StatusOr<User> ResolveUser(const std::string& rootfs, const UserRequest& req) {
  if (req.run_as_user && !req.run_as_username.empty()) {
    return absl::InvalidArgumentError(
        "run_as_user and run_as_username are both set; at most one may be");
  }
  bool cri_user = req.run_as_user.has_value() || !req.run_as_username.empty();
  if (req.run_as_group && !cri_user) {
    return absl::InvalidArgumentError("run_as_group is set without run_as_user or run_as_username");
  }

  std::vector<PasswdEntry> users;
  std::vector<GroupEntry> groups;
  {
    ASSIGN_OR_RETURN(auto passwd, ReadFileInRoot(rootfs, "/etc/passwd"));
    if (passwd) users = ParsePasswd(*passwd);
    ASSIGN_OR_RETURN(auto group, ReadFileInRoot(rootfs, "/etc/group"));
    if (group) groups = ParseGroup(*group);
  }

  User out;
  const PasswdEntry* entry = nullptr;  // the user's line, when it has one
  std::string user_part, group_part;
  if (req.run_as_user) {
    ASSIGN_OR_RETURN(out.uid, CheckedId(*req.run_as_user, "run_as_user"));
    entry = FindUid(users, out.uid);
  } else if (!req.run_as_username.empty()) {
    entry = FindUser(users, req.run_as_username);
    if (entry == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("run_as_username \"", req.run_as_username,
                                                     "\" is not in the image's /etc/passwd"));
    }
    out.uid = entry->uid;
  } else {
    std::vector<std::string> parts = absl::StrSplit(req.image_user, absl::MaxSplits(':', 1));
    user_part = parts.empty() ? "" : parts[0];
    group_part = parts.size() > 1 ? parts[1] : "";
    if (user_part.empty() && !group_part.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("image user \"", req.image_user, "\" names a group without a user"));
    }
    if (user_part.empty() || IsNumeric(user_part)) {
      if (!user_part.empty()) {
        auto uid = ParseId(user_part);
        if (!uid.ok()) {
          return absl::FailedPreconditionError(
              absl::StrCat("image user \"", req.image_user, "\": uid out of range"));
        }
        out.uid = *uid;
      }
      entry = FindUid(users, out.uid);
    } else {
      entry = FindUser(users, user_part);
      if (entry == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("image user \"", user_part, "\" is not in the image's /etc/passwd"));
      }
      out.uid = entry->uid;
    }
  }
  out.gid = entry != nullptr ? entry->gid : 0;

  if (req.run_as_group) {
    ASSIGN_OR_RETURN(out.gid, CheckedId(*req.run_as_group, "run_as_group"));
  } else if (!group_part.empty()) {
    if (IsNumeric(group_part)) {
      auto gid = ParseId(group_part);
      if (!gid.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("image user \"", req.image_user, "\": gid out of range"));
      }
      out.gid = *gid;
    } else {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const GroupEntry& g) { return g.name == group_part; });
      if (it == groups.end()) {
        return absl::FailedPreconditionError(
            absl::StrCat("image group \"", group_part, "\" is not in the image's /etc/group"));
      }
      out.gid = it->gid;
    }
  }

  auto add_gid = [&out](uint32_t gid) {
    auto& gids = out.additional_gids;
    if (std::find(gids.begin(), gids.end(), gid) == gids.end()) gids.push_back(gid);
  };
  // The primary group first: kubelet reports the groups as the process sees
  // them, and setgroups() without it would leave the list missing the gid.
  add_gid(out.gid);
  if (!req.strict_groups && entry != nullptr) {
    for (const auto& g : groups) {
      if (std::find(g.members.begin(), g.members.end(), entry->name) != g.members.end()) {
        add_gid(g.gid);
      }
    }
  }
  for (int64_t g : req.supplemental_groups) {
    ASSIGN_OR_RETURN(uint32_t gid, CheckedId(g, "supplemental_groups"));
    add_gid(gid);
  }
  return out;
}

}  // namespace crius::oci
