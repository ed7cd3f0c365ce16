#pragma once
// Small filesystem helpers shared by the image store's files (content,
// layers, images, rootfs). Internal to image/.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius::image::store_internal {

// 16 random hex characters for temp names no concurrent writer can share.
std::string RandomHex();

// Writes all of `data` to `fd`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, std::string_view data, std::string_view what);

// fsync of a directory, so a rename or unlink in it is durable.
absl::Status FsyncDir(const std::string& dir);

// Size of a file; NotFound when absent.
absl::StatusOr<int64_t> FileSize(const std::string& path);

// Bytes the tree below `path` occupies on disk (st_blocks), each inode
// counted once; symlinks are not followed and mounts are not crossed.
absl::StatusOr<int64_t> DiskUsage(const std::string& path);

}  // namespace crius::image::store_internal
