#include "server/sandbox_manager.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/failpoint.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rollback.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "sandbox/pod_files.h"
#include "sandbox/shm.h"
#include "sandbox/sysctl.h"
#include "server/record_lookup.h"

namespace crius::server {
namespace {

using runtime::v1::NamespaceMode;
using runtime::v1::PodSandboxConfig;

struct NamespaceModes {
  bool own_net, own_ipc, own_uts;
};

NamespaceModes ModesOf(const PodSandboxConfig& config) {
  const auto& ns = config.linux().security_context().namespace_options();
  const bool own_net = ns.network() != runtime::v1::NODE;
  // A pod on the node's network keeps the node's hostname too, as kubelet
  // expects of hostNetwork pods.
  return {own_net, ns.ipc() != runtime::v1::NODE, own_net};
}

bool PathExists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

std::optional<sandbox::DnsConfig> DnsOf(const PodSandboxConfig& config) {
  if (!config.has_dns_config()) return std::nullopt;
  const auto& d = config.dns_config();
  return sandbox::DnsConfig{{d.servers().begin(), d.servers().end()},
                            {d.searches().begin(), d.searches().end()},
                            {d.options().begin(), d.options().end()}};
}

// kubelet passes traffic shaping as annotations; the bandwidth plugin wants
// bits per second.
absl::StatusOr<std::optional<cni::Bandwidth>> BandwidthOf(const PodSandboxConfig& config);
sandbox::CgroupResources CgroupResourcesOf(const runtime::v1::LinuxContainerResources& r);
sandbox::CgroupResources PodResourcesOf(const PodSandboxConfig& config);

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

}  // namespace

struct SandboxManager::Slot {
  absl::Mutex op;  // held for the whole of a Run/Stop/Remove of one pod
};

SandboxManager::SandboxManager(Os& os, cni::NetworkManager& network,
                               sandbox::CgroupManager& cgroups, SandboxManagerOptions options)
    : os_(os), network_(network), cgroups_(cgroups), options_(std::move(options)) {}

std::shared_ptr<SandboxManager::Slot> SandboxManager::SlotFor(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto& slot = slots_[id];
  if (!slot) slot = std::make_shared<Slot>();
  return slot;
}

absl::StatusOr<std::string> SandboxManager::ResolveHandler(const std::string& requested) const {
  const std::string handler = requested.empty() ? options_.default_handler : requested;
  if (std::find(options_.handlers.begin(), options_.handlers.end(), handler) == options_.handlers.end()) {
    return absl::InvalidArgumentError(absl::StrCat("runtime handler \"", handler,
                                                   "\" is not configured (have: ",
                                                   absl::StrJoin(options_.handlers, ", "), ")"));
  }
  return handler;
}

absl::StatusOr<std::string> SandboxManager::Run(const CallContext& ctx,
                                                const runtime::v1::RunPodSandboxRequest& req) {
  const PodSandboxConfig& config = req.config();
  const NamespaceModes modes = ModesOf(config);
  ASSIGN_OR_RETURN(const std::string handler, ResolveHandler(req.runtime_handler()));
  {
    std::map<std::string, std::string> sysctls(config.linux().sysctls().begin(),
                                               config.linux().sysctls().end());
    RETURN_IF_ERROR(Annotate(
        sandbox::ValidateSysctls(sysctls, {modes.own_net, modes.own_ipc, modes.own_uts}),
        "config.linux.sysctls"));
  }
  if (!config.linux().cgroup_parent().empty()) {
    RETURN_IF_ERROR(Annotate(cgroups_.ValidateParent(config.linux().cgroup_parent()),
                             "config.linux.cgroup_parent"));
  }
  if (modes.own_uts && !config.hostname().empty()) {
    RETURN_IF_ERROR(Annotate(sandbox::ValidateHostname(config.hostname()), "config.hostname"));
  }
  RETURN_IF_ERROR(BandwidthOf(config).status());
  if (modes.own_net) {
    cni::NetworkStatus net = network_.Status();
    if (!net.ready) {
      return absl::FailedPreconditionError(
          absl::StrCat("pod network is not ready: ", net.message));
    }
  }

  const std::string name = ReservationNameOf(config.metadata());
  ASSIGN_OR_RETURN(auto reservation, names_.Reserve(name, NewObjectId(), ctx.deadline));
  if (reservation.outcome == NameRegistry::Outcome::kExisting) {
    // kubelet's retry of a run that finished after it gave up: hand over the
    // parked pod and stop its clock.
    absl::MutexLock lock(&mu_);
    auto it = records_.find(reservation.id);
    if (it != records_.end() && it->second->unclaimed_since_ns != 0) {
      auto claimed = std::make_shared<SandboxRecord>(*it->second);
      claimed->unclaimed_since_ns = 0;
      it->second = claimed;
    }
    return reservation.id;
  }
  const std::string id = reservation.id;
  auto slot = SlotFor(id);
  absl::MutexLock op(&slot->op);
  auto record = Create(id, handler, req);
  if (!record.ok()) {
    names_.Release(name);
    absl::MutexLock lock(&mu_);
    slots_.erase(id);
    return record.status();
  }
  if (ctx.Expired()) {
    CRIUS_LOG(kInfo) << "pod " << id << " (" << name << ") finished after its caller's deadline; "
                     << "kept for the retry";
    record->unclaimed_since_ns = NowNs();
  }
  auto ready = std::make_shared<const SandboxRecord>(*std::move(record));
  Publish(*ready);
  // Under the pod's operation lock: its events stay in order.
  Notify(LifecycleEvent::kCreated, ready);
  Notify(LifecycleEvent::kStarted, ready);
  names_.Finish(name);
  return id;
}

absl::StatusOr<SandboxRecord> SandboxManager::Create(const std::string& id, const std::string& handler,
                                                     const runtime::v1::RunPodSandboxRequest& req) {
  SandboxRecord r;
  r.id = id;
  Rollback rb(absl::StrCat("run pod ", id));
  absl::Status failed = CreateSteps(handler, req, rb, r);
  if (failed.ok()) {
    rb.Commit();
    return r;
  }
  absl::Status undo = rb.Run();
  const std::string record_file = JoinPath(options_.records_dir, id + ".json");
  if (undo.ok()) {
    if (::unlink(record_file.c_str()) != 0 && errno != ENOENT) {
      CRIUS_LOG(kWarn) << ErrnoStatus("remove pod record " + record_file) << " (removed at the next start)";
    }
    return failed;
  }
  if (!PathExists(record_file)) return failed;  // failed before the intent record: nothing was made
  // Something is still on the node. The record says what (the steps'
  // fields are only cleared by their own successful undo in Stop/Remove),
  // so the pod stays, NOT READY, for RemovePodSandbox to finish.
  r.creating = false;
  r.state = runtime::v1::SANDBOX_NOTREADY;
  if (r.network_attached) r.network_error = ToValidUtf8(StdView(undo.message()));
  if (absl::Status s = Persist(r); !s.ok()) {
    // Still the intent record on disk: the next start of criusd undoes it.
    CRIUS_LOG(kWarn) << "pod " << id << ": keep after a failed rollback: " << s;
  }
  Publish(r);
  return Annotate(failed, absl::StrCat("(pod ", id, " kept NOTREADY for RemovePodSandbox: rollback failed: ",
                                       undo.message(), ")"));
}

absl::Status SandboxManager::CreateSteps(const std::string& handler,
                                         const runtime::v1::RunPodSandboxRequest& req, Rollback& rb,
                                         SandboxRecord& r) {
  const std::string& id = r.id;
  const PodSandboxConfig& config = req.config();
  const NamespaceModes modes = ModesOf(config);
  r.config = config;
  r.runtime_handler = handler;
  r.created_at_ns = NowNs();
  r.pod_dir = JoinPath(options_.pods_dir, id);

  RETURN_IF_ERROR(Annotate(MkdirAll(r.pod_dir, 0711), "create pod dir"));
  rb.Push("remove pod dir", [&] { return RemoveAll(r.pod_dir); });

  sandbox::NamespaceSpec spec;
  spec.net = modes.own_net;
  spec.ipc = modes.own_ipc;
  spec.uts = modes.own_uts;
  spec.netns_dir = options_.netns_dir;
  spec.netns_name = "crius-" + id.substr(0, 16);
  spec.pin_dir = JoinPath(r.pod_dir, "ns");
  spec.hostname = modes.own_uts ? config.hostname() : "";
  spec.sysctls = {config.linux().sysctls().begin(), config.linux().sysctls().end()};

  // An intent record first: if criusd dies before the run ends, recovery
  // finds it and undoes every piece named in it (paths known in advance,
  // the rest recorded as it is acquired).
  r.creating = true;
  if (spec.net) r.namespaces.net = JoinPath(spec.netns_dir, spec.netns_name);
  if (spec.ipc || spec.uts) r.namespaces.pin_dir = spec.pin_dir;
  if (spec.ipc) r.namespaces.ipc = JoinPath(spec.pin_dir, "ipc");
  if (spec.uts) r.namespaces.uts = JoinPath(spec.pin_dir, "uts");
  if (modes.own_ipc) r.shm_path = JoinPath(r.pod_dir, "shm");
  r.network_attached = modes.own_net;  // DEL of a never-added pod is harmless
  // Removed by Create once every undo succeeded, never before. Only what a
  // reboot destroys is made until CNI ADD, which writes it durably.
  RETURN_IF_ERROR(Persist(r, Durability::kProcessCrash));
  failpoint::Hit(failpoint::Point::kRunPodAfterIntent);

  absl::Time step = absl::Now();
  if (!config.linux().cgroup_parent().empty()) {
    auto cg = cgroups_.CreatePod(config.linux().cgroup_parent(), PodResourcesOf(config));
    if (!cg.ok()) return Annotate(cg.status(), "create pod cgroup");
    r.cgroup = *cg;
    rb.Push("remove pod cgroup", [&] { return cgroups_.RemovePod(r.cgroup); });
    RETURN_IF_ERROR(Persist(r, Durability::kProcessCrash));
    failpoint::Hit(failpoint::Point::kRunPodAfterCgroup);
  }
  TimeStep("cgroup", step);

  step = absl::Now();
  if (spec.net || spec.ipc || spec.uts) {
    auto pinned = sandbox::CreatePodNamespaces(os_, spec);
    if (!pinned.ok()) return Annotate(pinned.status(), "create pod namespaces");
    r.namespaces = *pinned;
    rb.Push("remove pod namespaces", [&] { return sandbox::RemovePodNamespaces(os_, r.namespaces); });
    failpoint::Hit(failpoint::Point::kRunPodAfterNamespaces);
  }
  TimeStep("namespaces", step);

  step = absl::Now();
  if (config.linux().security_context().namespace_options().pid() == runtime::v1::POD) {
    r.infra_handler = options_.infra_handler.empty() ? handler : options_.infra_handler;
    oci::RuntimeClient* rt = options_.runtime_for ? options_.runtime_for(r.infra_handler) : nullptr;
    if (rt == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("no runtime for the infra handler \"", r.infra_handler, "\""));
    }
    sandbox::InfraSpec is;
    is.pod_id = id;
    is.runtime = rt;
    is.pause_path = options_.pause_path;
    is.bundle_dir = JoinPath(r.pod_dir, "infra");
    is.net_ns = r.namespaces.net;
    is.ipc_ns = r.namespaces.ipc;
    is.uts_ns = r.namespaces.uts;
    is.cgroups_path = config.linux().cgroup_parent().empty()
                          ? ""
                          : cgroups_.RuntimeCgroupsPath(config.linux().cgroup_parent(),
                                                        sandbox::InfraCgroupName(id));
    // Named before it starts, so recovery can stop it if criusd dies now.
    r.infra.container_id = id;
    r.infra.bundle = is.bundle_dir;
    RETURN_IF_ERROR(Persist(r, Durability::kProcessCrash));
    auto infra = sandbox::StartInfra(is);
    if (!infra.ok()) return Annotate(infra.status(), "start the pod's infra process");
    r.infra = *infra;
    rb.Push("stop infra", [&] { return StopInfraOf(r); });
    failpoint::Hit(failpoint::Point::kRunPodAfterInfraStart);
    TimeStep("infra", step);
  }

  step = absl::Now();
  if (modes.own_ipc) {
    RETURN_IF_ERROR(Annotate(sandbox::MountPodShm(os_, r.shm_path, options_.shm_size_bytes),
                             "mount pod /dev/shm"));
    rb.Push("unmount pod /dev/shm", [&] { return sandbox::UnmountPodShm(os_, r.shm_path); });
  }

  sandbox::PodFilesSpec files;
  files.pod_dir = r.pod_dir;
  files.hostname = spec.hostname;
  // The CRI carries no host aliases: kubelet writes them into its own
  // /etc/hosts for the pod's containers.
  files.dns = DnsOf(config);
  RETURN_IF_ERROR(Annotate(sandbox::WritePodFiles(files).status(), "write pod files"));
  TimeStep("files", step);

  if (modes.own_net) {
    // The undo is registered before ADD: a plugin that half-succeeded must
    // still be DELeted.
    rb.Push("tear down pod network", [&] { return network_.TearDown(NetworkRequest(r)); });
    // ADD leaves state on disk (host-local's IP reservation, libcni's
    // cache) that outlives a reboot: the record that tells recovery to DEL
    // it must outlive one too (sandbox_record.h, Durability).
    RETURN_IF_ERROR(Persist(r, Durability::kDurable));
    failpoint::Hit(failpoint::Point::kRunPodBeforeCniAdd);
    step = absl::Now();
    auto attached = network_.SetUp(NetworkRequest(r));
    if (!attached.ok()) return Annotate(attached.status(), "set up pod network");
    TimeStep("cni_add", step);
    r.ips = attached->ips;
    r.cni_result = attached->result.raw.dump();
    failpoint::Hit(failpoint::Point::kRunPodAfterCniAdd);
    RETURN_IF_ERROR(Annotate(
        sandbox::WriteHostsFile(r.pod_dir, spec.hostname, r.ips, files.host_aliases),
        "write pod /etc/hosts"));
  }

  r.state = runtime::v1::SANDBOX_READY;
  r.creating = false;
  failpoint::Hit(failpoint::Point::kRunPodBeforeRecord);
  return Persist(r);
}

cni::PodNetworkRequest SandboxManager::NetworkRequest(const SandboxRecord& r) const {
  cni::PodNetworkRequest n;
  n.pod_id = r.id;
  n.netns_path = r.namespaces.net;
  n.pod_name = r.config.metadata().name();
  n.pod_namespace = r.config.metadata().namespace_();
  n.pod_uid = r.config.metadata().uid();
  n.cgroup_parent = r.config.linux().cgroup_parent();
  for (const auto& pm : r.config.port_mappings()) {
    if (pm.host_port() <= 0) continue;  // only published ports need the portmap plugin
    cni::PortMapping m;
    m.host_port = pm.host_port();
    m.container_port = pm.container_port();
    m.protocol = pm.protocol() == runtime::v1::UDP    ? "udp"
                 : pm.protocol() == runtime::v1::SCTP ? "sctp"
                                                      : "tcp";
    m.host_ip = pm.host_ip();
    n.port_mappings.push_back(m);
  }
  auto bw = BandwidthOf(r.config);
  if (bw.ok()) n.bandwidth = *bw;
  if (r.config.has_dns_config()) {
    const auto& d = r.config.dns_config();
    n.dns = cni::DnsConfig{{d.servers().begin(), d.servers().end()},
                           {d.searches().begin(), d.searches().end()},
                           {d.options().begin(), d.options().end()}};
  }
  return n;
}

absl::Status SandboxManager::Persist(const SandboxRecord& record, Durability durability) {
  RETURN_IF_ERROR(MkdirAll(options_.records_dir, 0700));
  auto text = SandboxToJson(record);
  if (!text.ok()) return Annotate(text.status(), "persist pod record");
  return Annotate(
      WriteFileAtomic(JoinPath(options_.records_dir, record.id + ".json"), *text, 0600, durability),
      "persist pod record");
}

void SandboxManager::Notify(LifecycleEvent event, RecordPtr record) const {
  if (observer_ != nullptr) observer_->OnSandbox(event, std::move(record));
}

void SandboxManager::TimeStep(std::string_view step, absl::Time since) const {
  if (options_.step_timer) options_.step_timer(step, absl::Now() - since);
}

void SandboxManager::Publish(SandboxRecord record) {
  auto ptr = std::make_shared<const SandboxRecord>(std::move(record));
  absl::MutexLock lock(&mu_);
  records_[ptr->id] = std::move(ptr);
}

absl::StatusOr<SandboxManager::RecordPtr> SandboxManager::Get(const std::string& id) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindByIdOrPrefix(records_, id, "pod sandbox");
}

std::vector<SandboxManager::RecordPtr> SandboxManager::List() const {
  absl::ReaderMutexLock lock(&mu_);
  return AllRecords(records_);
}

absl::Status SandboxManager::WithPodLocked(const std::string& id,
                                           absl::Status (SandboxManager::*fn)(const std::string&)) {
  auto found = Get(id);
  if (!found.ok()) {
    // Stop and Remove of a pod that is not there have nothing left to do.
    return found.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : found.status();
  }
  const std::string full = (*found)->id;
  auto slot = SlotFor(full);
  absl::MutexLock op(&slot->op);
  return (this->*fn)(full);
}

absl::Status SandboxManager::UpdateResources(
    const runtime::v1::UpdatePodSandboxResourcesRequest& req) {
  ASSIGN_OR_RETURN(RecordPtr found, Get(req.pod_sandbox_id()));
  auto slot = SlotFor(found->id);
  absl::MutexLock op(&slot->op);
  // Again under the pod's lock: a Remove may have finished meanwhile.
  ASSIGN_OR_RETURN(RecordPtr current, Get(found->id));
  const std::string what = absl::StrCat("update resources of pod ", current->id);
  if (current->cgroup.path.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": the pod has no pod-level cgroup (it was run without cgroup_parent)"));
  }
  const sandbox::CgroupResources total =
      sandbox::PodTotal(CgroupResourcesOf(req.resources()), CgroupResourcesOf(req.overhead()));
  RETURN_IF_ERROR(Annotate(cgroups_.UpdatePod(current->cgroup, total), what));
  SandboxRecord updated = *current;
  auto* linux = updated.config.mutable_linux();
  if (req.has_resources()) *linux->mutable_resources() = req.resources();
  if (req.has_overhead()) *linux->mutable_overhead() = req.overhead();
  RETURN_IF_ERROR(Annotate(Persist(updated), what));
  Publish(std::move(updated));
  return absl::OkStatus();
}

absl::Status SandboxManager::Stop(const std::string& id) {
  return WithPodLocked(id, &SandboxManager::StopLocked);
}

absl::Status SandboxManager::StopInfraOf(const SandboxRecord& r) {
  if (r.infra.container_id.empty()) return absl::OkStatus();
  oci::RuntimeClient* rt = options_.runtime_for ? options_.runtime_for(r.infra_handler) : nullptr;
  if (rt == nullptr) return absl::FailedPreconditionError("no runtime for the pod's infra process");
  return sandbox::StopInfra(*rt, r.infra);
}

absl::Status SandboxManager::TearDownNetwork(SandboxRecord* r) {
  if (!r->network_attached) return absl::OkStatus();
  absl::Status s = network_.TearDown(NetworkRequest(*r));
  if (!s.ok()) {
    r->network_error = ToValidUtf8(StdView(s.message()));
    return Annotate(s, "tear down pod network");
  }
  r->network_attached = false;
  r->network_error.clear();
  return absl::OkStatus();
}

absl::Status SandboxManager::StopLocked(const std::string& id) {
  RecordPtr current;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return absl::OkStatus();  // removed meanwhile
    current = it->second;
  }
  SandboxRecord r = *current;
  r.state = runtime::v1::SANDBOX_NOTREADY;
  if (hooks_.stop) {
    RETURN_IF_ERROR(Annotate(hooks_.stop(id), absl::StrCat("stop pod ", id, ": containers")));
  }
  RETURN_IF_ERROR(Annotate(StopInfraOf(r), absl::StrCat("stop pod ", id, ": infra")));
  failpoint::Hit(failpoint::Point::kStopPodBeforeCniDel);
  absl::Status net = TearDownNetwork(&r);
  if (!net.ok()) {
    // Keep the namespaces: DEL needs the netns to clean up inside it.
    if (auto s = Persist(r); !s.ok()) {
      // The pod stays NOTREADY in memory; the disk's READY record makes the
      // next start find the namespaces and DEL again.
      CRIUS_LOG(kWarn) << "pod " << id << ": persist after a failed DEL: " << s;
    }
    Publish(r);
    if (current->state == runtime::v1::SANDBOX_READY) {
      Notify(LifecycleEvent::kStopped, std::make_shared<const SandboxRecord>(r));
    }
    return Annotate(net, absl::StrCat("stop pod ", id));
  }
  failpoint::Hit(failpoint::Point::kStopPodAfterCniDel);
  absl::Status first;
  if (!r.shm_path.empty()) {
    if (auto s = sandbox::UnmountPodShm(os_, r.shm_path); !s.ok() && first.ok()) first = s;
  }
  if (auto s = sandbox::RemovePodNamespaces(os_, r.namespaces); !s.ok() && first.ok()) first = s;
  if (auto s = Persist(r); !s.ok() && first.ok()) first = s;
  Publish(r);
  if (current->state == runtime::v1::SANDBOX_READY) {
    Notify(LifecycleEvent::kStopped, std::make_shared<const SandboxRecord>(r));
  }
  return Annotate(first, absl::StrCat("stop pod ", id));
}

absl::Status SandboxManager::Remove(const std::string& id) {
  return WithPodLocked(id, &SandboxManager::RemoveLocked);
}

absl::Status SandboxManager::RemoveLocked(const std::string& id) {
  RETURN_IF_ERROR(StopLocked(id));
  if (hooks_.remove) {
    RETURN_IF_ERROR(Annotate(hooks_.remove(id), absl::StrCat("remove pod ", id, ": containers")));
  }
  RecordPtr current;
  {
    absl::MutexLock cg(&cgroup_mu_);
    {
      // Read under cgroup_mu_: a sibling's removal may just have handed
      // this pod a shared parent directory to remove.
      absl::ReaderMutexLock lock(&mu_);
      auto it = records_.find(id);
      if (it == records_.end()) return absl::OkStatus();
      current = it->second;
    }
    // kubelet's next attempt of a pod runs in the same cgroup_parent (the
    // pod's uid names it) while the old attempt waits for its removal: that
    // cgroup holds the new pod's processes and stays, handed over below.
    if (current->cgroup.path.empty() || LivePodInCgroup(current->cgroup.path, id) == nullptr) {
      RETURN_IF_ERROR(Annotate(cgroups_.RemovePod(current->cgroup),
                               absl::StrCat("remove pod ", id, ": cgroup")));
    }
    cgroup_released_.insert(id);
    HandOverCgroupParents(*current);
  }
  failpoint::Hit(failpoint::Point::kRemovePodAfterCgroup);
  RETURN_IF_ERROR(Annotate(RemoveAll(current->pod_dir), absl::StrCat("remove pod ", id, ": files")));
  failpoint::Hit(failpoint::Point::kRemovePodBeforeRecordDelete);
  const std::string file = JoinPath(options_.records_dir, id + ".json");
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("remove pod ", id, ": record ", file));
  }
  {
    absl::MutexLock lock(&mu_);
    records_.erase(id);
    slots_.erase(id);
  }
  Notify(LifecycleEvent::kDeleted, current);
  {
    absl::MutexLock cg(&cgroup_mu_);
    cgroup_released_.erase(id);
  }
  names_.Release(current->ReservationName(), id);
  return absl::OkStatus();
}

void SandboxManager::HandOverCgroupParents(const SandboxRecord& removed) {
  // Parent directories this pod created but could not remove hold other
  // pods now. The last pod under them must remove them, so they move to the
  // record of a pod that still lives there.
  std::vector<std::string> left;
  for (const auto& dir : removed.cgroup.created) {
    if (PathExists(dir)) left.push_back(dir);
  }
  if (left.empty()) return;
  // The shortest directory left (first created) decides which pods live at
  // or below it: a parent of the pod's cgroup, or that cgroup itself.
  const std::string& path = removed.cgroup.path;
  std::string parent_rel;
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (absl::EndsWith(left.front(), prefix)) {
      parent_rel = prefix;
      break;
    }
    if (slash == std::string::npos) break;
  }
  if (parent_rel.empty()) return;
  RecordPtr heir = LivePodInCgroup(parent_rel, removed.id);
  if (!heir) {
    CRIUS_LOG(kWarn) << "pod " << removed.id << ": cgroup parents " << absl::StrJoin(left, ", ")
                     << " are not empty but hold no pod crius knows; left in place";
    return;
  }
  SandboxRecord updated = *heir;
  updated.cgroup.created.insert(updated.cgroup.created.begin(), left.begin(), left.end());
  if (auto s = Persist(updated); !s.ok()) {
    CRIUS_LOG(kWarn) << "hand cgroup parents of pod " << removed.id << " to " << heir->id << ": " << s;
  }
  Publish(std::move(updated));
}

SandboxManager::RecordPtr SandboxManager::LivePodInCgroup(const std::string& cgroup_path,
                                                          const std::string& except) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [other_id, r] : records_) {
    if (other_id == except || cgroup_released_.contains(other_id)) continue;
    if (r->cgroup.path == cgroup_path || absl::StartsWith(r->cgroup.path, cgroup_path + "/")) {
      return r;
    }
  }
  return nullptr;
}

void SandboxManager::ReapUnclaimed() {
  const int64_t cutoff = NowNs() - absl::ToInt64Nanoseconds(options_.unclaimed_ttl);
  std::vector<std::string> stale;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [id, r] : records_) {
      if (r->unclaimed_since_ns != 0 && r->unclaimed_since_ns < cutoff) stale.push_back(id);
    }
  }
  for (const auto& id : stale) {
    CRIUS_LOG(kInfo) << "removing pod " << id << ": its RunPodSandbox was never retried";
    if (auto s = Remove(id); !s.ok()) {
      CRIUS_LOG(kWarn) << "remove unclaimed pod " << id << ": " << s;
    }
  }
}

absl::Status SandboxManager::Recover() {
  std::error_code ec;
  if (!std::filesystem::exists(options_.records_dir, ec)) return absl::OkStatus();
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.records_dir, ec)) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".json") continue;
    auto text = ReadFile(path);
    if (!text.ok()) return Annotate(text.status(), "recover pods");
    auto record = SandboxFromJson(*text);
    if (!record.ok()) {
      // One unreadable record must not keep the node from starting.
      CRIUS_LOG(kError) << "skipping unreadable pod record " << path << ": " << record.status();
      continue;
    }
    RETURN_IF_ERROR(RecoverOne(*std::move(record)));
    ++loaded;
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", options_.records_dir, ": ", ec.message()));
  if (loaded > 0) {
    CRIUS_LOG(kInfo) << "recovered " << loaded << " pod sandboxes";
  }
  return absl::OkStatus();
}

void SandboxManager::PersistRecovered(const SandboxRecord& r) {
  // A write that fails here (a full disk) must not keep the node from
  // starting: the record on disk is still whole, and the next start finds
  // the same lost namespaces or DELs an attached network again (DEL of what
  // is gone succeeds).
  if (auto s = Persist(r); !s.ok()) {
    CRIUS_LOG(kWarn) << "pod " << r.id << ": persist after recovery: " << s
                     << " (recovered again on the next start)";
  }
}

absl::Status SandboxManager::RecoverOne(SandboxRecord r) {
  if (r.creating) {
    // criusd died inside RunPodSandbox: kubelet got no id, so the pod is
    // nobody's. Undo every piece the intent record names.
    CRIUS_LOG(kWarn) << "pod " << r.id << " was being created when criusd stopped; removing it";
    absl::Status first;
    auto keep = [&first](absl::Status s) {
      if (!s.ok() && first.ok()) first = s;
    };
    keep(StopInfraOf(r));
    if (r.network_attached) keep(network_.TearDown(NetworkRequest(r)));
    if (!r.shm_path.empty()) keep(sandbox::UnmountPodShm(os_, r.shm_path));
    keep(sandbox::RemovePodNamespaces(os_, r.namespaces));
    keep(cgroups_.RemovePod(r.cgroup));
    keep(RemoveAll(r.pod_dir));
    if (!first.ok()) {
      // Kept (not ready) so a later Remove or restart can finish the job.
      CRIUS_LOG(kWarn) << "undoing interrupted pod " << r.id << ": " << first;
      r.state = runtime::v1::SANDBOX_NOTREADY;
      Publish(std::move(r));
      return absl::OkStatus();
    }
    const std::string file = JoinPath(options_.records_dir, r.id + ".json");
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink " + file);
    return absl::OkStatus();
  }
  names_.Restore(r.ReservationName(), r.id);
  if (r.state == runtime::v1::SANDBOX_READY) {
    // After a reboot the volatile state dir is gone with every pin and
    // mount in it: the pod cannot be ready any more.
    bool intact = PathExists(r.pod_dir) && (r.namespaces.net.empty() || PathExists(r.namespaces.net));
    if (intact && r.infra.pid != 0) {
      oci::RuntimeClient* rt = options_.runtime_for ? options_.runtime_for(r.infra_handler) : nullptr;
      auto st = rt ? sandbox::GetInfraStatus(*rt, r.infra) : absl::NotFoundError("no runtime");
      intact = st.ok() && *st == sandbox::InfraStatus::kRunning;
    }
    if (!intact) {
      CRIUS_LOG(kWarn) << "pod " << r.id << " lost its namespaces (reboot?); marking it NOTREADY";
      r.state = runtime::v1::SANDBOX_NOTREADY;
      if (auto s = StopInfraOf(r); !s.ok()) {
        CRIUS_LOG(kWarn) << "pod " << r.id << ": " << s << " (retried on stop/remove)";
      }
      if (auto s = TearDownNetwork(&r); !s.ok()) {
        CRIUS_LOG(kWarn) << "pod " << r.id << ": " << s << " (retried on stop/remove)";
      }
      if (auto s = sandbox::RemovePodNamespaces(os_, r.namespaces); !s.ok()) {
        CRIUS_LOG(kWarn) << "pod " << r.id << ": " << s << " (retried on stop/remove)";
      }
      PersistRecovered(r);
    }
  } else if (r.network_attached) {
    if (auto s = TearDownNetwork(&r); !s.ok()) {
      CRIUS_LOG(kWarn) << "pod " << r.id << ": " << s << " (retried on stop/remove)";
    }
    PersistRecovered(r);
  }
  Publish(std::move(r));
  return absl::OkStatus();
}

namespace {

// "10M", "1Gi", "500k": kubelet's quantity strings for the bandwidth
// annotations, as bits per second.
absl::StatusOr<uint64_t> ParseQuantity(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return absl::InvalidArgumentError(absl::StrCat("bad quantity \"", s, "\""));
  double value = 0;
  // No std::stod: it throws on input like "." and nothing may throw here.
  if (!absl::SimpleAtod(s.substr(0, i), &value) || value < 0 || value > 1e15) {
    return absl::InvalidArgumentError(absl::StrCat("bad quantity \"", s, "\""));
  }
  const std::string unit = s.substr(i);
  static const std::map<std::string, double> kUnits = {
      {"", 1},       {"k", 1e3},   {"M", 1e6},          {"G", 1e9},          {"T", 1e12},
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}};
  auto u = kUnits.find(unit);
  if (u == kUnits.end()) return absl::InvalidArgumentError(absl::StrCat("bad quantity \"", s, "\""));
  const double bits = value * u->second;
  if (bits > 1e19) return absl::InvalidArgumentError(absl::StrCat("quantity \"", s, "\" is too large"));
  return static_cast<uint64_t>(bits);
}

sandbox::CgroupResources CgroupResourcesOf(const runtime::v1::LinuxContainerResources& r) {
  sandbox::CgroupResources out;
  out.memory_limit_bytes = r.memory_limit_in_bytes();
  out.cpu_quota = r.cpu_quota();
  out.cpu_period = r.cpu_period();
  out.cpu_shares = r.cpu_shares();
  return out;
}

// The pod-level limits kubelet sends (the sum of the containers' plus the
// pod overhead), for a pod cgroup crius creates itself.
sandbox::CgroupResources PodResourcesOf(const PodSandboxConfig& config) {
  return sandbox::PodTotal(CgroupResourcesOf(config.linux().resources()),
                           CgroupResourcesOf(config.linux().overhead()));
}

absl::StatusOr<std::optional<cni::Bandwidth>> BandwidthOf(const PodSandboxConfig& config) {
  const auto& a = config.annotations();
  auto ingress = a.find("kubernetes.io/ingress-bandwidth");
  auto egress = a.find("kubernetes.io/egress-bandwidth");
  if (ingress == a.end() && egress == a.end()) return std::nullopt;
  cni::Bandwidth bw;
  // kubelet's burst for these annotations is effectively unlimited.
  constexpr uint64_t kBurst = uint64_t{1} << 31;
  if (ingress != a.end()) {
    auto v = ParseQuantity(ingress->second);
    if (!v.ok()) return Annotate(v.status(), "annotation kubernetes.io/ingress-bandwidth");
    bw.ingress_rate = *v;
    bw.ingress_burst = kBurst;
  }
  if (egress != a.end()) {
    auto v = ParseQuantity(egress->second);
    if (!v.ok()) return Annotate(v.status(), "annotation kubernetes.io/egress-bandwidth");
    bw.egress_rate = *v;
    bw.egress_burst = kBurst;
  }
  return std::optional<cni::Bandwidth>(bw);
}

}  // namespace

}  // namespace crius::server
