#pragma once
// Rootfs: each container's root filesystem, an overlayfs mount of the
// image's unpacked layers (read-only lower directories) under a writable
// directory of its own:
//
//   <root>/<container id>/upper    the container's changes
//   <root>/<container id>/work     overlayfs scratch space
//   <root>/<container id>/merged   the mount: the container's "/"
//   <root>/l/<short name>          short symlinks to layer directories
//
// Many layers: the classic mount(2) data string is capped at one page
// (4096 bytes), which 60 long layer paths exceed. Mount therefore uses the
// new mount API, handing overlayfs each layer as a file descriptor
// ("lowerdir+" with FSCONFIG_SET_FD, Linux 6.13+) so paths never count
// against a limit. Where that is unavailable it falls back to mount(2) with
// lowerdir entries "l/<12 hex>" relative to <root>, from a thread that has
// its own working directory (unshare(CLONE_FS)), as containers/storage
// does with a helper process.
//
// Thread-safe; mounts and unmounts of one container are serialised, of
// different containers run in parallel.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/os.h"

namespace crius::image {

struct RootfsOptions {
  std::string root;  // e.g. /var/lib/crius/overlay
  // Skip the new mount API (tests use it to exercise the fallback).
  bool force_legacy_mount = false;
};

struct RootfsState {
  std::string merged;    // where the rootfs is (or would be) mounted
  bool exists = false;   // <root>/<id> is there
  bool mounted = false;  // merged is a mount point right now
};

class Rootfs {
 public:
  static absl::StatusOr<std::unique_ptr<Rootfs>> Open(Os& os, RootfsOptions options);

  // Mounts the container's rootfs with `lower_dirs` (absolute layer
  // directories, topmost first; empty for an image without layers) and
  // returns the merged path. Already mounted: returns it unchanged. An id
  // must be 1-128 of [A-Za-z0-9_.-], starting alphanumeric.
  // Operations on different containers run in parallel; on one container
  // they take turns.
  absl::StatusOr<std::string> Mount(std::string_view container_id,
                                    const std::vector<std::string>& lower_dirs);
  // Unmounts (lazily if busy). Not mounted or unknown: OK.
  absl::Status Unmount(std::string_view container_id);
  // Unmounts and deletes upper, work and merged. Unknown: OK. Refuses
  // (FailedPrecondition) to delete while something is still mounted there.
  absl::Status Remove(std::string_view container_id);

  // For recovery: where the rootfs is and whether it is mounted (from
  // /proc/self/mountinfo).
  absl::StatusOr<RootfsState> State(std::string_view container_id) const;
  // Ids of every container directory present.
  absl::StatusOr<std::vector<std::string>> List() const;
  // Deletes short links whose layer directory is gone.
  absl::Status PruneLinks() ABSL_LOCKS_EXCLUDED(links_mu_);

  std::string MergedPath(std::string_view container_id) const;

 private:
  // Held across one operation on one container's rootfs.
  class IdLock;
  Rootfs(Os& os, RootfsOptions options) : os_(os), options_(std::move(options)) {}
  std::string Dir(std::string_view container_id) const;
  absl::Status MountNewApi(const std::string& id, const std::vector<std::string>& lowers) const;
  absl::Status MountLegacy(const std::string& id, const std::vector<std::string>& lowers)
      ABSL_LOCKS_EXCLUDED(links_mu_);
  // Idempotent, so mounts share links_mu_.
  absl::StatusOr<std::string> ShortLink(const std::string& layer_dir)
      ABSL_SHARED_LOCKS_REQUIRED(links_mu_);
  // Caller holds the container's IdLock.
  absl::Status UnmountLocked(const std::string& id);

  Os& os_;
  const RootfsOptions options_;
  absl::Mutex ids_mu_;
  std::map<std::string, std::shared_ptr<absl::Mutex>> id_locks_ ABSL_GUARDED_BY(ids_mu_);
  // Shared: mounts making short links; exclusive: pruning them.
  absl::Mutex links_mu_;
};

// Whether `path` is a mount point according to /proc/self/mountinfo. The
// path is compared after resolving symlinks, as the kernel reports it.
absl::StatusOr<bool> IsMountPoint(const std::string& path);

}  // namespace crius::image
