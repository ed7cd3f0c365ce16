#pragma once
// The pod cgroup with the cgroupfs driver. kubelet names it in
// LinuxPodSandboxConfig.cgroup_parent ("/kubepods/burstable/pod<uid>") and
// usually creates it itself before RunPodSandbox; crius makes sure it
// exists in every hierarchy the OCI runtime will use, and later removes
// only the directories it created itself (kubelet owns /kubepods and, when
// it made it, the pod directory).
//
// Layouts: v1 (one hierarchy per controller, plus named ones such as
// name=systemd), v2 (one unified hierarchy) or hybrid (v1 controllers plus
// a v2 mount, usually /sys/fs/cgroup/unified, that runc also places
// processes in). The pod directory is made in every hierarchy; on a pure
// v2 host the controllers are also enabled along the path so the pod's
// containers can use them.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/os.h"
#include "sandbox/mountinfo.h"

namespace crius::sandbox {

enum class CgroupLayout { kV1, kV2, kHybrid };

std::string_view CgroupLayoutName(CgroupLayout layout);

struct CgroupHierarchy {
  std::string mount_point;  // "/sys/fs/cgroup/memory"
  bool v2 = false;
  std::vector<std::string> controllers;  // v1: "memory", "name=systemd"; v2: empty
};

struct CgroupSetup {
  CgroupLayout layout = CgroupLayout::kV1;
  std::vector<CgroupHierarchy> hierarchies;
};

// Writes `value` into the cgroup control file `path` in one write(2), as
// the kernel wants; the errno is kept in the status's code (EBUSY is
// Unavailable, EINVAL InvalidArgument, ENOENT NotFound).
absl::Status WriteCgroupFile(Os& os, const std::string& path, std::string_view value);

// Whether a v1 hierarchy carries `name` ("memory", "cpu", "name=systemd").
bool HasController(const CgroupHierarchy& h, std::string_view name);

// Finds the mounted hierarchies in a mount table: each v1 hierarchy once
// (the first mount of it, by controller set), and the v2 mount. Mounts of a
// sub-directory of a hierarchy (root != "/", e.g. bind mounts) are skipped.
// FailedPrecondition when there are none.
absl::StatusOr<CgroupSetup> DetectCgroups(const std::vector<MountInfo>& mounts);
// Same, from /proc/self/mountinfo.
absl::StatusOr<CgroupSetup> DetectCgroups();

// Checks a cgroup_parent: absolute, no "." / ".." / empty segments, not the
// root, no control characters. A systemd slice name ("*.slice") is
// InvalidArgument: it needs the systemd cgroup manager (cgroup_manager.h).
absl::Status ValidateCgroupPath(std::string_view path);

// What CreatePodCgroup made; persist it so RemovePodCgroup removes exactly
// that.
struct PodCgroup {
  std::string path;                  // the cgroup_parent, e.g. "/kubepods/burstable/pod1"
  std::vector<std::string> created;  // absolute directories made, in creation order
  // systemd driver: the pod slice crius started (and stops on removal);
  // empty when it existed already (kubelet's) or under cgroupfs.
  std::string unit;
};

// Creates `path` (and missing parents) in every hierarchy of `setup`.
// Existing directories are fine. On a pure v2 host the controllers of the
// root are enabled in cgroup.subtree_control of every ancestor. In a v1
// cpuset hierarchy, a new directory gets its parent's cpus and mems (a
// cpuset cgroup with none cannot hold a process). On failure, what was
// created is removed again.
absl::StatusOr<PodCgroup> CreatePodCgroup(Os& os, const CgroupSetup& setup,
                                          const std::string& path);

// Removes the directories `cgroup.created` lists, deepest first. For each,
// empty child cgroups a runtime left behind are removed first. Missing ones
// are fine (idempotent). FailedPrecondition when processes remain (EBUSY).
// Tries everything and returns the first error.
absl::Status RemovePodCgroup(Os& os, const PodCgroup& cgroup);

// The pids in the pod cgroup and all its descendants, over every
// hierarchy, sorted and without duplicates. NotFound when the cgroup exists
// in no hierarchy.
absl::StatusOr<std::vector<pid_t>> PodCgroupPids(const CgroupSetup& setup, const std::string& path);

}  // namespace crius::sandbox
