#pragma once
// A parser for /proc/<pid>/mountinfo (proc(5)): which filesystems are
// mounted where. The sandbox module reads it to find cgroup hierarchies;
// tests read it to prove what is (and is not) mounted.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crius::sandbox {

struct MountInfo {
  int id = 0;
  int parent_id = 0;
  std::string root;                          // the path inside the filesystem that is mounted
  std::string mount_point;                   // octal escapes (\040 for a space) decoded
  std::string mount_options;                 // per-mount: "rw,nosuid,nodev,relatime"
  std::vector<std::string> optional_fields;  // "shared:12", "master:3"...
  std::string fstype;                        // "cgroup", "cgroup2", "tmpfs", "nsfs"...
  std::string source;
  std::string super_options;  // per-superblock: "rw,size=1024k,mode=1777"
};

// Parses mountinfo text. InvalidArgument names the first malformed line.
absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(std::string_view text);

// Reads and parses a mountinfo file (default: our own).
absl::StatusOr<std::vector<MountInfo>> ReadMountInfo(
    const std::string& path = "/proc/self/mountinfo");

// Splits a comma-separated option list.
std::vector<std::string> SplitOptions(std::string_view options);

}  // namespace crius::sandbox
