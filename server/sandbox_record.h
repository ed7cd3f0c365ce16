#pragma once
// A pod sandbox as criusd keeps it: in memory for List/Status, and as one
// JSON file per pod under <root>/sandboxes so it survives a daemon restart.
//
// State machine:
//
//   RunPodSandbox ──▶ READY ──StopPodSandbox──▶ NOTREADY ──RemovePodSandbox──▶ (gone)
//                       │                          ▲
//                       └──(recovery: pins lost)───┘
//
// A pod is only inserted once READY (a failed run leaves nothing); a Stop
// whose CNI DEL failed keeps the pod NOTREADY with `network_error` set and
// `network_attached` still true, so the next Stop or Remove tries again.
//
// Durability (what each write must survive; common/files.h Durability):
// - The intent record (`creating`) survives a crash of criusd while it
//   names only what a reboot destroys anyway (the pod's cgroup, pinned
//   namespaces, infra process and pod dir under the volatile state dir):
//   kProcessCrash. Before CNI ADD it is written durably (fsync): host-local
//   keeps the pod's IP reservation and libcni its cached result on disk,
//   so a power loss after ADD must still find the record that says to DEL.
// - The READY record and every later change: durable, like any state the
//   kubelet was told about.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/api.pb.h"
#include "sandbox/cgroup.h"
#include "sandbox/infra.h"
#include "sandbox/namespaces.h"

namespace crius::server {

struct SandboxRecord {
  std::string id;
  runtime::v1::PodSandboxConfig config;
  std::string runtime_handler;
  runtime::v1::PodSandboxState state = runtime::v1::SANDBOX_NOTREADY;
  int64_t created_at_ns = 0;

  // Where the pod's pieces live (empty when not made, e.g. host network).
  sandbox::PinnedNamespaces namespaces;
  std::string pod_dir;   // <state>/pods/<id>: hostname, hosts, resolv.conf, shm
  std::string shm_path;  // mounted tmpfs, or empty when IPC is NODE
  sandbox::PodCgroup cgroup;
  // The pause process of a pod sharing one PID namespace (pid 0: none).
  sandbox::InfraProcess infra;
  std::string infra_handler;

  // Network.
  bool network_attached = false;  // CNI ADD succeeded and DEL has not
  std::vector<std::string> ips;   // primary first
  std::string cni_result;         // the ADD result as JSON, for verbose status
  std::string network_error;      // last failed teardown, shown in verbose status

  // Set while a finished RunPodSandbox waits for the kubelet retry that
  // claims it (its caller's deadline had passed); 0 otherwise.
  int64_t unclaimed_since_ns = 0;

  // True while RunPodSandbox is still acquiring the pod's pieces: the record
  // is on disk only so recovery can undo a run that criusd died in.
  bool creating = false;

  // The key kubelet retries with: name, namespace, uid and attempt.
  std::string ReservationName() const;
  bool HostNetwork() const;
};

std::string ReservationNameOf(const runtime::v1::PodSandboxMetadata& md);

absl::StatusOr<std::string> SandboxToJson(const SandboxRecord& record);
absl::StatusOr<SandboxRecord> SandboxFromJson(const std::string& json);

}  // namespace crius::server
