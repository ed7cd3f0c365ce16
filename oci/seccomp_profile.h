#pragma once
// Seccomp for CRI containers: choosing the profile from the request, the
// built-in RuntimeDefault profile, and loading Localhost profiles.
//
// Everything here produces the OCI runtime spec's `linux.seccomp` object
// (defaultAction, defaultErrnoRet, architectures, flags, syscalls[{names,
// action, errnoRet, args[{index, value, valueTwo, op}]}]), which runc and
// crun compile with libseccomp themselves.
//
// RuntimeDefault is an allow list equivalent to the profile containerd's CRI
// plugin and Docker apply: every syscall not listed fails with EPERM;
// syscalls that need a capability in the container's bounding set to be
// useful (mount, unshare, setns, bpf, ptrace extras, reboot...) are allowed
// only when that capability is granted; clone may not create namespaces
// without CAP_SYS_ADMIN (a flags-mask rule) and clone3, whose flags live in
// memory seccomp cannot inspect, then fails with ENOSYS so libcs fall back to
// clone. keyctl/add_key/request_key (the kernel keyring is not namespaced)
// and io_uring (its operations bypass seccomp) are never allowed.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "api/api.pb.h"
#include "nlohmann/json.hpp"

namespace crius::oci {

enum class SeccompMode { kUnconfined, kRuntimeDefault, kLocalhost };

struct SeccompChoice {
  SeccompMode mode = SeccompMode::kUnconfined;
  std::string profile_path;  // kLocalhost only: absolute path on the node
};

// Reads the choice from a container's security context: the typed
// `seccomp` field when present, else the deprecated `seccomp_profile_path`
// string ("runtime/default" and "docker/default" = RuntimeDefault,
// "unconfined" and "" = Unconfined, "localhost/<path>" = Localhost with
// <path> absolute or relative to `profile_root`). An empty choice is
// Unconfined, as the CRI defines it; kubelet asks for RuntimeDefault
// explicitly when it wants it. InvalidArgument names the field for a
// relative Localhost ref, a ref with "..", or an unknown string.
absl::StatusOr<SeccompChoice> ChooseSeccomp(
    const runtime::v1::LinuxContainerSecurityContext& security, const std::string& profile_root);

// The built-in profile for a container whose bounding set is `capabilities`
// (canonical "CAP_..." names), for this machine's architecture.
nlohmann::json RuntimeDefaultSeccomp(const std::vector<std::string>& capabilities);

// Converts a profile in either the OCI form (as above) or Docker's form
// ("archMap", "name"/"names", "includes"/"excludes" by caps, arches and
// minKernel, "comment") into the OCI form for this machine and
// `capabilities`. Syscall names libseccomp does not know are dropped with a
// warning (a profile written for a newer kernel still loads). InvalidArgument
// for JSON that is not a profile (bad action, operator, missing
// defaultAction...).
absl::StatusOr<nlohmann::json> ParseSeccompProfile(std::string_view text,
                                                   const std::vector<std::string>& capabilities);

// Reads a Localhost profile file (NotFound when missing) and parses it.
absl::StatusOr<nlohmann::json> LoadSeccompProfile(const std::string& path,
                                                  const std::vector<std::string>& capabilities);

// Whether libseccomp knows `name` as a syscall (on any architecture it
// supports; an x86-only name like "chown32" is known on x86_64 too).
bool SyscallKnown(std::string_view name);

}  // namespace crius::oci
