#pragma once
// ContainerManager: containers from CreateContainer to RemoveContainer. Each
// runs through the pod's OCI runtime handler, watched by a conmon process
// that owns its stdio and writes its exit code, so containers keep running
// while criusd restarts. Records live in memory (List/Status never touch
// the disk or the runtime) and are persisted on every change.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/api.pb.h"
#include "common/files.h"
#include "image/image_manager.h"
#include "oci/exit_watcher.h"
#include "oci/monitor.h"
#include "oci/process_watcher.h"
#include "oci/runtime_client.h"
#include "sandbox/cgroup_manager.h"
#include "server/container_record.h"
#include "server/cri_service.h"
#include "server/lifecycle_observer.h"
#include "server/name_registry.h"
#include "server/sandbox_manager.h"

namespace crius::server {

struct HandlerClients {
  std::unique_ptr<oci::RuntimeClient> runtime;
  std::unique_ptr<oci::Monitor> monitor;
};

struct ContainerManagerOptions {
  std::string records_dir;     // <root>/containers
  std::string bundles_dir;     // <state>/containers
  std::string exit_dir;        // <state>/exits
  int oom_score_adj_min = -1000;
  bool cgroup_v2 = false;
  // Names the containers' cgroups and places their conmons; must outlive
  // the manager.
  sandbox::CgroupManager* cgroups = nullptr;
  // Timing of the steps of a container start (rootfs, spec, runtime_create,
  // runtime_start), for crius_container_start_step_duration_seconds.
  std::function<void(std::string_view step, absl::Duration took)> step_timer;
};

class ContainerManager {
 public:
  using RecordPtr = std::shared_ptr<const ContainerRecord>;

  // `handlers` (runtime handler name -> its clients) must outlive the manager.
  ContainerManager(SandboxManager& sandboxes, image::ImageManager& images,
                   std::map<std::string, HandlerClients>& handlers, ContainerManagerOptions options);
  ~ContainerManager();

  // Starts the exit watcher, reloads the records and reconciles them with
  // the runtime and the exit files written while criusd was down.
  absl::Status Recover();
  // Told about every create, start, stop (by a call or by itself) and
  // removal; set before Recover. Must outlive the manager.
  void SetObserver(LifecycleObserver* observer) { observer_ = observer; }

  absl::StatusOr<std::string> Create(const CallContext& ctx, const runtime::v1::CreateContainerRequest& req);
  absl::Status Start(const std::string& id);
  // Stop and Remove succeed for an unknown id.
  absl::Status Stop(const std::string& id, int64_t timeout_seconds);
  absl::Status Remove(const std::string& id);
  // Runs req.cmd in the container. A timeout of 0 means none, as the CRI
  // says: the command runs until the caller's deadline (`call_deadline`).
  // Each stream is capped at 16 MiB.
  absl::StatusOr<runtime::v1::ExecSyncResponse> ExecSync(
      const runtime::v1::ExecSyncRequest& req, absl::Time call_deadline = absl::InfiniteFuture());
  absl::Status ReopenLog(const std::string& id);
  absl::Status UpdateResources(const std::string& id, const runtime::v1::ContainerResources& res);

  absl::StatusOr<RecordPtr> Get(const std::string& id) const;
  std::vector<RecordPtr> List() const;

  // For the pod's lifecycle: stop every container of a pod / remove them.
  absl::Status StopPodContainers(const std::string& sandbox_id);
  absl::Status RemovePodContainers(const std::string& sandbox_id);
  // RemoveImage refuses an image a container still uses.
  bool UsesImage(const std::string& image_id) const;

 private:
  struct Slot;
  std::shared_ptr<Slot> SlotFor(const std::string& id);
  // A fresh id whose attach key (conmon's -u, oci::AttachKey) no record and
  // no create in flight holds, claimed by a new slot until Create either
  // records it or drops the slot.
  std::string ClaimNewId();
  absl::StatusOr<ContainerRecord> Build(const std::string& id, const runtime::v1::CreateContainerRequest& req,
                                        const SandboxRecord& pod, const image::ImageRecord& image);
  absl::Status Persist(const ContainerRecord& record, Durability durability = Durability::kDurable);
  struct RecordChange {
    RecordPtr record;        // the record swapped in; null when nothing changed
    absl::Status persisted;  // its write to disk
  };
  // Changes a container's record without holding mu_ across the disk
  // write, so List and Status never wait for an fsync: under the
  // container's record lock, `edit` changes a copy of the current record
  // (false: no change), the copy is persisted, then swapped in under mu_,
  // where `swapped(before, after)` runs (notifications). No record: no change.
  using SwapFn = std::function<void(const RecordPtr& before, const RecordPtr& after)>;
  RecordChange ChangeRecord(const std::string& id, Durability durability,
                            const std::function<bool(ContainerRecord&)>& edit,
                            const SwapFn& swapped = nullptr);
  // For writes whose failure changes nothing the caller can act on (the
  // runtime already did the work, recovery repairs a stale record): logged.
  void PersistOrWarn(const ContainerRecord& record, std::string_view when);
  void Publish(ContainerRecord record);
  HandlerClients* ClientsFor(const std::string& handler);
  void OnExit(const oci::ExitEvent& event);
  // Started (if StartContainer had not said so yet) and stopped.
  void NotifyExit(const RecordPtr& before, const RecordPtr& after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A container's conmon exited. With an exit file that is an ordinary
  // exit; without one conmon was killed: the container lost its stdio, its
  // log and its exit report, so it is killed and recorded EXITED (137,
  // reason "ConmonDied") rather than left RUNNING forever.
  void OnMonitorExit(const std::string& id);
  // Polls the runtime until it reports the container stopped (or gone).
  bool WaitRuntimeStopped(HandlerClients& clients, const std::string& id, absl::Duration timeout);
  // Records an exit nobody reported (no conmon wrote an exit file) after
  // the runtime saw the container stop; false if it had exited already.
  bool MarkUnreportedExit(const std::string& id, std::string_view why);
  void ApplyExit(ContainerRecord* r, int exit_code, absl::Time finished_at) const;
  absl::Status StopLocked(const std::string& id, int64_t timeout_seconds);
  void RemoveOrphanRootfs();
  void MarkStartFailed(const std::string& id, const absl::Status& error, HandlerClients& clients);
  absl::Status RemoveLocked(const std::string& id);
  absl::Status WithContainerLocked(const std::string& id,
                                   const std::function<absl::Status(const std::string&)>& fn);
  bool WaitForExit(const std::string& id, absl::Duration timeout);
  void RecoverOne(ContainerRecord record);
  // Undoes a create criusd died in (`record.creating`).
  void UndoInterruptedCreate(ContainerRecord record);
  // Exited containers' runtime state (`runc delete`) is deleted in the
  // background, one at a time, so RemoveContainer is only unmounts and
  // unlinks (containerd's shim deletes at exit too).
  void QueueRuntimeDelete(const std::string& id);
  void RuntimeDeleteLoop();
  void DeleteExitedRuntimeState(const std::string& id);
  void Notify(LifecycleEvent event, const RecordPtr& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TimeStep(std::string_view step, absl::Time since) const;

  SandboxManager& sandboxes_;
  image::ImageManager& images_;
  std::map<std::string, HandlerClients>& handlers_;
  const ContainerManagerOptions options_;
  NameRegistry names_;
  std::unique_ptr<oci::ExitWatcher> exits_;
  // Watches every live container's conmon (key: container id).
  std::unique_ptr<oci::ProcessWatcher> monitors_;

  absl::Mutex reclaim_mu_;
  std::deque<std::string> reclaim_queue_ ABSL_GUARDED_BY(reclaim_mu_);
  bool reclaim_stop_ ABSL_GUARDED_BY(reclaim_mu_) = false;
  std::thread reclaimer_;

  mutable absl::Mutex mu_;
  std::map<std::string, RecordPtr> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  // Containers inside StartContainer: an exit seen meanwhile was a start.
  std::set<std::string> starting_ ABSL_GUARDED_BY(mu_);
  LifecycleObserver* observer_ = nullptr;
};

}  // namespace crius::server
