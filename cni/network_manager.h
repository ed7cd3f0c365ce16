#pragma once
// NetworkManager: the pod network as the CRI server sees it.
//
// It holds the default network (the first valid file by name in the conf
// dir, as libcni picks it), keeps it current by watching the directory,
// answers readiness from memory for the Status RPC, and sets up, checks and
// tears down a pod's network by running the plugins (invoke.h) with the
// result cache (cache.h) kept in libcni's layout.
//
// Like CRI-O and containerd, every pod also gets its loopback interface
// brought up by the "loopback" plugin (network "cni-loopback", ifname "lo")
// before the default network is attached; turn that off with
// `loopback = false`.
//
// SetUp cleans up after itself: when any plugin fails, everything already
// attached is DELeted before the error returns, so a failed SetUp leaves no
// interface, IP allocation or cache entry behind (unless that cleanup
// itself fails, in which case the cache entry stays for TearDown to retry).
//
// TearDown works from the cache, not from the current conf dir: it finds
// every entry of the pod (whatever the network's name now is) and runs DEL
// with the cached config, arguments and result, so it undoes exactly what
// ADD did, across daemon restarts and config changes. It is idempotent: a
// pod with no cache entry and no netns is already torn down.
//
// Thread-safe. Operations on different pods run concurrently; operations on
// the same pod id are serialized.

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cni/cache.h"
#include "cni/conf_watcher.h"
#include "cni/invoke.h"
#include "cni/network_config.h"
#include "cni/result.h"

namespace crius::cni {

struct NetworkManagerOptions {
  std::string conf_dir = "/etc/cni/net.d";
  std::vector<std::string> bin_dirs = {"/opt/cni/bin", "/usr/lib/cni"};
  std::string cache_dir = "/var/lib/cni";
  absl::Duration plugin_timeout = absl::Seconds(60);
  std::string if_name = "eth0";
  bool loopback = true;
  // While the network is not ready the conf dir (and plugin binaries) are
  // looked at again this often, besides on every inotify event.
  absl::Duration retry_interval = absl::Seconds(5);
  PluginRunObserver on_plugin_run;  // every plugin run, for the metrics
};

// runtimeConfig.portMappings entries.
struct PortMapping {
  int32_t host_port = 0;
  int32_t container_port = 0;
  std::string protocol = "tcp";  // "tcp", "udp" or "sctp"
  std::string host_ip;           // empty: all addresses
};

// runtimeConfig.bandwidth, in bits per second and bits.
struct Bandwidth {
  uint64_t ingress_rate = 0;
  uint64_t ingress_burst = 0;
  uint64_t egress_rate = 0;
  uint64_t egress_burst = 0;
};

// runtimeConfig.dns.
struct DnsConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

struct PodNetworkRequest {
  std::string pod_id;      // the sandbox id: CNI_CONTAINERID
  std::string netns_path;  // CNI_NETNS, e.g. /run/netns/<name>
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::vector<PortMapping> port_mappings;
  std::optional<Bandwidth> bandwidth;
  std::optional<DnsConfig> dns;
  std::string cgroup_parent;  // runtimeConfig.cgroupPath, when non-empty
};

struct PodNetworkResult {
  std::string network_name;
  std::string if_name;
  // Pod IPs without prefix; the primary (first IPv4, else first) first.
  std::vector<std::string> ips;
  CniResult result;  // the default network's full ADD result
};

// The NetworkReady condition of the Status RPC.
struct NetworkStatus {
  bool ready = false;
  std::string reason;   // "NetworkPluginNotReady" when not ready
  std::string message;  // why not
};

class NetworkManager {
 public:
  explicit NetworkManager(NetworkManagerOptions options);
  ~NetworkManager();  // stops the watcher
  NetworkManager(const NetworkManager&) = delete;
  NetworkManager& operator=(const NetworkManager&) = delete;

  // Loads the conf dir once and starts watching it. Not being ready is not
  // an error (a node often gets its CNI config after the runtime starts).
  absl::Status Start();
  void Stop();

  // Loads the conf dir now; returns the resulting readiness. The watcher
  // calls this on every change.
  NetworkStatus Reload();

  // Cheap: from memory.
  NetworkStatus Status() const;
  // The current default network, or null.
  std::shared_ptr<const NetworkConfigList> DefaultNetwork() const;
  // Waits until Status().ready == ready or `timeout` passes; returns
  // whether it got there.
  bool WaitForReady(bool ready, absl::Duration timeout) const;

  absl::StatusOr<PodNetworkResult> SetUp(const PodNetworkRequest& request);
  absl::Status TearDown(const PodNetworkRequest& request);
  // CHECK against the cached result (OK for lists older than 0.4.0).
  // NotFound when the pod has no cached result.
  absl::Status Check(const PodNetworkRequest& request);

  // The cached result of the pod's default-network attachment, for
  // rebuilding PodSandboxStatus after a restart. NotFound when none.
  absl::StatusOr<PodNetworkResult> CachedResult(const std::string& pod_id) const;

  const NetworkManagerOptions& options() const { return options_; }

 private:
  class PodLock;
  struct Attachment;
  struct Attached;

  absl::Status ValidateRequest(const PodNetworkRequest& request) const;
  RuntimeConf BuildRuntimeConf(const PodNetworkRequest& request, const std::string& if_name) const;
  std::vector<Attachment> PlanAttachments(
      std::shared_ptr<const NetworkConfigList> network) const;
  absl::StatusOr<Attached> Attach(const Attachment& a, const RuntimeConf& rt);
  absl::Status Detach(const CacheEntry& entry, const std::string& netns_override);
  absl::Status TearDownUncached(const PodNetworkRequest& request);
  InvokeOptions Invoke() const;

  const NetworkManagerOptions options_;
  const std::shared_ptr<const NetworkConfigList> loopback_;  // null when disabled

  mutable absl::Mutex mu_;
  std::shared_ptr<const NetworkConfigList> network_ ABSL_GUARDED_BY(mu_);
  NetworkStatus status_ ABSL_GUARDED_BY(mu_);

  absl::Mutex pods_mu_;
  std::set<std::string> busy_pods_ ABSL_GUARDED_BY(pods_mu_);

  std::unique_ptr<ConfDirWatcher> watcher_;
};

}  // namespace crius::cni
