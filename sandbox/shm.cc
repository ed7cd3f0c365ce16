#include "sandbox/shm.h"

#include <sys/mount.h>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace crius::sandbox {

absl::Status MountPodShm(Os& os, const std::string& path, uint64_t size_bytes) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("shm path \"", path, "\" is not absolute"));
  }
  if (size_bytes == 0) size_bytes = kDefaultShmSize;
  absl::Status s = os.Mkdir(path, 0755);
  if (!s.ok() && !absl::IsAlreadyExists(s)) return Annotate(s, "create pod shm dir");
  // Sticky and world-writable like the node's /dev/shm, so any user in a
  // container may create segments but not remove other users' ones.
  std::string data = absl::StrCat("mode=1777,size=", size_bytes);
  return Annotate(os.Mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data),
                  "mount pod shm");
}

absl::Status UnmountPodShm(Os& os, const std::string& path) {
  absl::Status s = os.Unmount(path, 0);
  // EINVAL: not a mount point; ENOENT: nothing there at all.
  if (!s.ok() && !absl::IsInvalidArgument(s) && !absl::IsNotFound(s)) {
    absl::Status lazy = os.Unmount(path, MNT_DETACH);
    if (!lazy.ok() && !absl::IsInvalidArgument(lazy) && !absl::IsNotFound(lazy)) {
      return Annotate(lazy, "unmount pod shm");
    }
  }
  s = os.Rmdir(path);
  if (!s.ok() && !absl::IsNotFound(s)) return Annotate(s, "remove pod shm dir");
  return absl::OkStatus();
}

}  // namespace crius::sandbox
