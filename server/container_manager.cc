#include "server/container_manager.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/failpoint.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rollback.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"
#include "oci/container_spec.h"
#include "oci/spec.h"
#include "server/record_lookup.h"

namespace crius::server {
namespace {

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

// The tail a termination message may take, as kubelet caps it.
constexpr size_t kTerminationMessageMax = 4096;

// An exit whose code nobody recorded: 255 and reason "Unknown", now.
void MarkExitUnknown(ContainerRecord& r) {
  r.state = runtime::v1::CONTAINER_EXITED;
  r.exit_code = 255;
  r.reason = "Unknown";
  r.finished_at_ns = NowNs();
}

bool CgroupRecordedOom(const std::string& cgroups_path) {
  // cgroup v1: memory.oom_control counts kills; v2: memory.events.
  for (const std::string& file :
       {"/sys/fs/cgroup/memory" + cgroups_path + "/memory.oom_control",
        "/sys/fs/cgroup" + cgroups_path + "/memory.events"}) {
    auto text = ReadFile(file, 4096);
    if (!text.ok()) continue;
    auto pos = text->find("oom_kill ");
    if (pos != std::string::npos && text->compare(pos + 9, 1, "0") != 0) return true;
  }
  return false;
}

}  // namespace

// Lock order: a slot's op, then its rec, then mu_ (never the reverse).
struct ContainerManager::Slot {
  // Held across a call's step on the container (create, start, stop,
  // remove, update), runtime calls included.
  absl::Mutex op;
  // Held across one change of its record, disk write included: the exit
  // watcher changes records without `op` (a stop holds it while it waits
  // for the exit), and two changes must not interleave.
  absl::Mutex rec;
};

ContainerManager::ContainerManager(SandboxManager& sandboxes, image::ImageManager& images,
                                   std::map<std::string, HandlerClients>& handlers,
                                   ContainerManagerOptions options)
    : sandboxes_(sandboxes), images_(images), handlers_(handlers), options_(std::move(options)) {}

ContainerManager::~ContainerManager() {
  monitors_.reset();
  exits_.reset();  // no more exits, so nothing more is queued
  {
    absl::MutexLock lock(&reclaim_mu_);
    reclaim_stop_ = true;
  }
  if (reclaimer_.joinable()) reclaimer_.join();
}

void ContainerManager::QueueRuntimeDelete(const std::string& id) {
  absl::MutexLock lock(&reclaim_mu_);
  reclaim_queue_.push_back(id);
}

void ContainerManager::RuntimeDeleteLoop() {
  for (;;) {
    std::string id;
    {
      absl::MutexLock lock(&reclaim_mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(reclaim_mu_) {
        return reclaim_stop_ || !reclaim_queue_.empty();
      };
      reclaim_mu_.Await(absl::Condition(&ready));
      if (reclaim_stop_) return;
      id = std::move(reclaim_queue_.front());
      reclaim_queue_.pop_front();
    }
    DeleteExitedRuntimeState(id);
  }
}

void ContainerManager::DeleteExitedRuntimeState(const std::string& id) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (records_.count(id) == 0) return;  // removed meanwhile
  }
  auto slot = SlotFor(id);
  absl::MutexLock op(&slot->op);
  RecordPtr r;
  {
    absl::MutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) {
      // Removed between the check and the lock: drop the slot made above.
      auto s = slots_.find(id);
      if (s != slots_.end() && s->second == slot) slots_.erase(s);
      return;
    }
    r = it->second;
  }
  if (r->state != runtime::v1::CONTAINER_EXITED || r->runtime_deleted) return;
  HandlerClients* clients = ClientsFor(r->runtime_handler);
  if (clients == nullptr) return;
  absl::Status s = clients->runtime->Delete(id, /*force=*/false);
  if (!s.ok() && !absl::IsNotFound(s)) {
    // RemoveContainer tries again, with force.
    CRIUS_LOG(kWarn) << "container " << id << ": runtime delete after exit: " << s;
    return;
  }
  // Not durable: if it is lost, RemoveContainer runs a delete that finds
  // nothing.
  auto change = ChangeRecord(id, Durability::kProcessCrash, [](ContainerRecord& r) {
    r.runtime_deleted = true;
    return true;
  });
  if (!change.persisted.ok()) {
    CRIUS_LOG(kWarn) << "container " << id << ": after its runtime delete: " << change.persisted;
  }
}

std::shared_ptr<ContainerManager::Slot> ContainerManager::SlotFor(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto& slot = slots_[id];
  if (!slot) slot = std::make_shared<Slot>();
  return slot;
}

namespace {
template <typename Map>
bool HasKeyWithPrefix(const Map& m, const std::string& prefix) {
  auto it = m.lower_bound(prefix);
  return it != m.end() && absl::StartsWith(it->first, prefix);
}
}  // namespace

std::string ContainerManager::ClaimNewId() {
  absl::MutexLock lock(&mu_);
  std::string id = oci::NewIdWithFreeAttachKey(NewObjectId, [this](const std::string& key) {
    mu_.AssertHeld();
    return HasKeyWithPrefix(records_, key) || HasKeyWithPrefix(slots_, key);
  });
  slots_[id] = std::make_shared<Slot>();
  return id;
}

HandlerClients* ContainerManager::ClientsFor(const std::string& handler) {
  auto it = handlers_.find(handler);
  return it == handlers_.end() ? nullptr : &it->second;
}

absl::Status ContainerManager::Persist(const ContainerRecord& r, Durability durability) {
  RETURN_IF_ERROR(MkdirAll(options_.records_dir, 0700));
  auto text = ContainerToJson(r);
  if (!text.ok()) return Annotate(text.status(), "persist container record");
  return Annotate(
      WriteFileAtomic(JoinPath(options_.records_dir, r.id + ".json"), *text, 0600, durability),
      "persist container record");
}

void ContainerManager::PersistOrWarn(const ContainerRecord& r, std::string_view when) {
  if (absl::Status s = Persist(r); !s.ok()) {
    CRIUS_LOG(kWarn) << "container " << r.id << ": " << when << ": " << s;
  }
}

ContainerManager::RecordChange ContainerManager::ChangeRecord(
    const std::string& id, Durability durability, const std::function<bool(ContainerRecord&)>& edit,
    const SwapFn& swapped) {
  std::shared_ptr<Slot> slot;
  {
    absl::MutexLock lock(&mu_);
    if (records_.count(id) == 0) return {};
    auto& s = slots_[id];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
  }
  absl::MutexLock rec(&slot->rec);
  RecordPtr before;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return {};  // removed while this waited
    before = it->second;
  }
  ContainerRecord copy = *before;
  if (!edit(copy)) return {};
  RecordChange out;
  out.persisted = Persist(copy, durability);
  out.record = std::make_shared<const ContainerRecord>(std::move(copy));
  absl::MutexLock lock(&mu_);
  // Still there: Remove erases a record only under its rec lock.
  records_[id] = out.record;
  if (swapped) swapped(before, out.record);
  return out;
}

void ContainerManager::Publish(ContainerRecord record) {
  auto ptr = std::make_shared<const ContainerRecord>(std::move(record));
  absl::MutexLock lock(&mu_);
  records_[ptr->id] = std::move(ptr);
}

void ContainerManager::Notify(LifecycleEvent event, const RecordPtr& record) {
  if (observer_ == nullptr) return;
  std::vector<RecordPtr> pod;
  for (const auto& [id, r] : records_) {
    if (r->sandbox_id == record->sandbox_id) pod.push_back(r);
  }
  observer_->OnContainer(event, record, std::move(pod));
}

void ContainerManager::TimeStep(std::string_view step, absl::Time since) const {
  if (options_.step_timer) options_.step_timer(step, absl::Now() - since);
}

absl::StatusOr<ContainerManager::RecordPtr> ContainerManager::Get(const std::string& id) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindByIdOrPrefix(records_, id, "container");
}

std::vector<ContainerManager::RecordPtr> ContainerManager::List() const {
  absl::ReaderMutexLock lock(&mu_);
  return AllRecords(records_);
}

bool ContainerManager::UsesImage(const std::string& image_id) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [id, r] : records_) {
    if (r->image_id == image_id) return true;
  }
  return false;
}

absl::StatusOr<std::string> ContainerManager::Create(const CallContext& ctx,
                                                     const runtime::v1::CreateContainerRequest& req) {
  ASSIGN_OR_RETURN(auto pod, sandboxes_.Get(req.pod_sandbox_id()));
  if (pod->state != runtime::v1::SANDBOX_READY) {
    return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", pod->id, " is not ready"));
  }
  auto image = images_.Find(req.config().image().image());
  if (!image.ok()) {
    return absl::NotFoundError(absl::StrCat("image \"", req.config().image().image(),
                                            "\" is not present on the node: ", image.status().message()));
  }
  ContainerRecord probe;
  probe.config = req.config();
  const std::string name = probe.ReservationName(pod->config.metadata());
  const std::string fresh = ClaimNewId();
  auto reservation = names_.Reserve(name, fresh, ctx.deadline);
  if (!reservation.ok() || reservation->outcome == NameRegistry::Outcome::kExisting) {
    absl::MutexLock lock(&mu_);
    slots_.erase(fresh);
    if (!reservation.ok()) return reservation.status();
    return reservation->id;
  }
  const std::string id = reservation->id;
  auto slot = SlotFor(id);
  absl::MutexLock op(&slot->op);
  auto record = Build(id, req, *pod, **image);
  if (!record.ok()) {
    names_.Release(name);
    absl::MutexLock lock(&mu_);
    slots_.erase(id);
    return record.status();
  }
  const oci::ProcessIdentity conmon = record->conmon;
  {
    auto ptr = std::make_shared<const ContainerRecord>(*std::move(record));
    absl::MutexLock lock(&mu_);
    records_[id] = ptr;
    Notify(LifecycleEvent::kCreated, ptr);
  }
  if (monitors_) monitors_->Watch(id, conmon);
  names_.Finish(name);
  return id;
}

absl::StatusOr<ContainerRecord> ContainerManager::Build(const std::string& id,
                                                        const runtime::v1::CreateContainerRequest& req,
                                                        const SandboxRecord& pod,
                                                        const image::ImageRecord& image) {
  const auto& config = req.config();
  ContainerRecord r;
  r.id = id;
  r.sandbox_id = pod.id;
  r.config = config;
  r.image_name = config.image().image();
  r.image_id = image.id;
  r.runtime_handler = pod.runtime_handler;
  r.created_at_ns = NowNs();
  r.bundle = JoinPath(options_.bundles_dir, id);
  HandlerClients* clients = ClientsFor(r.runtime_handler);
  if (clients == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("runtime handler \"", r.runtime_handler, "\" of pod ", pod.id, " is not configured"));
  }
  Rollback rb(absl::StrCat("create container ", id));

  // The intent record comes first (so its removal is undone last): every
  // piece made below is found from the id, the bundle and the handler.
  r.creating = true;
  RETURN_IF_ERROR(Persist(r, Durability::kProcessCrash));
  const std::string record_file = JoinPath(options_.records_dir, id + ".json");
  rb.Push("remove container record", [record_file] {
    if (::unlink(record_file.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink " + record_file);
    return absl::OkStatus();
  });

  RETURN_IF_ERROR(Annotate(MkdirAll(r.bundle, 0700), "create bundle dir"));
  rb.Push("remove bundle", [&] { return RemoveAll(r.bundle); });

  absl::Time step = absl::Now();
  ASSIGN_OR_RETURN(std::vector<std::string> lowers, images_.LowerDirs(image));
  auto rootfs = images_.rootfs().Mount(id, lowers);
  if (!rootfs.ok()) return Annotate(rootfs.status(), "mount rootfs");
  rb.Push("remove rootfs", [&] {
    absl::Status s = images_.rootfs().Unmount(id);
    absl::Status t = images_.rootfs().Remove(id);
    return s.ok() ? t : s;
  });
  failpoint::Hit(failpoint::Point::kCreateContainerAfterRootfs);
  TimeStep("rootfs", step);

  r.termination_log = JoinPath(r.bundle, "termination-log");
  RETURN_IF_ERROR(WriteFileAtomic(r.termination_log, "", 0666, Durability::kProcessCrash));
  if (!pod.config.log_directory().empty() && !config.log_path().empty()) {
    r.log_path = JoinPath(pod.config.log_directory(), config.log_path());
    // The edge refused a log_path with ".."; checked again here because
    // conmon creates this file as root wherever it points.
    const std::filesystem::path dir = std::filesystem::path(pod.config.log_directory()).lexically_normal();
    const std::filesystem::path rel = std::filesystem::path(r.log_path).lexically_normal().lexically_relative(dir);
    if (rel.empty() || *rel.begin() == "..") {
      return absl::InvalidArgumentError(absl::StrCat("config.log_path \"", config.log_path(),
                                                     "\" leaves the pod's log directory"));
    }
    RETURN_IF_ERROR(Annotate(MkdirAll(std::filesystem::path(r.log_path).parent_path().string(), 0755),
                             "create log dir"));
  }

  step = absl::Now();
  oci::ContainerSpecInput in;
  in.container_id = id;
  in.config = &config;
  in.sandbox = &pod.config;
  in.image_config_json = image.config_json;
  in.image_name = r.image_name;
  in.rootfs = *rootfs;
  in.oom_score_adj_min = options_.oom_score_adj_min;
  in.termination_log_host_path = r.termination_log;
  in.pod.sandbox_id = pod.id;
  in.pod.sandbox_name = pod.config.metadata().name();
  in.pod.sandbox_namespace = pod.config.metadata().namespace_();
  in.pod.sandbox_uid = pod.config.metadata().uid();
  in.pod.net_ns = pod.namespaces.net;
  in.pod.ipc_ns = pod.namespaces.ipc;
  in.pod.uts_ns = pod.namespaces.uts;
  in.pod.hostname = pod.namespaces.uts.empty() ? "" : pod.config.hostname();
  in.pod.hostname_file = JoinPath(pod.pod_dir, "hostname");
  in.pod.hosts_file = JoinPath(pod.pod_dir, "hosts");
  in.pod.resolv_conf_file = JoinPath(pod.pod_dir, "resolv.conf");
  in.pod.shm_path = pod.shm_path;
  const std::string& cgroup_parent = pod.config.linux().cgroup_parent();
  in.pod.cgroups_path = options_.cgroups->RuntimeCgroupsPath(cgroup_parent, id);
  // Containers of a pod that shares one PID namespace join its infra's.
  if (pod.infra.pid != 0) in.pod.pid_ns = pod.infra.PidNamespacePath();
  in.pod.cgroup_v2 = options_.cgroup_v2;
  auto spec = oci::BuildContainerSpec(in);
  if (!spec.ok()) return Annotate(spec.status(), "build OCI spec");
  RETURN_IF_ERROR(Annotate(oci::WriteSpec(r.bundle, *spec), "write OCI spec"));
  failpoint::Hit(failpoint::Point::kCreateContainerAfterSpec);
  TimeStep("spec", step);
  const nlohmann::json spec_json = oci::ToJson(*spec);
  r.process_json = spec_json.value("process", nlohmann::json::object()).dump();
  // Recorded as the directory the stats reader and OOM check read.
  r.cgroups_path = options_.cgroups->CgroupDir(in.pod.cgroups_path);
  r.stop_signal = oci::StopSignalOf(image.config_json).value_or(SIGTERM);
  if (config.has_linux() && config.linux().has_resources()) {
    *r.resources.mutable_linux() = config.linux().resources();
  }

  oci::CreateRequest create;
  create.id = id;
  create.name = config.metadata().name();
  create.bundle = r.bundle;
  create.log_path = r.log_path;
  create.persist_dir = r.bundle;
  create.terminal = config.tty();
  create.open_stdin = config.stdin();
  create.stdin_once = config.stdin_once();
  create.before_start = [this, &id, &cgroup_parent](pid_t conmon) {
    return options_.cgroups->PlaceMonitor(conmon, id, cgroup_parent);
  };
  rb.Push("delete runtime state", [&] {
    absl::Status s = clients->runtime->Delete(id, /*force=*/true);
    absl::Status files = clients->monitor->RemoveContainerFiles(id);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    return files;
  });
  step = absl::Now();
  auto created = clients->monitor->Create(create);
  if (!created.ok()) return Annotate(created.status(), "create container");
  failpoint::Hit(failpoint::Point::kCreateContainerAfterRuntimeCreate);
  TimeStep("runtime_create", step);
  r.pid = created->container_pid;
  r.conmon = created->conmon;
  r.state = runtime::v1::CONTAINER_CREATED;
  r.creating = false;
  failpoint::Hit(failpoint::Point::kCreateContainerBeforeRecord);
  RETURN_IF_ERROR(Persist(r));
  rb.Commit();
  return r;
}

absl::Status ContainerManager::Start(const std::string& id) {
  ASSIGN_OR_RETURN(RecordPtr found, Get(id));
  auto slot = SlotFor(found->id);
  absl::MutexLock op(&slot->op);
  ASSIGN_OR_RETURN(RecordPtr current, Get(found->id));
  if (current->state != runtime::v1::CONTAINER_CREATED) {
    return absl::FailedPreconditionError(absl::StrCat("container ", current->id, " is ",
                                                      runtime::v1::ContainerState_Name(current->state),
                                                      ", not CREATED"));
  }
  HandlerClients* clients = ClientsFor(current->runtime_handler);
  if (clients == nullptr) return absl::FailedPreconditionError("runtime handler is gone");
  // Taken before the start: a short-lived process may exit (and have its
  // finish time recorded) before runc start even returns.
  const int64_t started = NowNs();
  failpoint::Hit(failpoint::Point::kStartContainerBeforeRuntimeStart);
  {
    absl::MutexLock lock(&mu_);
    starting_.insert(current->id);
  }
  const absl::Time step = absl::Now();
  absl::Status start = Annotate(clients->runtime->Start(current->id),
                                absl::StrCat("start container ", current->id));
  if (!start.ok()) {
    MarkStartFailed(current->id, start, *clients);
    absl::MutexLock lock(&mu_);
    starting_.erase(current->id);
    return start;
  }
  failpoint::Hit(failpoint::Point::kStartContainerAfterRuntimeStart);
  TimeStep("runtime_start", step);
  // The exit watcher may already have recorded a very short-lived process
  // (and reported its start and stop); only a container still CREATED moves
  // to RUNNING. `starting_` loses the id in the same critical section as the
  // swap, so an exit changed before it still counts as a start.
  const std::string& cid = current->id;
  auto change = ChangeRecord(
      cid, Durability::kDurable,
      [&](ContainerRecord& r) {
        failpoint::Hit(failpoint::Point::kStartContainerRecordWrite);
        r.started_at_ns = std::min(started, r.finished_at_ns > 0 ? r.finished_at_ns : started);
        if (r.state == runtime::v1::CONTAINER_CREATED) r.state = runtime::v1::CONTAINER_RUNNING;
        return true;
      },
      [&](const RecordPtr& before, const RecordPtr& after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        starting_.erase(cid);
        if (before->state == runtime::v1::CONTAINER_CREATED)
          Notify(LifecycleEvent::kStarted, after);
      });
  if (change.record == nullptr) {
    absl::MutexLock lock(&mu_);
    starting_.erase(cid);
  }
  // The container runs whatever the disk says; a lost write is repaired by
  // recovery, which asks the runtime about a CREATED container.
  if (!change.persisted.ok())
    CRIUS_LOG(kWarn) << "container " << cid << ": after start: " << change.persisted;
  return absl::OkStatus();
}

// As containerd reports it: a container whose start failed is EXITED with
// exit code 128, reason StartError and the error as its message, so kubelet
// shows why and restarts it per the pod's policy. Its created init (still
// waiting for the start) is killed; conmon's exit file for it then comes
// as a repeat and changes nothing.
void ContainerManager::MarkStartFailed(const std::string& id, const absl::Status& error,
                                       HandlerClients& clients) {
  auto change = ChangeRecord(
      id, Durability::kDurable,
      [&](ContainerRecord& r) {
        if (r.state != runtime::v1::CONTAINER_CREATED) return false;
        r.state = runtime::v1::CONTAINER_EXITED;
        r.exit_code = 128;
        r.reason = "StartError";
        r.message = ToValidUtf8(StdView(error.message()));  // may quote the runtime's output
        r.finished_at_ns = NowNs();
        return true;
      },
      [&](const RecordPtr&, const RecordPtr& after)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { Notify(LifecycleEvent::kStopped, after); });
  if (change.record == nullptr) return;
  if (!change.persisted.ok()) {
    CRIUS_LOG(kWarn) << "container " << id << ": after a failed start: " << change.persisted;
  }
  if (auto s = clients.runtime->Kill(id, SIGKILL, /*all=*/true); !s.ok() && !absl::IsNotFound(s)) {
    CRIUS_LOG(kWarn) << "container " << id << ": kill after a failed start: " << s;
  }
}

void ContainerManager::ApplyExit(ContainerRecord* r, int exit_code, absl::Time finished_at) const {
  r->state = runtime::v1::CONTAINER_EXITED;
  r->exit_code = exit_code;
  r->finished_at_ns = absl::ToUnixNanos(finished_at);
  if (r->started_at_ns == 0) r->started_at_ns = r->finished_at_ns;
  if (!r->cgroups_path.empty() && CgroupRecordedOom(r->cgroups_path)) {
    r->reason = "OOMKilled";
  } else {
    r->reason = exit_code == 0 ? "Completed" : "Error";
  }
  // The container's /dev/termination-log; kubelet falls back to the log
  // tail itself when the pod asks for FallbackToLogsOnError.
  // The container wrote it: any bytes at all.
  auto msg = ReadFile(r->termination_log, kTerminationMessageMax);
  if (msg.ok()) r->message = ToValidUtf8(*msg);
}

void ContainerManager::NotifyExit(const RecordPtr& before, const RecordPtr& after) {
  // Exited before StartContainer could record the start: it did start.
  if (before->state == runtime::v1::CONTAINER_CREATED && starting_.count(after->id) != 0) {
    Notify(LifecycleEvent::kStarted, after);
  }
  Notify(LifecycleEvent::kStopped, after);
}

void ContainerManager::OnExit(const oci::ExitEvent& event) {
  // The exit file's companions (termination log, OOM counters) are read
  // and the record written outside mu_.
  auto change = ChangeRecord(
      event.id, Durability::kDurable,
      [&](ContainerRecord& r) {
        if (r.state == runtime::v1::CONTAINER_EXITED) return false;  // a repeat
        failpoint::Hit(failpoint::Point::kContainerExitRecordWrite);
        ApplyExit(&r, event.exit_code, event.finished_at);
        return true;
      },
      [this](const RecordPtr& before, const RecordPtr& after)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { NotifyExit(before, after); });
  if (change.record == nullptr) return;
  if (!change.persisted.ok())
    CRIUS_LOG(kWarn) << "container " << event.id << ": after its exit: " << change.persisted;
  CRIUS_LOG(kInfo) << "container " << event.id << " exited with code " << change.record->exit_code
                   << " (" << change.record->reason << ")";
  QueueRuntimeDelete(event.id);
}

bool ContainerManager::WaitForExit(const std::string& id, absl::Duration timeout) {
  auto exited = [this, &id]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    auto it = records_.find(id);
    return it == records_.end() || it->second->state == runtime::v1::CONTAINER_EXITED;
  };
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&exited), timeout);
}

absl::Status ContainerManager::WithContainerLocked(const std::string& id,
                                                   const std::function<absl::Status(const std::string&)>& fn) {
  auto found = Get(id);
  if (!found.ok()) {
    return found.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : found.status();
  }
  const std::string full = (*found)->id;
  auto slot = SlotFor(full);
  absl::MutexLock op(&slot->op);
  return fn(full);
}

absl::Status ContainerManager::Stop(const std::string& id, int64_t timeout_seconds) {
  return WithContainerLocked(id, [&](const std::string& full) { return StopLocked(full, timeout_seconds); });
}

absl::Status ContainerManager::StopLocked(const std::string& id, int64_t timeout_seconds) {
  RecordPtr r;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return absl::OkStatus();
    r = it->second;
  }
  if (r->state == runtime::v1::CONTAINER_EXITED) return absl::OkStatus();
  HandlerClients* clients = ClientsFor(r->runtime_handler);
  if (clients == nullptr) return absl::FailedPreconditionError("runtime handler is gone");
  if (r->state == runtime::v1::CONTAINER_RUNNING && timeout_seconds > 0) {
    absl::Status s = clients->runtime->Kill(id, r->stop_signal);
    if (!s.ok() && !absl::IsNotFound(s)) CRIUS_LOG(kWarn) << "stop container " << id << ": " << s;
    failpoint::Hit(failpoint::Point::kStopContainerAfterKill);
    if (WaitForExit(id, absl::Seconds(timeout_seconds))) return absl::OkStatus();
  }
  absl::Status s = clients->runtime->Kill(id, SIGKILL, /*all=*/true);
  if (!s.ok() && !absl::IsNotFound(s)) {
    return Annotate(s, absl::StrCat("stop container ", id));
  }
  failpoint::Hit(failpoint::Point::kStopContainerAfterKill);
  // Without its conmon no exit file will come: waiting for one is futile.
  const bool monitored = oci::IsProcessAlive(r->conmon);
  if (monitored && WaitForExit(id, absl::Seconds(30))) return absl::OkStatus();
  // No exit file: conmon itself is gone. Trust the runtime's view.
  if (WaitRuntimeStopped(*clients, id, absl::Seconds(monitored ? 1 : 10))) {
    MarkUnreportedExit(id, absl::StrCat("conmon (pid ", r->conmon.pid,
                                        ") reported no exit code; the runtime saw the container "
                                        "stop after StopContainer killed it"));
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(absl::StrCat("container ", id, " did not stop after SIGKILL"));
}

bool ContainerManager::WaitRuntimeStopped(HandlerClients& clients, const std::string& id,
                                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration backoff = absl::Milliseconds(10);
  for (;;) {
    auto state = clients.runtime->State(id);
    if (!state.ok() || state->status == oci::kStatusStopped) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(200));
  }
}

bool ContainerManager::MarkUnreportedExit(const std::string& id, std::string_view why) {
  auto change = ChangeRecord(
      id, Durability::kDurable,
      [&](ContainerRecord& r) {
        if (r.state == runtime::v1::CONTAINER_EXITED) return false;
        ApplyExit(&r, 128 + SIGKILL, absl::Now());
        if (r.reason != "OOMKilled") r.reason = "ConmonDied";
        if (r.message.empty()) r.message = std::string(why);
        return true;
      },
      [this](const RecordPtr& before, const RecordPtr& after)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { NotifyExit(before, after); });
  if (change.record == nullptr) return false;
  // Recovery finds the same: no conmon, no exit file, a stopped runtime state.
  if (!change.persisted.ok()) {
    CRIUS_LOG(kWarn) << "container " << id << ": after an unreported exit: " << change.persisted;
  }
  QueueRuntimeDelete(id);
  return true;
}

void ContainerManager::OnMonitorExit(const std::string& id) {
  RecordPtr r;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end() || it->second->state == runtime::v1::CONTAINER_EXITED) return;
    r = it->second;
  }
  // conmon writes the exit file before it exits: with one, this is an
  // ordinary exit (the exit watcher reports it too; the repeat is a no-op).
  if (auto exit = oci::ReadExitFile(options_.exit_dir, id); exit.ok()) {
    OnExit(*exit);
    return;
  }
  CRIUS_LOG(kWarn) << "container " << id << ": its conmon (pid " << r->conmon.pid
                   << ") exited and left no exit code; killing the container";
  HandlerClients* clients = ClientsFor(r->runtime_handler);
  if (clients == nullptr) return;
  absl::Status s = clients->runtime->Kill(id, SIGKILL, /*all=*/true);
  if (!s.ok() && !absl::IsNotFound(s)) {
    CRIUS_LOG(kWarn) << "container " << id << ": kill after its conmon died: " << s;
  }
  if (!WaitRuntimeStopped(*clients, id, absl::Seconds(10))) {
    // StopContainer kills it again and reads the runtime's state then.
    CRIUS_LOG(kWarn) << "container " << id << " still runs after its conmon died and SIGKILL";
    return;
  }
  MarkUnreportedExit(id, absl::StrCat("conmon (pid ", r->conmon.pid,
                                      ") exited while the container ran, so the container lost "
                                      "its output and was killed"));
}

absl::Status ContainerManager::Remove(const std::string& id) {
  return WithContainerLocked(id, [&](const std::string& full) { return RemoveLocked(full); });
}

absl::Status ContainerManager::RemoveLocked(const std::string& id) {
  RETURN_IF_ERROR(StopLocked(id, 0));
  RecordPtr r;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return absl::OkStatus();
    r = it->second;
  }
  HandlerClients* clients = ClientsFor(r->runtime_handler);
  if (clients != nullptr) {
    if (!r->runtime_deleted) {
      absl::Status s = clients->runtime->Delete(id, /*force=*/true);
      if (!s.ok() && !absl::IsNotFound(s)) return Annotate(s, absl::StrCat("remove container ", id));
    }
    failpoint::Hit(failpoint::Point::kRemoveContainerAfterRuntimeDelete);
    // Not ignored: the exit file and attach link would leak for good once
    // the record is gone. The removal fails and kubelet retries it.
    RETURN_IF_ERROR(Annotate(clients->monitor->RemoveContainerFiles(id),
                             absl::StrCat("remove container ", id)));
  }
  RETURN_IF_ERROR(Annotate(images_.rootfs().Unmount(id), absl::StrCat("remove container ", id)));
  RETURN_IF_ERROR(Annotate(images_.rootfs().Remove(id), absl::StrCat("remove container ", id)));
  RETURN_IF_ERROR(Annotate(RemoveAll(r->bundle), absl::StrCat("remove container ", id)));
  failpoint::Hit(failpoint::Point::kRemoveContainerBeforeRecordDelete);
  auto pod = sandboxes_.Get(r->sandbox_id);
  // Under the record lock: a change (an exit reported late) either wrote
  // before the unlink or finds no record after it.
  auto slot = SlotFor(id);
  absl::MutexLock rec(&slot->rec);
  const std::string file = JoinPath(options_.records_dir, id + ".json");
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("remove container ", id, ": record ", file));
  }
  {
    absl::MutexLock lock(&mu_);
    records_.erase(id);
    slots_.erase(id);
    Notify(LifecycleEvent::kDeleted, r);
  }
  if (pod.ok()) names_.Release(r->ReservationName((*pod)->config.metadata()), id);
  return absl::OkStatus();
}

absl::Status ContainerManager::StopPodContainers(const std::string& sandbox_id) {
  absl::Status first;
  for (const auto& r : List()) {
    if (r->sandbox_id != sandbox_id) continue;
    if (auto s = Stop(r->id, 0); !s.ok() && first.ok()) first = s;
  }
  return first;
}

absl::Status ContainerManager::RemovePodContainers(const std::string& sandbox_id) {
  absl::Status first;
  for (const auto& r : List()) {
    if (r->sandbox_id != sandbox_id) continue;
    if (auto s = Remove(r->id); !s.ok() && first.ok()) first = s;
  }
  return first;
}

absl::StatusOr<runtime::v1::ExecSyncResponse> ContainerManager::ExecSync(
    const runtime::v1::ExecSyncRequest& req, absl::Time call_deadline) {
  ASSIGN_OR_RETURN(RecordPtr r, Get(req.container_id()));
  if (r->state != runtime::v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("container ", r->id, " is not running"));
  }
  HandlerClients* clients = ClientsFor(r->runtime_handler);
  if (clients == nullptr) return absl::FailedPreconditionError("runtime handler is gone");
  auto exec_process = ExecProcessFor(*r, {req.cmd().begin(), req.cmd().end()});
  if (!exec_process.ok()) return exec_process.status();
  nlohmann::json process = std::move(*exec_process);
  absl::Duration timeout = call_deadline == absl::InfiniteFuture()
                               ? absl::InfiniteDuration()
                               : std::max(call_deadline - absl::Now(), absl::Milliseconds(1));
  if (req.timeout() > 0) timeout = std::min(timeout, absl::Seconds(req.timeout()));
  // Each stream is cut at RuntimeClient's default, CRI-O's 16 MiB.
  auto result = clients->runtime->ExecProcess(r->id, process, r->bundle, timeout);
  if (!result.ok()) {
    if (absl::IsDeadlineExceeded(result.status())) {
      return absl::DeadlineExceededError(absl::StrCat(
          "command ", absl::StrJoin(req.cmd(), " "), " timed out after ",
          req.timeout() > 0 ? absl::StrCat(req.timeout(), "s") : "the call's deadline"));
    }
    return result.status();
  }
  runtime::v1::ExecSyncResponse resp;
  resp.set_stdout(result->stdout_data);
  resp.set_stderr(result->stderr_data);
  resp.set_exit_code(result->signal != 0 ? 128 + result->signal : result->exit_code);
  return resp;
}

absl::Status ContainerManager::ReopenLog(const std::string& id) {
  ASSIGN_OR_RETURN(RecordPtr r, Get(id));
  if (r->state != runtime::v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat("container ", r->id, " is not running"));
  }
  if (r->log_path.empty()) return absl::OkStatus();
  return oci::Monitor::ReopenLog(r->bundle, r->log_path);
}

absl::Status ContainerManager::UpdateResources(const std::string& id,
                                               const runtime::v1::ContainerResources& res) {
  ASSIGN_OR_RETURN(RecordPtr found, Get(id));
  auto slot = SlotFor(found->id);
  absl::MutexLock op(&slot->op);
  HandlerClients* clients = ClientsFor(found->runtime_handler);
  if (clients == nullptr) return absl::FailedPreconditionError("runtime handler is gone");
  nlohmann::json resources =
      oci::LinuxResourcesJson(res.linux(), options_.cgroup_v2, std::nullopt, found->id);
  RETURN_IF_ERROR(Annotate(clients->runtime->Update(found->id, resources),
                           absl::StrCat("update container ", found->id)));
  // The runtime applied them: the record follows even if the write fails,
  // and the caller hears of the failure (kubelet retries the update).
  auto change = ChangeRecord(found->id, Durability::kDurable, [&](ContainerRecord& r) {
    r.resources = res;
    return true;
  });
  return Annotate(change.persisted, absl::StrCat("update container ", found->id));
}

absl::Status ContainerManager::Recover() {
  RETURN_IF_ERROR(MkdirAll(options_.exit_dir, 0700));
  std::error_code ec;
  if (std::filesystem::exists(options_.records_dir, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(options_.records_dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      auto text = ReadFile(entry.path().string());
      if (!text.ok()) return Annotate(text.status(), "recover containers");
      auto record = ContainerFromJson(*text);
      if (!record.ok()) {
        CRIUS_LOG(kError) << "skipping unreadable container record " << entry.path() << ": " << record.status();
        continue;
      }
      RecoverOne(*std::move(record));
    }
  }
  RemoveOrphanRootfs();
  for (const RecordPtr& r : List()) {
    if (r->state == runtime::v1::CONTAINER_EXITED && !r->runtime_deleted) QueueRuntimeDelete(r->id);
  }
  reclaimer_ = std::thread([this] { RuntimeDeleteLoop(); });
  // Started after the records are in: exits noticed while criusd was down
  // are reported first, as repeats of what RecoverOne already applied.
  ASSIGN_OR_RETURN(exits_, oci::ExitWatcher::Start(options_.exit_dir,
                                                   [this](const oci::ExitEvent& e) { OnExit(e); }));
  // A conmon that died while criusd was down is reported at once.
  ASSIGN_OR_RETURN(monitors_,
                   oci::ProcessWatcher::Start([this](const std::string& id) { OnMonitorExit(id); }));
  for (const RecordPtr& r : List()) {
    if (r->state != runtime::v1::CONTAINER_EXITED && r->conmon.pid != 0) {
      monitors_->Watch(r->id, r->conmon);
    }
  }
  return absl::OkStatus();
}

// A rootfs without a container record: its record never reached the disk
// (a power loss just after CreateContainer mounted it; records are not
// fsynced) or was lost. Nothing can use it, so it goes.
void ContainerManager::RemoveOrphanRootfs() {
  auto ids = images_.rootfs().List();
  if (!ids.ok()) {
    CRIUS_LOG(kWarn) << "cannot list container rootfs dirs: " << ids.status();
    return;
  }
  for (const std::string& id : *ids) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (records_.count(id) != 0) continue;
    }
    CRIUS_LOG(kWarn) << "removing rootfs of unknown container " << id;
    absl::Status s = images_.rootfs().Unmount(id);
    if (s.ok()) s = images_.rootfs().Remove(id);
    if (!s.ok()) CRIUS_LOG(kWarn) << "rootfs of unknown container " << id << ": " << s;
  }
}

void ContainerManager::UndoInterruptedCreate(ContainerRecord r) {
  CRIUS_LOG(kWarn) << "container " << r.id << " was being created when criusd stopped; removing it";
  absl::Status first;
  auto keep = [&first](absl::Status s) {
    if (!s.ok() && first.ok()) first = s;
  };
  // A conmon still waiting on a runtime create that hangs: killing it ends
  // that create too (conmon gives the runtime a parent-death signal). Its
  // pid file is trusted only while that pid still runs conmon for this
  // bundle.
  auto pid_text = ReadFile(JoinPath(r.bundle, "conmon.pid"), 64);
  int pid = 0;
  if (pid_text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid_text), &pid) && pid > 0) {
    auto who = oci::IdentifyProcess(pid);
    auto cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"), 1 << 16);
    if (who.ok() && cmdline.ok() && absl::StrContains(*cmdline, std::string("-b\0", 3) + r.bundle + '\0')) {
      ::kill(pid, SIGKILL);
      keep(oci::WaitForProcessExit(*who, absl::Seconds(10)));
    }
  }
  if (HandlerClients* clients = ClientsFor(r.runtime_handler); clients != nullptr) {
    absl::Status s = clients->runtime->Delete(r.id, /*force=*/true);
    if (!absl::IsNotFound(s)) keep(s);
    keep(clients->monitor->RemoveContainerFiles(r.id));
  }
  keep(images_.rootfs().Unmount(r.id));
  keep(images_.rootfs().Remove(r.id));
  if (!r.bundle.empty()) keep(RemoveAll(r.bundle));
  if (!first.ok()) {
    // Kept as an exited container so RemoveContainer (or the next start)
    // can finish the job.
    CRIUS_LOG(kWarn) << "undoing interrupted create of container " << r.id << ": " << first;
    r.creating = false;
    MarkExitUnknown(r);
    // If this write fails the record still says "creating" and the next
    // start undoes the create again.
    PersistOrWarn(r, "after an incomplete undo");
    Publish(std::move(r));
    return;
  }
  const std::string file = JoinPath(options_.records_dir, r.id + ".json");
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    CRIUS_LOG(kWarn) << ErrnoStatus("remove container record " + file);
  }
}

void ContainerManager::RecoverOne(ContainerRecord r) {
  if (r.creating) {
    UndoInterruptedCreate(std::move(r));
    return;
  }
  auto pod = sandboxes_.Get(r.sandbox_id);
  if (pod.ok()) names_.Restore(r.ReservationName((*pod)->config.metadata()), r.id);
  if (r.state == runtime::v1::CONTAINER_CREATED || r.state == runtime::v1::CONTAINER_RUNNING) {
    auto exit = oci::ReadExitFile(options_.exit_dir, r.id);
    if (exit.ok()) {
      ApplyExit(&r, exit->exit_code, exit->finished_at);
      PersistOrWarn(r, "after an exit noticed at recovery");
    } else if (r.state == runtime::v1::CONTAINER_CREATED && oci::IsProcessAlive(r.conmon)) {
      // criusd died between the runtime's start and the record saying so
      // (or that write failed): the runtime knows better. Left CREATED, a
      // retried StartContainer would fail and kill a healthy container.
      HandlerClients* clients = ClientsFor(r.runtime_handler);
      auto state = clients ? clients->runtime->State(r.id) : absl::NotFoundError("no handler");
      if (state.ok() && state->status == oci::kStatusRunning) {
        r.state = runtime::v1::CONTAINER_RUNNING;
        r.started_at_ns = NowNs();  // the true start time was never recorded
        PersistOrWarn(r, "after a start noticed at recovery");
      }
    } else if (!oci::IsProcessAlive(r.conmon)) {
      HandlerClients* clients = ClientsFor(r.runtime_handler);
      auto state = clients ? clients->runtime->State(r.id) : absl::NotFoundError("no handler");
      if (!state.ok() || state->status == oci::kStatusStopped) {
        // Neither conmon nor an exit code survived (a reboot): the process is
        // gone and how it ended is unknown.
        MarkExitUnknown(r);
        PersistOrWarn(r, "after a lost exit");
      }
    }
  }
  Publish(std::move(r));
}

}  // namespace crius::server
