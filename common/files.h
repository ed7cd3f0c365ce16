#pragma once
// Whole-file helpers for the daemon's own state (metadata, CNI result cache,
// config). Writes are atomic so a crash or power loss leaves either the old
// or the new content on disk, never a torn file that recovery must guess at.

#include <sys/types.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius {

// Writes all of `data` to `fd`, retrying short writes and EINTR; `what`
// names the file in errors.
absl::Status WriteAll(int fd, std::string_view data, std::string_view what);

// fsync of a directory, so a rename or unlink in it is durable.
absl::Status FsyncDir(const std::string& dir);

// kDurable survives a power loss; kProcessCrash only a crash of the writing
// process (no fsync): enough for bookkeeping about volatile state such as
// namespaces and mounts, which a power loss takes away anyway.
enum class Durability { kDurable, kProcessCrash };

// Replaces `path` with `data`: writes a uniquely named temp file in the same
// directory (rename is atomic only within one filesystem), fsyncs it, renames
// it over `path` and fsyncs the directory so the rename itself is durable
// (no fsyncs with kProcessCrash). The file gets exactly `mode` (the umask
// does not apply). On any failure the temp file is removed and `path` is
// untouched.
absl::Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                             Durability durability = Durability::kDurable);

// Reads a whole file. Fails with ResourceExhausted past `max_bytes` so a
// hostile or corrupt file cannot make the daemon allocate without bound.
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = size_t{64} << 20);

// Creates `path` and any missing parents. Existing directories (or symlinks
// to them) are fine; an existing non-directory is FailedPrecondition.
absl::Status MkdirAll(const std::string& path, mode_t mode = 0755);

// Removes `path` and everything below it. Symlinks are removed, never
// followed, so a link planted inside a tree cannot redirect the deletion.
// A missing path is success. Holds one descriptor per directory level.
absl::Status RemoveAll(const std::string& path);

// Whether systemd is the init system (PID 1): it creates /run/systemd/system
// at boot, which is what sd_booted() checks too.
bool SystemdIsInit();

// Joins parts with exactly one '/' between them. A later part that starts
// with '/' is still appended (JoinPath("/root", "/etc") == "/root/etc"), so
// joining a rootfs with an absolute in-container path stays inside the
// rootfs textually. ".." is NOT resolved: validate untrusted parts first.
std::string JoinPath(std::initializer_list<std::string_view> parts);
template <typename... Parts>
std::string JoinPath(const Parts&... parts) {
  return JoinPath({std::string_view(parts)...});
}

}  // namespace crius
