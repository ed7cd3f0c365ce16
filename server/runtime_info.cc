// Version, Status, RuntimeConfig and UpdateRuntimeConfig: what kubelet asks
// first, before it trusts the node with pods.

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "cni/network_manager.h"
#include "server/cri_service.h"
#include "streaming/server.h"

namespace crius::server {
namespace {

// The CRI version kubelet's client checks against; the runtime API itself is
// named by runtime_api_version.
constexpr char kKubeletApiVersion[] = "0.1.0";
constexpr char kRuntimeApiVersion[] = "v1";

runtime::v1::RuntimeCondition Condition(const std::string& type, bool ok, const std::string& reason,
                                        const std::string& message) {
  runtime::v1::RuntimeCondition c;
  c.set_type(type);
  c.set_status(ok);
  if (!ok) {
    c.set_reason(reason);
    c.set_message(message);
  }
  return c;
}

bool Executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

}  // namespace

CriService::CriService(const Config& config, RuntimeIdentity identity, Components components)
    : config_(config),
      identity_(std::move(identity)),
      network_(components.network),
      sandboxes_(components.sandboxes),
      images_(components.images),
      containers_(components.containers),
      stats_(components.stats),
      events_(components.events),
      streaming_(components.streaming) {}

absl::Status CriService::Version(const CallContext&, const runtime::v1::VersionRequest&,
                                 runtime::v1::VersionResponse* resp) {
  resp->set_version(kKubeletApiVersion);
  resp->set_runtime_name(identity_.name);
  resp->set_runtime_version(identity_.version);
  resp->set_runtime_api_version(kRuntimeApiVersion);
  return absl::OkStatus();
}

runtime::v1::RuntimeCondition CriService::RuntimeReadyCondition() const {
  const auto& rt = config_.runtime;
  auto it = rt.handlers.find(rt.default_handler);
  if (it == rt.handlers.end()) {
    return Condition("RuntimeReady", false, "RuntimeNotReady",
                     absl::StrCat("default runtime handler \"", rt.default_handler, "\" is not configured"));
  }
  if (!Executable(it->second.path)) {
    return Condition("RuntimeReady", false, "RuntimeNotReady",
                     absl::StrCat("OCI runtime \"", it->second.path, "\" of handler \"", it->first,
                                  "\" is not an executable file"));
  }
  const std::string& monitor =
      it->second.monitor_path.empty() ? rt.monitor_path : it->second.monitor_path;
  if (!Executable(monitor)) {
    return Condition("RuntimeReady", false, "RuntimeNotReady",
                     absl::StrCat("container monitor \"", monitor, "\" is not an executable file"));
  }
  return Condition("RuntimeReady", true, "", "");
}

runtime::v1::RuntimeCondition CriService::NetworkReadyCondition() const {
  // From memory: the network manager watches the conf dir.
  cni::NetworkStatus net = network_->Status();
  return Condition("NetworkReady", net.ready, net.reason,
                   absl::StrCat("Network plugin returns error: cni plugin not initialized: ", net.message));
}

absl::Status CriService::Status(const CallContext&, const runtime::v1::StatusRequest& req,
                                runtime::v1::StatusResponse* resp) {
  auto* status = resp->mutable_status();
  *status->add_conditions() = RuntimeReadyCondition();
  *status->add_conditions() = NetworkReadyCondition();
  if (req.verbose()) {
    (*resp->mutable_info())["config"] = ConfigToJson(config_).dump();
    if (streaming_ != nullptr) (*resp->mutable_info())["streamingURL"] = streaming_->BaseUrl();
    absl::MutexLock lock(&mu_);
    (*resp->mutable_info())["podCIDR"] = pod_cidr_;
  }
  return absl::OkStatus();
}

absl::Status CriService::RuntimeConfig(const CallContext&, const runtime::v1::RuntimeConfigRequest&,
                                       runtime::v1::RuntimeConfigResponse* resp) {
  // kubelet (with KubeletCgroupDriverFromCRI) follows what crius uses.
  resp->mutable_linux()->set_cgroup_driver(config_.runtime.cgroup_manager == "systemd"
                                               ? runtime::v1::CgroupDriver::SYSTEMD
                                               : runtime::v1::CgroupDriver::CGROUPFS);
  return absl::OkStatus();
}

absl::Status CriService::UpdateRuntimeConfig(const CallContext&,
                                             const runtime::v1::UpdateRuntimeConfigRequest& req,
                                             runtime::v1::UpdateRuntimeConfigResponse*) {
  // kubelet reports the node's pod CIDR here. The CNI config (host-local
  // ranges) decides addresses, as with CRI-O and containerd; the CIDR is kept
  // so Status can show what kubelet asked for.
  absl::MutexLock lock(&mu_);
  pod_cidr_ = req.runtime_config().network_config().pod_cidr();
  return absl::OkStatus();
}

}  // namespace crius::server
