#pragma once
// The pod's /dev/shm: one tmpfs per pod, shared by its containers (they
// share the pod's IPC namespace, and POSIX shared memory lives in /dev/shm,
// so they must share this mount too). Not used when the pod uses the node's
// IPC namespace; the caller then gives containers the node's /dev/shm.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/os.h"

namespace crius::sandbox {

// Docker's and kubelet's default size for a pod's /dev/shm.
inline constexpr uint64_t kDefaultShmSize = uint64_t{64} << 20;

// Mounts a tmpfs at `path` (created if missing; its parent must exist)
// with nosuid,nodev,noexec, mode=1777 and `size_bytes` (0: the default).
absl::Status MountPodShm(Os& os, const std::string& path, uint64_t size_bytes = 0);

// Unmounts it (lazily if a plain unmount fails) and removes the directory.
// Nothing mounted or nothing there is fine.
absl::Status UnmountPodShm(Os& os, const std::string& path);

}  // namespace crius::sandbox
