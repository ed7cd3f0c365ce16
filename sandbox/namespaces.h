#pragma once
// Pod namespaces: a pod's network, IPC and UTS namespaces are created once,
// kept alive by bind-mounting them onto files ("pins") rather than by a
// pause process, and joined by every container of the pod through those
// paths in its OCI config.
//
// The network pin lives in /run/netns (by default) so `ip netns list` and
// `ip netns exec` see the pod; like `ip netns add`, the directory is made a
// shared mount so pins propagate to mount namespaces cloned from ours.
// IPC and UTS pins live in a per-pod directory under the daemon's state.
//
// The namespaces are created in a short-lived child (see ns_helper.h), never
// in a daemon thread.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/os.h"
#include "sandbox/sysctl.h"

namespace crius::sandbox {

inline constexpr char kDefaultNetnsDir[] = "/run/netns";

struct NamespaceSpec {
  // Which namespaces the pod gets of its own; false means the node's is
  // used (host network / IPC mode) and nothing is pinned for it.
  bool net = true;
  bool ipc = true;
  bool uts = true;

  // The network pin is <netns_dir>/<netns_name>. The name must be a plain
  // file name (no '/', not "." or ".."); it must not exist yet.
  std::string netns_dir = kDefaultNetnsDir;
  std::string netns_name;
  // IPC and UTS pins are <pin_dir>/ipc and <pin_dir>/uts. Its parent must
  // exist; pin_dir itself is created when missing.
  std::string pin_dir;

  // Set inside the new UTS namespace; empty keeps the node's name, which a
  // new UTS namespace starts with.
  std::string hostname;
  // Written from inside the new namespaces; see sysctl.h for what is allowed.
  std::map<std::string, std::string> sysctls;
};

// What CreatePodNamespaces made; persist it to remove the pod later.
struct PinnedNamespaces {
  std::string net;  // "<netns_dir>/<name>", empty when the node's is used
  std::string ipc;  // "<pin_dir>/ipc", or empty
  std::string uts;  // "<pin_dir>/uts", or empty
  // Removed (when empty) by RemovePodNamespaces; empty if no ipc/uts pins.
  std::string pin_dir;
};

// Creates and pins the namespaces the spec asks for, sets the hostname,
// brings "lo" up and applies the sysctls. All or nothing: on any failure
// every pin, mount and directory made so far is removed again. Errors:
// InvalidArgument for a bad spec or a sysctl the kernel does not know or
// refuses; AlreadyExists when the netns name is taken.
absl::StatusOr<PinnedNamespaces> CreatePodNamespaces(Os& os, const NamespaceSpec& spec);

// Unmounts (lazily if a plain unmount fails) and unlinks each pin, then
// removes pin_dir if it is empty. Missing pins are fine, so it can be called
// again after a partial failure or a reboot. Returns the first error after
// trying everything.
absl::Status RemovePodNamespaces(Os& os, const PinnedNamespaces& pinned);

// The pinning step on its own: for each namespace the spec asks for,
// creates the pin file (exclusively) and bind-mounts
// <ns_source_dir>/{net,ipc,uts} onto it. Directories must already exist.
// On failure, the pins made so far are unmounted and unlinked. Used by
// CreatePodNamespaces with the helper's /proc/<pid>/ns; exposed for tests.
absl::StatusOr<PinnedNamespaces> PinNamespaces(Os& os, const NamespaceSpec& spec,
                                               const std::string& ns_source_dir);

// Makes `dir` (created if missing) a shared mount, binding it onto itself
// first when it is not a mount point yet, as `ip netns add` does.
absl::Status EnsureSharedNetnsDir(Os& os, const std::string& dir);

}  // namespace crius::sandbox
