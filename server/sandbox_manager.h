#pragma once
// SandboxManager: pod sandboxes from RunPodSandbox to RemovePodSandbox. It
// owns the in-memory records (List/Status never touch the disk), persists
// each change atomically, and rebuilds everything at startup.
//
// Every pod's long operations (run, stop, remove) are serialized on that
// pod; different pods proceed in parallel. Records are immutable snapshots
// swapped under the map lock, so readers copy a pointer and never wait for
// a CNI plugin.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/api.pb.h"
#include "cni/network_manager.h"
#include "common/files.h"
#include "common/os.h"
#include "common/rollback.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_manager.h"
#include "server/cri_service.h"
#include "server/lifecycle_observer.h"
#include "server/name_registry.h"
#include "server/sandbox_record.h"

namespace crius::server {

struct SandboxManagerOptions {
  std::string records_dir;  // <root>/sandboxes
  std::string pods_dir;     // <state>/pods
  std::string netns_dir = sandbox::kDefaultNetnsDir;
  uint64_t shm_size_bytes = 64 << 20;
  std::string default_handler = "runc";
  std::vector<std::string> handlers;  // the configured runtime handler names
  // How long a finished RunPodSandbox whose caller gave up is kept for the
  // retry before it is removed.
  absl::Duration unclaimed_ttl = absl::Minutes(3);
  // Pods sharing one PID namespace run crius's pause binary through the
  // runtime of `infra_handler` (empty: the pod's own handler).
  std::string pause_path;
  std::string infra_handler;
  std::function<oci::RuntimeClient*(const std::string& handler)> runtime_for;
  // Timing of the steps of a pod start (cgroup, namespaces, infra, files,
  // cni_add), for crius_pod_start_step_duration_seconds.
  std::function<void(std::string_view step, absl::Duration took)> step_timer;
};

class SandboxManager {
 public:
  using RecordPtr = std::shared_ptr<const SandboxRecord>;

  // `cgroups` must outlive the manager.
  SandboxManager(Os& os, cni::NetworkManager& network, sandbox::CgroupManager& cgroups,
                 SandboxManagerOptions options);

  // Loads the persisted records, reconciles them with what survived (pins,
  // mounts) and tears down the network of pods whose namespaces are gone.
  absl::Status Recover();

  absl::StatusOr<std::string> Run(const CallContext& ctx, const runtime::v1::RunPodSandboxRequest& req);
  // Both succeed for an unknown id.
  absl::Status Stop(const std::string& id);
  absl::Status Remove(const std::string& id);

  // UpdatePodSandboxResources: sets the pod cgroup's CPU and memory to
  // `resources` plus `overhead` (sandbox/pod_resources.h says why and how)
  // and keeps both in the pod's record (config.linux), so they survive a
  // restart. NotFound for an unknown pod, FailedPrecondition for a pod
  // without a pod-level cgroup or values the kernel refuses.
  absl::Status UpdateResources(const runtime::v1::UpdatePodSandboxResourcesRequest& req);

  // By full id or unique prefix; NotFound otherwise.
  absl::StatusOr<RecordPtr> Get(const std::string& id) const;
  std::vector<RecordPtr> List() const;

  // The pod's containers are stopped before its network goes, and removed
  // before the pod is; the container manager hooks itself in here.
  struct ContainerHooks {
    std::function<absl::Status(const std::string& pod_id)> stop;
    std::function<absl::Status(const std::string& pod_id)> remove;
  };
  void SetContainerHooks(ContainerHooks hooks) { hooks_ = std::move(hooks); }
  // Told when a pod becomes READY, leaves READY and is removed; set before
  // Recover. Must outlive the manager.
  void SetObserver(LifecycleObserver* observer) { observer_ = observer; }

  // Removes finished pods nobody claimed within the TTL; called periodically.
  void ReapUnclaimed();

 private:
  struct Slot;
  std::shared_ptr<Slot> SlotFor(const std::string& id);
  // Runs the steps of RunPodSandbox; on failure undoes them. If an undo
  // fails (a CNI DEL, an unmount), the pod is kept NOTREADY with what is
  // left named in its record, so kubelet's RemovePodSandbox (or the next
  // start of criusd) retries the undo instead of leaking it.
  absl::StatusOr<SandboxRecord> Create(const std::string& id, const std::string& handler,
                                       const runtime::v1::RunPodSandboxRequest& req);
  // The steps themselves, each acquired resource's undo pushed on `rb`; `r`
  // is filled as they go.
  absl::Status CreateSteps(const std::string& handler, const runtime::v1::RunPodSandboxRequest& req,
                           Rollback& rb, SandboxRecord& r);
  absl::Status Persist(const SandboxRecord& record, Durability durability = Durability::kDurable);
  void Publish(SandboxRecord record);
  // Resolves `id`, takes the pod's operation lock and runs `fn` on its full id.
  absl::Status WithPodLocked(const std::string& id,
                             absl::Status (SandboxManager::*fn)(const std::string&));
  absl::Status StopLocked(const std::string& id);
  absl::Status RemoveLocked(const std::string& id);
  absl::Status TearDownNetwork(SandboxRecord* record);
  absl::Status StopInfraOf(const SandboxRecord& record);
  void HandOverCgroupParents(const SandboxRecord& removed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cgroup_mu_);
  // A pod other than `except`, its cgroup not yet released, whose cgroup is
  // `cgroup_path` or lies below it; null when there is none.
  RecordPtr LivePodInCgroup(const std::string& cgroup_path, const std::string& except) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cgroup_mu_);
  absl::StatusOr<std::string> ResolveHandler(const std::string& requested) const;
  absl::Status RecoverOne(SandboxRecord record);
  // Writes what recovery changed; a failure is logged (see the .cc).
  void PersistRecovered(const SandboxRecord& record);
  cni::PodNetworkRequest NetworkRequest(const SandboxRecord& record) const;

  Os& os_;
  cni::NetworkManager& network_;
  sandbox::CgroupManager& cgroups_;
  const SandboxManagerOptions options_;
  NameRegistry names_;
  ContainerHooks hooks_;
  LifecycleObserver* observer_ = nullptr;
  void Notify(LifecycleEvent event, RecordPtr record) const;
  void TimeStep(std::string_view step, absl::Time since) const;

  mutable absl::Mutex mu_;
  std::map<std::string, RecordPtr> records_ ABSL_GUARDED_BY(mu_);
  // One per pod id with an operation in flight or a record: serializes the
  // long operations on that pod.
  std::map<std::string, std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);

  // Serializes pod cgroup removal with the hand-over of shared parents, so
  // a parent is never handed to a pod whose cgroup is already gone.
  absl::Mutex cgroup_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::set<std::string> cgroup_released_ ABSL_GUARDED_BY(cgroup_mu_);
};

}  // namespace crius::server
