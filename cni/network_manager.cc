#include "cni/network_manager.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/exec.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"

namespace crius::cni {
namespace {

constexpr char kNotReadyReason[] = "NetworkPluginNotReady";
constexpr char kLoopbackName[] = "cni-loopback";
constexpr char kLoopbackIf[] = "lo";
// The loopback plugin needs nothing but its type; 0.3.1 is the version every
// loopback build speaks.
constexpr char kLoopbackConfig[] =
    R"({"cniVersion":"0.3.1","name":"cni-loopback","plugins":[{"type":"loopback"}]})";

std::shared_ptr<const NetworkConfigList> MakeLoopback(bool enabled) {
  if (!enabled) return nullptr;
  auto list = ParseNetworkConfigList("built-in loopback network", kLoopbackConfig);
  return list.ok() ? std::make_shared<const NetworkConfigList>(std::move(*list)) : nullptr;
}

NetworkStatus NotReady(absl::string_view why) {
  return NetworkStatus{false, kNotReadyReason,
                       absl::StrCat("Network plugin returns error: cni plugin not initialized: ",
                                    why)};
}

// Every plugin the attachments need must be installed, or the node would
// report a network it cannot set up.
absl::Status CheckBinaries(const NetworkConfigList& list, const std::vector<std::string>& dirs) {
  for (const auto& plugin : list.plugins) {
    auto found = FindExecutable(plugin.value("type", std::string()), dirs);
    if (!found.ok()) {
      return Annotate(found.status(), absl::StrCat("network \"", list.name, "\" (", list.path, ")"));
    }
  }
  return absl::OkStatus();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return !path.empty() && ::lstat(path.c_str(), &st) == 0;
}

// DEL and CHECK run with the arguments ADD ran with, as libcni does.
RuntimeConf FromEntry(const CacheEntry& entry, const std::string& netns_override) {
  RuntimeConf rt;
  rt.container_id = entry.container_id;
  rt.netns = netns_override.empty() ? entry.netns : netns_override;
  rt.if_name = entry.if_name;
  rt.args = entry.cni_args;
  rt.capability_args = entry.capability_args;
  return rt;
}

PodNetworkResult MakePodResult(const std::string& network, const std::string& if_name,
                               CniResult result) {
  PodNetworkResult out;
  out.network_name = network;
  out.if_name = if_name;
  out.ips = PodIps(result);
  out.result = std::move(result);
  return out;
}

}  // namespace

// One network to attach to a pod, under one interface name.
struct NetworkManager::Attachment {
  std::shared_ptr<const NetworkConfigList> list;
  std::string if_name;
  bool primary = false;  // the default network, whose result is the pod's
};

struct NetworkManager::Attached {
  CacheEntry entry;
  CniResult result;
};

// Serializes operations on one pod id; other pods go on in parallel.
class NetworkManager::PodLock {
 public:
  PodLock(NetworkManager* m, const std::string& id) : m_(m), id_(id) {
    absl::MutexLock lock(&m_->pods_mu_);
    struct Arg {
      std::set<std::string>* busy;
      const std::string* id;
    } arg{&m_->busy_pods_, &id_};
    m_->pods_mu_.Await(absl::Condition(
        +[](Arg* a) { return a->busy->count(*a->id) == 0; }, &arg));
    m_->busy_pods_.insert(id_);
  }
  ~PodLock() {
    absl::MutexLock lock(&m_->pods_mu_);
    m_->busy_pods_.erase(id_);
  }
  PodLock(const PodLock&) = delete;
  PodLock& operator=(const PodLock&) = delete;

 private:
  NetworkManager* m_;
  std::string id_;
};

NetworkManager::NetworkManager(NetworkManagerOptions options)
    : options_(std::move(options)), loopback_(MakeLoopback(options_.loopback)) {
  absl::MutexLock lock(&mu_);
  status_ = NotReady("cni config not loaded yet");
}

NetworkManager::~NetworkManager() { Stop(); }

absl::Status NetworkManager::Start() {
  if (watcher_) return absl::FailedPreconditionError("network manager already started");
  RETURN_IF_ERROR(ValidateIfName(options_.if_name));
  // Like containerd, create the conf dir so it can be watched from the
  // start; failing that, the watcher keeps looking for it.
  if (auto s = MkdirAll(options_.conf_dir, 0755); !s.ok()) {
    CRIUS_LOG(kWarn) << "cni: " << s;
  }
  Reload();
  watcher_ = std::make_unique<ConfDirWatcher>(
      options_.conf_dir, [this] { return !Reload().ready; }, options_.retry_interval);
  return watcher_->Start();
}

void NetworkManager::Stop() {
  if (watcher_) watcher_->Stop();
}

NetworkStatus NetworkManager::Reload() {
  std::shared_ptr<const NetworkConfigList> network;
  NetworkStatus status;
  auto loaded = LoadDefaultNetwork(options_.conf_dir);
  if (!loaded.ok()) {
    status = NotReady(loaded.status().message());
  } else {
    network = std::make_shared<const NetworkConfigList>(std::move(*loaded));
    absl::Status bins = CheckBinaries(*network, options_.bin_dirs);
    if (bins.ok() && loopback_) bins = CheckBinaries(*loopback_, options_.bin_dirs);
    status = bins.ok() ? NetworkStatus{true, "", ""} : NotReady(bins.message());
  }
  absl::MutexLock lock(&mu_);
  const bool changed = (network == nullptr) != (network_ == nullptr) ||
                       (network && (network->path != network_->path ||
                                    network->bytes != network_->bytes));
  if (changed || status.ready != status_.ready) {
    if (status.ready) {
      CRIUS_LOG(kInfo) << "cni: default network \"" << network->name << "\" from "
                       << network->path << " (cniVersion " << network->cni_version << ")";
    } else {
      CRIUS_LOG(kWarn) << "cni: network not ready: " << status.message;
    }
  }
  network_ = std::move(network);
  status_ = status;
  return status;
}

NetworkStatus NetworkManager::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::shared_ptr<const NetworkConfigList> NetworkManager::DefaultNetwork() const {
  absl::MutexLock lock(&mu_);
  return network_;
}

bool NetworkManager::WaitForReady(bool ready, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  struct Arg {
    const NetworkStatus* status;
    bool want;
  } arg{&status_, ready};
  return mu_.AwaitWithTimeout(
      absl::Condition(+[](Arg* a) { return a->status->ready == a->want; }, &arg), timeout);
}

InvokeOptions NetworkManager::Invoke() const {
  return InvokeOptions{options_.bin_dirs, options_.plugin_timeout, options_.on_plugin_run};
}

absl::Status NetworkManager::ValidateRequest(const PodNetworkRequest& request) const {
  RETURN_IF_ERROR(ValidateName("pod sandbox id", request.pod_id));
  RETURN_IF_ERROR(ValidateIfName(options_.if_name));
  if (!request.netns_path.empty() && request.netns_path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("netns path \"", request.netns_path, "\" is not absolute"));
  }
  // Names that cannot travel in CNI_ARGS are refused before anything is
  // written or run.
  RETURN_IF_ERROR(FormatCniArgs(BuildRuntimeConf(request, options_.if_name).args).status());
  for (const PortMapping& pm : request.port_mappings) {
    std::string proto = absl::AsciiStrToLower(pm.protocol);
    if (proto != "tcp" && proto != "udp" && proto != "sctp") {
      return absl::InvalidArgumentError(absl::StrCat("port mapping protocol \"", pm.protocol,
                                                     "\" is not tcp, udp or sctp"));
    }
    if (pm.host_port > 65535 || pm.container_port < 0 || pm.container_port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("port mapping ", pm.host_port, ":",
                                                     pm.container_port, " is out of range"));
    }
  }
  return absl::OkStatus();
}

RuntimeConf NetworkManager::BuildRuntimeConf(const PodNetworkRequest& request,
                                             const std::string& if_name) const {
  RuntimeConf rt;
  rt.container_id = request.pod_id;
  rt.netns = request.netns_path;
  rt.if_name = if_name;
  rt.args = {{"IgnoreUnknown", "1"},
             {"K8S_POD_NAMESPACE", request.pod_namespace},
             {"K8S_POD_NAME", request.pod_name},
             {"K8S_POD_INFRA_CONTAINER_ID", request.pod_id},
             {"K8S_POD_UID", request.pod_uid}};
  nlohmann::json ports = nlohmann::json::array();
  for (const PortMapping& pm : request.port_mappings) {
    // A mapping without a host port only documents the container port.
    if (pm.host_port <= 0) continue;
    nlohmann::json m = {{"hostPort", pm.host_port},
                        {"containerPort", pm.container_port},
                        {"protocol", absl::AsciiStrToLower(pm.protocol)}};
    if (!pm.host_ip.empty()) m["hostIP"] = pm.host_ip;
    ports.push_back(std::move(m));
  }
  if (!ports.empty()) rt.capability_args["portMappings"] = std::move(ports);
  if (request.bandwidth) {
    const Bandwidth& b = *request.bandwidth;
    rt.capability_args["bandwidth"] = {{"ingressRate", b.ingress_rate},
                                       {"ingressBurst", b.ingress_burst},
                                       {"egressRate", b.egress_rate},
                                       {"egressBurst", b.egress_burst}};
  }
  if (request.dns) {
    rt.capability_args["dns"] = {{"servers", request.dns->servers},
                                 {"searches", request.dns->searches},
                                 {"options", request.dns->options}};
  }
  if (!request.cgroup_parent.empty()) rt.capability_args["cgroupPath"] = request.cgroup_parent;
  return rt;
}

std::vector<NetworkManager::Attachment> NetworkManager::PlanAttachments(
    std::shared_ptr<const NetworkConfigList> network) const {
  std::vector<Attachment> plan;
  if (loopback_) plan.push_back({loopback_, kLoopbackIf, false});
  plan.push_back({std::move(network), options_.if_name, true});
  return plan;
}

absl::StatusOr<NetworkManager::Attached> NetworkManager::Attach(const Attachment& a,
                                                                const RuntimeConf& rt) {
  const NetworkConfigList& list = *a.list;
  CacheEntry entry{rt.container_id, list.bytes, rt.if_name, list.name,
                   rt.netns,        rt.args,    rt.capability_args, std::nullopt};
  // Recorded before ADD: if crius dies inside ADD, TearDown still finds
  // what to DEL and with which config.
  RETURN_IF_ERROR(WriteCacheEntry(options_.cache_dir, entry));
  absl::StatusOr<CniResult> result = AddNetworkList(list, rt, Invoke());
  absl::Status failure = result.status();
  if (result.ok()) {
    entry.result = result->raw;
    failure = WriteCacheEntry(options_.cache_dir, entry);
    if (failure.ok()) return Attached{std::move(entry), std::move(*result)};
  }
  // Undo this network's plugins (all of them: those that never ran must
  // accept a DEL for nothing, per the spec).
  const nlohmann::json* prev = entry.result ? &*entry.result : nullptr;
  absl::Status undo = DelNetworkList(list, rt, prev, Invoke());
  if (undo.ok()) undo = RemoveCacheEntry(options_.cache_dir, entry);
  if (!undo.ok()) {
    return absl::Status(failure.code(),
                        absl::StrCat(failure.message(), "; cleanup failed, left for TearDown: ",
                                     undo.message()));
  }
  return failure;
}

absl::StatusOr<PodNetworkResult> NetworkManager::SetUp(const PodNetworkRequest& request) {
  RETURN_IF_ERROR(ValidateRequest(request));
  if (request.netns_path.empty()) return absl::InvalidArgumentError("set up pod network: no netns");
  std::shared_ptr<const NetworkConfigList> network = DefaultNetwork();
  if (!network) return absl::FailedPreconditionError(Status().message);
  PodLock lock(this, request.pod_id);
  std::vector<Attached> done;
  std::optional<PodNetworkResult> out;
  for (const Attachment& a : PlanAttachments(network)) {
    auto attached = Attach(a, BuildRuntimeConf(request, a.if_name));
    if (!attached.ok()) {
      absl::Status failure = attached.status();
      for (auto it = done.rbegin(); it != done.rend(); ++it) {
        if (absl::Status s = Detach(it->entry, ""); !s.ok()) {
          failure = absl::Status(failure.code(), absl::StrCat(failure.message(),
                                                              "; cleanup failed: ", s.message()));
        }
      }
      return Annotate(failure, absl::StrCat("set up network \"", a.list->name, "\" of pod ",
                                            request.pod_id));
    }
    if (a.primary) out = MakePodResult(a.list->name, a.if_name, attached->result);
    done.push_back(std::move(*attached));
  }
  return std::move(*out);
}

absl::Status NetworkManager::Detach(const CacheEntry& entry, const std::string& netns_override) {
  const std::string path =
      CacheFilePath(options_.cache_dir, entry.network_name, entry.container_id, entry.if_name);
  ASSIGN_OR_RETURN(NetworkConfigList list, ParseNetworkConfigList(path, entry.config));
  const nlohmann::json* prev = entry.result ? &*entry.result : nullptr;
  RETURN_IF_ERROR(DelNetworkList(list, FromEntry(entry, netns_override), prev, Invoke()));
  return RemoveCacheEntry(options_.cache_dir, entry);
}

absl::Status NetworkManager::TearDown(const PodNetworkRequest& request) {
  RETURN_IF_ERROR(ValidateRequest(request));
  PodLock lock(this, request.pod_id);
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries,
                   FindCacheEntries(options_.cache_dir, request.pod_id));
  if (entries.empty()) return TearDownUncached(request);
  // Reverse of SetUp: the pod's networks first, its loopback last.
  std::stable_partition(entries.begin(), entries.end(),
                        [](const CacheEntry& e) { return e.network_name != kLoopbackName; });
  absl::Status first;
  for (const CacheEntry& e : entries) {
    absl::Status s = Detach(e, request.netns_path);
    if (!s.ok() && first.ok()) {
      first = Annotate(s, absl::StrCat("tear down network \"", e.network_name, "\" of pod ",
                                       request.pod_id));
    }
  }
  return first;
}

// Nothing cached: either ADD never ran or DEL already finished. When the
// netns still exists, a DEL with the current config is still run (plugins
// accept a DEL for nothing), which also covers a cache lost with its disk.
absl::Status NetworkManager::TearDownUncached(const PodNetworkRequest& request) {
  if (!PathExists(request.netns_path)) return absl::OkStatus();
  std::shared_ptr<const NetworkConfigList> network = DefaultNetwork();
  if (!network) {
    CRIUS_LOG(kWarn) << "cni: pod " << request.pod_id
                     << " has no cached network and no network is configured; nothing to DEL";
    return absl::OkStatus();
  }
  std::vector<Attachment> plan = PlanAttachments(network);
  absl::Status first;
  for (auto it = plan.rbegin(); it != plan.rend(); ++it) {
    absl::Status s =
        DelNetworkList(*it->list, BuildRuntimeConf(request, it->if_name), nullptr, Invoke());
    if (!s.ok() && first.ok()) {
      first = Annotate(s, absl::StrCat("tear down network \"", it->list->name, "\" of pod ",
                                       request.pod_id));
    }
  }
  return first;
}

absl::Status NetworkManager::Check(const PodNetworkRequest& request) {
  RETURN_IF_ERROR(ValidateRequest(request));
  PodLock lock(this, request.pod_id);
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries,
                   FindCacheEntries(options_.cache_dir, request.pod_id));
  for (const CacheEntry& e : entries) {
    if (e.network_name == kLoopbackName || !e.result) continue;
    const std::string path =
        CacheFilePath(options_.cache_dir, e.network_name, e.container_id, e.if_name);
    ASSIGN_OR_RETURN(NetworkConfigList list, ParseNetworkConfigList(path, e.config));
    return Annotate(CheckNetworkList(list, FromEntry(e, request.netns_path), *e.result, Invoke()),
                    absl::StrCat("check network \"", e.network_name, "\" of pod ", request.pod_id));
  }
  return absl::NotFoundError(absl::StrCat("pod ", request.pod_id, " has no cached CNI result"));
}

absl::StatusOr<PodNetworkResult> NetworkManager::CachedResult(const std::string& pod_id) const {
  RETURN_IF_ERROR(ValidateName("pod sandbox id", pod_id));
  ASSIGN_OR_RETURN(std::vector<CacheEntry> entries, FindCacheEntries(options_.cache_dir, pod_id));
  for (const CacheEntry& e : entries) {
    if (e.network_name == kLoopbackName || !e.result) continue;
    ASSIGN_OR_RETURN(CniResult result, ParseCniResult(*e.result, ""));
    return MakePodResult(e.network_name, e.if_name, std::move(result));
  }
  return absl::NotFoundError(absl::StrCat("pod ", pod_id, " has no cached CNI result"));
}

}  // namespace crius::cni
