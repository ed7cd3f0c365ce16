#pragma once
// The infra process: only pods that share one PID namespace between their
// containers (namespace_options.pid = POD) get one. It is crius's own
// static pause binary, run by the pod's OCI runtime as PID 1 of a new PID
// namespace; the pod's containers then join /proc/<pid>/ns/pid, and the
// infra reaps their orphans. Pods without a shared PID namespace have no
// infra at all (their net/ipc/uts namespaces are pinned, see namespaces.h).
//
// The bundle holds config.json, the pid file and an empty rootfs directory.
// The pause binary is not copied in: the spec bind-mounts it read-only onto
// /pause inside the container's own mount namespace, so nothing is written
// per pod and no host mount can be leaked (the bind dies with the
// container).
//
// Life cycle (persist InfraProcess with the pod to recover it):
//
//   StartInfra ──▶ running ──(exit, kill)──▶ stopped ──StopInfra──▶ gone
//        │                                                ▲
//        └──────────────────── StopInfra ─────────────────┘
//
// StopInfra is idempotent: a container the runtime no longer knows and a
// bundle already removed are success.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "oci/runtime_client.h"

namespace crius::sandbox {

struct InfraSpec {
  // The pod's id; also the infra's container id in the runtime, so `runc
  // list` shows which pod it belongs to.
  std::string pod_id;
  // The client of the pod's runtime handler (not owned).
  oci::RuntimeClient* runtime = nullptr;
  // Absolute host path of crius-pause (config pod.infra_path).
  std::string pause_path;
  // Created; e.g. <pod dir>/infra. A leftover from an interrupted start
  // (one the runtime does not know) is replaced.
  std::string bundle_dir;
  // The pod's pins to join; empty means the node's namespace is used.
  std::string net_ns;
  std::string ipc_ns;
  std::string uts_ns;
  // linux.cgroupsPath of the infra's own cgroup: the cgroup manager's
  // RuntimeCgroupsPath(parent, InfraCgroupName(id)); empty lets the runtime
  // choose.
  std::string cgroups_path;
  // Unset inherits criusd's. Callers clamp: a negative value fails on nodes
  // without CAP_SYS_RESOURCE.
  std::optional<int> oom_score_adj;
};

struct InfraProcess {
  std::string container_id;
  pid_t pid = 0;
  // Field 22 of /proc/<pid>/stat when started: tells the infra apart from a
  // later process that reuses its pid.
  uint64_t start_time = 0;
  std::string bundle;

  // What the pod's containers put in linux.namespaces for "pid".
  std::string PidNamespacePath() const;
};

// The infra's name inside the pod cgroup: "infra-<first 12 of pod_id>"
// (the cgroup manager adds crius's prefix: "crius-infra-...").
std::string InfraCgroupName(std::string_view pod_id);

// Builds the bundle and runs the infra detached (`run -d`). On failure
// everything it made is removed again (runtime container, cgroup, bundle).
// Errors: InvalidArgument for a bad spec, AlreadyExists when the runtime
// already has a container with the pod's id, FailedPrecondition when the
// pause binary is missing or not executable, the runtime's error otherwise.
absl::StatusOr<InfraProcess> StartInfra(const InfraSpec& spec);

// SIGKILLs the infra, reaps it if it became criusd's child (criusd is a
// subreaper), deletes the runtime container (which removes its cgroup) and
// removes the bundle. Idempotent. Tries every step, returns the first error.
absl::Status StopInfra(oci::RuntimeClient& runtime, const InfraProcess& infra);

enum class InfraStatus {
  kRunning,  // the runtime runs it and the pid is still the same process
  kStopped,  // the runtime knows it but it has exited (or its pid was reused)
  kGone,     // the runtime has no such container (e.g. after a reboot)
};

// For recovery: asks the runtime and checks the pid against start_time.
absl::StatusOr<InfraStatus> GetInfraStatus(oci::RuntimeClient& runtime, const InfraProcess& infra);

}  // namespace crius::sandbox
