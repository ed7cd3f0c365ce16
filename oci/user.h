#pragma once
// Which uid, gid and supplementary groups a container's process runs with.
//
// Names are resolved against the container's own /etc/passwd and /etc/group
// (inside the mounted rootfs), never the node's. Those files come from the
// image and are hostile input: a symlink such as /etc/passwd ->
// /etc/shadow or -> ../../../../etc/passwd must resolve inside the rootfs,
// as it would for the container itself, so the files are opened with
// openat2(RESOLVE_IN_ROOT) (or an equivalent component-by-component walk on
// kernels without openat2).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "oci/spec.h"

namespace crius::oci {

// Opens `path` (as the container sees it) read-only, resolving every
// component, ".." and symlink as if `rootfs` were "/". NotFound when any
// component is missing.
absl::StatusOr<UniqueFd> OpenInRoot(const std::string& rootfs, std::string_view path);

// The same resolution done by hand (openat + readlinkat per component);
// OpenInRoot falls back to it when the kernel lacks openat2. Exposed for
// tests.
absl::StatusOr<UniqueFd> OpenInRootByWalking(const std::string& rootfs, std::string_view path);

// Reads a small file through OpenInRoot; nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadFileInRoot(const std::string& rootfs,
                                                          std::string_view path,
                                                          size_t max_bytes = size_t{4} << 20);

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};
struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};
// Lenient parsers: comments, blank and malformed lines are skipped, as libc
// does, since images ship all sorts of hand-edited files.
std::vector<PasswdEntry> ParsePasswd(std::string_view text);
std::vector<GroupEntry> ParseGroup(std::string_view text);

// What the request and the image say about the user.
struct UserRequest {
  std::optional<int64_t> run_as_user;   // security_context.run_as_user
  std::string run_as_username;          // security_context.run_as_username
  std::optional<int64_t> run_as_group;  // security_context.run_as_group
  std::vector<int64_t> supplemental_groups;
  // SupplementalGroupsPolicy Strict: the image's /etc/group memberships are
  // not added, only the primary group and `supplemental_groups`.
  bool strict_groups = false;
  // The image config's User: "", "uid", "uid:gid", "name", "name:group"...
  std::string image_user;
};

// Resolves the process user. The CRI fields win over the image's User. A
// numeric uid need not exist in /etc/passwd (its gid is then 0 unless
// given); a name must. additional_gids lists the primary gid first, then the
// user's /etc/group memberships (unless strict), then the requested
// supplemental groups, without repeats. Errors: InvalidArgument naming the
// CRI field for a bad request (unknown run_as_username, run_as_group without
// a user, both run_as_user and run_as_username), FailedPrecondition for an
// image User that does not resolve in the image.
absl::StatusOr<User> ResolveUser(const std::string& rootfs, const UserRequest& request);

}  // namespace crius::oci
