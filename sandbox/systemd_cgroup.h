#pragma once
// systemd's cgroup names, as kubelet, runc and crun use them with the
// systemd cgroup driver, and the systemd driver itself (cgroup_manager.h).
//
// A slice's name says where it sits: each dash opens a level, so
// "kubepods-besteffort-pod1.slice" lives at
//   /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice
// ("-.slice" is the root). A container's cgroupsPath is
// "<slice>:<prefix>:<name>", the scope "<prefix>-<name>.scope" in that slice.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sandbox/cgroup_manager.h"

namespace crius::sandbox {

// A unit name systemd accepts for a slice crius may use as a pod parent:
// "<name>.slice" with [A-Za-z0-9:_.\-] only, no empty dash-separated part
// (no leading, trailing or double dash), not the root slice, at most 255
// bytes. InvalidArgument naming the problem.
absl::Status ValidateSliceName(std::string_view slice);

// The cgroup directory of a slice, e.g. "/kubepods.slice/kubepods-besteffort.slice/
// kubepods-besteffort-pod1.slice"; "/" for "-.slice". InvalidArgument for a
// bad name.
absl::StatusOr<std::string> ExpandSlice(std::string_view slice);

struct SystemdCgroupsPath {
  std::string slice;   // "kubepods-besteffort-pod1.slice"
  std::string prefix;  // "crius"
  std::string name;    // the container id
  // "<prefix>-<name>.scope" (or `name` itself when it already ends in
  // ".slice", as runc allows).
  std::string Unit() const;
};

// Splits "slice:prefix:name". InvalidArgument unless there are exactly
// three parts, the slice is valid (an empty one means system.slice, as in
// runc) and the name is not empty.
absl::StatusOr<SystemdCgroupsPath> ParseSystemdCgroupsPath(std::string_view path);

// The directory of a "slice:prefix:name" path: the slice's directory plus
// the unit; "" when it does not parse.
std::string SystemdCgroupDir(std::string_view path);

// The systemd driver, talking to PID 1 over the system bus.
// FailedPrecondition when systemd is not PID 1 or the bus is unreachable.
absl::StatusOr<std::unique_ptr<CgroupManager>> NewSystemdManager(CgroupSetup setup);

}  // namespace crius::sandbox
