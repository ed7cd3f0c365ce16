#pragma once
// Pod sysctls: which namespace a sysctl belongs to, and where it lives under
// /proc/sys. A pod may only set sysctls that the kernel scopes to one of the
// pod's own namespaces; anything else would change the whole node.
//
// Names come in two spellings, both accepted (like sysctl(8)): dots as
// separators ("net.ipv4.conf.eth0/100.rp_filter", kubelet's form, where a
// '/' stands for a literal '.') or slashes ("net/ipv4/conf/eth0.100/rp_filter").
// Whichever separator appears first decides the spelling.

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius::sandbox {

enum class SysctlNamespace { kNet, kIpc, kUts };

// Which namespaces the pod gets of its own (false = it shares the node's).
struct OwnNamespaces {
  bool net = false;
  bool ipc = false;
  bool uts = false;
};

// "net.ipv4.ip_forward" -> "net/ipv4/ip_forward" (relative to /proc/sys).
// InvalidArgument for empty segments, "." / "..", whitespace or control
// characters, so a name can never point outside /proc/sys.
absl::StatusOr<std::string> SysctlRelativePath(std::string_view name);

// The namespace that scopes `name`: net.* -> kNet; kernel.shm*, kernel.msg*,
// kernel.sem, fs.mqueue.* -> kIpc; kernel.domainname -> kUts. Anything else
// (vm.*, kernel.pid_max...) is InvalidArgument "not namespaced", and
// kernel.hostname is InvalidArgument too: the pod's hostname field sets it.
absl::StatusOr<SysctlNamespace> SysctlNamespaceOf(std::string_view name);

// Checks every name and value of a pod's sysctls, and that each one's
// namespace is one of the pod's own (net.* with host networking is refused).
// Meant for request validation, before anything is created. Whether the
// running kernel knows the sysctl is only learnt when it is written.
absl::Status ValidateSysctls(const std::map<std::string, std::string>& sysctls, OwnNamespaces own);

}  // namespace crius::sandbox
