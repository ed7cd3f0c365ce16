#pragma once
// Linux capability names and the capability sets a CRI container gets.
//
// A CRI request names capabilities with or without the "CAP_" prefix and in
// any case ("net_raw", "CAP_NET_RAW"); the OCI spec wants the canonical
// "CAP_NET_RAW". "ALL" in add_capabilities means every capability this kernel
// knows; "ALL" in drop_capabilities means none of the defaults survive (the
// usual Kubernetes pattern is drop ALL + add the few needed).

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "api/api.pb.h"
#include "oci/spec.h"

namespace crius::oci {

// The capabilities a non-privileged container starts with. The same 14 that
// containerd's CRI plugin grants (and Docker's default), so images that work
// there (chown at startup, ping with NET_RAW, binding low ports) work here.
std::vector<std::string> DefaultCapabilities();

// "CAP_NET_RAW" for "net_raw", "NET_RAW", "cap_net_raw"...; InvalidArgument
// for a name that is not a Linux capability.
absl::StatusOr<std::string> NormalizeCapability(std::string_view name);

// Every capability up to the kernel's highest (/proc/sys/kernel/cap_last_cap;
// the newest known one when that cannot be read) that this process holds
// (its permitted and bounding sets), in numeric order. The runtime can only
// hand out what criusd has: asking runc for a capability the daemon lacks
// (CAP_SYS_RESOURCE on some nodes) fails the container's start with
// "unable to apply caps", so "ALL" and privileged mean all that is grantable,
// as containerd's "current capabilities" do.
std::vector<std::string> AllCapabilities();

// The process capability sets for a container: `privileged` gives every
// capability; otherwise the defaults, then "ALL" handling, then adds, then
// drops (drop wins over add, as in containerd). Ambient additions land in
// every set, since the kernel only keeps an ambient capability that is also
// permitted and inheritable. Inheritable is otherwise empty (CVE-2022-24769:
// a non-empty inheritable set lets file capabilities of an exec'd binary grow
// the process's permitted set).
absl::StatusOr<Capabilities> ContainerCapabilities(const runtime::v1::Capability* requested,
                                                   bool privileged);

}  // namespace crius::oci
