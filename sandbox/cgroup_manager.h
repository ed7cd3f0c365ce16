#pragma once
// The cgroup manager (kubelet's "cgroup driver"): the one seam between crius
// and how pod and container cgroups are made. It is chosen once at startup
// (runtime.cgroup_manager) and the rest of the code asks it for names:
//
//                 pod parent (kubelet)        container cgroupsPath          directory
//   cgroupfs      /kubepods/burstable/pod1    /kubepods/burstable/pod1/crius-<id>   the same
//   systemd       kubepods-burstable-pod1.slice   kubepods-burstable-pod1.slice:crius:<id>
//                 ->
//                 /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/crius-<id>.scope
//
// With cgroupfs crius makes the directories itself (sandbox/cgroup.h); with
// systemd it asks systemd over D-Bus for a transient pod slice, the OCI
// runtime gets --systemd-cgroup and makes the container's scope itself, and
// each conmon is moved into a scope of its own before it starts the runtime,
// so that neither a criusd nor a systemd restart takes it down.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/os.h"
#include "sandbox/cgroup.h"
#include "sandbox/pod_resources.h"

namespace crius::sandbox {

enum class CgroupDriver { kCgroupfs, kSystemd };

// "cgroupfs" / "systemd", as runtime.cgroup_manager spells them.
std::string_view CgroupDriverName(CgroupDriver driver);

// The prefix of crius's own cgroups and scopes: "crius-<id>" or
// "crius-<id>.scope".
inline constexpr char kCgroupPrefix[] = "crius";

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  virtual CgroupDriver driver() const = 0;
  const CgroupSetup& setup() const { return setup_; }

  // Checks LinuxPodSandboxConfig.cgroup_parent for this driver:
  // InvalidArgument for a slice under cgroupfs or a path under systemd.
  virtual absl::Status ValidateParent(std::string_view parent) const = 0;

  // Makes the pod cgroup for `parent` (validated). The result's `path` is
  // the cgroup's directory below each hierarchy's mount point (what the
  // stats reader reads), and what it records is all RemovePod needs.
  virtual absl::StatusOr<PodCgroup> CreatePod(const std::string& parent,
                                              const CgroupResources& resources) = 0;
  // Removes what CreatePod made (idempotent). FailedPrecondition while
  // processes remain (cgroupfs).
  virtual absl::Status RemovePod(const PodCgroup& cgroup) = 0;
  // Sets the pod cgroup's CPU and memory to `resources` (fields at 0 stay
  // as they are): UpdatePodSandboxResources. FailedPrecondition when the
  // cgroup is gone or the kernel refuses the values in its present state (a
  // memory limit below what the pod uses).
  virtual absl::Status UpdatePod(const PodCgroup& cgroup, const CgroupResources& resources) = 0;

  // linux.cgroupsPath for a container (or the pod's infra process) called
  // `name` inside the pod cgroup `parent`; without a parent, a leaf of the
  // root ("/crius-<name>") or of system.slice.
  virtual std::string RuntimeCgroupsPath(std::string_view parent, std::string_view name) const = 0;
  // The directory (below each hierarchy's mount point) that a
  // RuntimeCgroupsPath names; "" for "".
  virtual std::string CgroupDir(std::string_view runtime_cgroups_path) const = 0;

  // Global flags for the OCI runtime (runc and crun alike).
  virtual std::vector<std::string> RuntimeFlags() const = 0;
  // Whether conmon gets --systemd-cgroup.
  bool MonitorSystemdCgroup() const { return driver() == CgroupDriver::kSystemd; }

  // Moves a just-started conmon (`pid`, not yet running the runtime) where
  // it lives while the container does; cgroupfs leaves it where it is.
  virtual absl::Status PlaceMonitor(pid_t pid, std::string_view container_id,
                                    std::string_view parent) = 0;

 protected:
  explicit CgroupManager(CgroupSetup setup) : setup_(std::move(setup)) {}
  const CgroupSetup setup_;
};

// The cgroupfs driver over `setup` (sandbox/cgroup.h does the work).
std::unique_ptr<CgroupManager> NewCgroupfsManager(Os& os, CgroupSetup setup);

// The manager runtime.cgroup_manager names. systemd: FailedPrecondition
// when PID 1 is not systemd or its bus cannot be reached.
absl::StatusOr<std::unique_ptr<CgroupManager>> NewCgroupManager(std::string_view driver, Os& os,
                                                                CgroupSetup setup);

}  // namespace crius::sandbox
