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

// Size of a file; NotFound when absent.
absl::StatusOr<int64_t> FileSize(const std::string& path);

// Bytes the tree below `path` occupies on disk (st_blocks), each inode
// counted once; symlinks are not followed and mounts are not crossed.
absl::StatusOr<int64_t> DiskUsage(const std::string& path);

}  // namespace crius::image::store_internal
