#pragma once
// Helpers for the pod sandbox e2e and fault tests: a bridge network of the
// test's own (bridge name, /24 and IPAM dir nobody else uses), pod configs,
// verbose status decoding, traffic into a pod's netns, and scope guards that
// take down whatever a test leaves (pods through the daemon, the bridge, the
// test's cgroup tree) even when an assertion fails halfway.
//
// Everything here runs system tools by absolute path with a fixed
// environment, and children only through Exec.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/api.pb.h"
#include "common/exec.h"
#include "common/unique_fd.h"
#include "nlohmann/json.hpp"
#include "test/support/test_daemon.h"

namespace crius::testing {

std::string RandomHex(size_t n);

// Runs a system tool (ip, iptables-save, nsenter...) found in the usual sbin
// and bin dirs; a non-zero exit is an error carrying its stderr.
absl::StatusOr<ExecResult> RunTool(const std::string& tool, const std::vector<std::string>& args);
// RunTool's stdout, or "" with a test failure.
std::string ToolOutput(const std::string& tool, const std::vector<std::string>& args);

// Whether this machine can run the real-network pod tests: root, the CNI
// plugins in /usr/lib/cni, ip, nsenter and iptables-save.
bool CanRunPodNetworkTests();

// Polls `done` until it returns true or `timeout` passes; returns the last
// answer. For waiting on a condition, never for pacing.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30));

// Waits for NetworkReady=true in the daemon's Status.
bool WaitNetworkReady(client::CriClient& client, absl::Duration timeout = absl::Seconds(30));

// A /24 of 10.88.0.0/16 held exclusively while this object lives. Third
// octets 100-179 are ours; the CNI unit tests take 200-249 with the same
// lock-file scheme (/tmp/crius-cni-test-subnet-<octet>.lock, flock), so the
// two suites never hand out the same addresses at the same time. The pod
// benchmark's 180 and 181 (bench/run_pod_bench.sh, no lock) are avoided.
class TestSubnet {
 public:
  TestSubnet();
  bool ok() const { return lock_.valid(); }
  int octet() const { return octet_; }
  std::string cidr() const;     // "10.88.<o>.0/24"
  std::string prefix() const;   // "10.88.<o>."
  std::string gateway() const;  // "10.88.<o>.1", the bridge's address

 private:
  UniqueFd lock_;
  int octet_ = 0;
};

// A bridge network for one test: writes a conflist (bridge + host-local,
// optionally portmap) into the daemon's CNI conf dir, with its own bridge
// name ("cre2e" + hex), subnet and host-local dataDir inside the daemon's
// temp dir. The destructor deletes the bridge link the plugin leaves
// behind; pods must be gone by then (declare it before the PodReaper).
// `bridge_type` replaces the bridge plugin's "type", for a fault-injecting
// wrapper around the real bridge binary.
class BridgeNetwork {
 public:
  explicit BridgeNetwork(TestDaemon& daemon, bool portmap = true,
                         std::string bridge_type = "bridge");
  ~BridgeNetwork();
  BridgeNetwork(const BridgeNetwork&) = delete;
  BridgeNetwork& operator=(const BridgeNetwork&) = delete;

  const std::string& name() const { return name_; }
  const std::string& bridge() const { return bridge_; }
  const TestSubnet& subnet() const { return subnet_; }
  const std::string& ipam_dir() const { return ipam_dir_; }
  nlohmann::json conflist() const;
  // host-local's reservation file for `ip`.
  std::string IpamFile(const std::string& ip) const;
  // Every IP host-local holds for this network.
  std::vector<std::string> ReservedIps() const;
  // The host interfaces enslaved to the bridge (/sys/class/net/<br>/brif).
  std::vector<std::string> BridgePorts() const;

 private:
  TestDaemon& daemon_;
  TestSubnet subnet_;
  std::string name_;
  std::string bridge_;
  std::string ipam_dir_;
  bool portmap_;
  std::string bridge_type_;
};

// A cgroup root of the test's own, "/crius-e2e-<hex>", for pods'
// cgroup_parent. The destructor removes whatever is left of it in every
// hierarchy (deepest first), after pods are gone.
class TestCgroupRoot {
 public:
  TestCgroupRoot();
  ~TestCgroupRoot();
  TestCgroupRoot(const TestCgroupRoot&) = delete;
  TestCgroupRoot& operator=(const TestCgroupRoot&) = delete;
  const std::string& path() const { return path_; }
  // "<root>/pod<uid>".
  std::string PodParent(const std::string& uid) const { return path_ + "/pod" + uid; }
  // Directories of the root that exist in any hierarchy under /sys/fs/cgroup.
  std::vector<std::string> Existing() const;

 private:
  std::string path_;
};

// A pod config with the fields kubelet always sends: metadata (uid from
// `name` plus random hex unless given), hostname, log directory, and
// namespace options as asked.
runtime::v1::PodSandboxConfig PodConfig(const std::string& name, const std::string& uid = "");
runtime::v1::PodSandboxConfig HostNetworkPodConfig(const std::string& name,
                                                    bool host_ipc = false);

// Runs the pod; the id on success.
absl::StatusOr<std::string> RunPod(client::CriClient& client,
                                   const runtime::v1::PodSandboxConfig& config);

// PodSandboxStatus(verbose) with the "info" JSON parsed.
struct PodInspect {
  runtime::v1::PodSandboxStatus status;
  nlohmann::json info;
};
absl::StatusOr<PodInspect> InspectPod(client::CriClient& client, const std::string& id);

// Stops and removes pods through the daemon when the scope ends. If the
// daemon is down (a test killed it), it is started again on the same dirs
// first, so recovery and CNI DEL still run; pins under the daemon's dirs
// are unmounted by force only as the last resort.
class PodReaper {
 public:
  explicit PodReaper(TestDaemon& daemon) : daemon_(daemon) {}
  ~PodReaper();
  PodReaper(const PodReaper&) = delete;
  PodReaper& operator=(const PodReaper&) = delete;
  void Add(const std::string& id) { ids_.push_back(id); }
  // Runs the pod through the daemon and adds it; its id, or "" with a test
  // failure carrying the daemon's log.
  std::string Run(const runtime::v1::PodSandboxConfig& config);

 private:
  TestDaemon& daemon_;
  std::vector<std::string> ids_;
};

// What a pod owns on the node, recorded while it runs, so that after it is
// removed the test can prove each piece is gone.
struct PodFootprint {
  std::string id;
  std::string netns_path;  // /run/netns/crius-<id16>, or empty
  std::string ip;
  std::string host_veth;  // the bridge side of the pod's veth
  std::string pod_dir;
  std::string record_file;
  std::string cache_dir;
  std::string ipam_file;            // host-local's file for ip
  std::vector<std::string> cgroup;  // dirs of the pod cgroup's test root
  std::string cgroup_root;
};
absl::StatusOr<PodFootprint> FootprintOf(TestDaemon& daemon, const std::string& id,
                                         const BridgeNetwork* network,
                                         const TestCgroupRoot* cgroups);

// Every piece of `pod` still present, described; empty when none is.
std::vector<std::string> Leftovers(const TestDaemon& daemon, const PodFootprint& pod);

// Mount points at or under `prefix` in our mount table (the daemon's too:
// it runs in the same mount namespace).
std::vector<std::string> MountsUnder(const std::string& prefix);

// `ip netns list` names.
std::vector<std::string> NetnsNames();

// Lines of `iptables-save -t nat` that mention `needle`.
std::vector<std::string> NatRulesMentioning(const std::string& needle);

// A TCP listener on 0.0.0.0:<port> created inside the network namespace
// pinned at `netns_path` (a short-lived thread enters it; the socket keeps
// the namespace). Ready to accept when this returns.
absl::StatusOr<UniqueFd> ListenInNetns(const std::string& netns_path, uint16_t port);

// Connects to addr:port, has `listener` accept, and sends a line each way.
// Proves the connection reached that very listener. Bounded by `timeout`.
absl::Status ExchangeThrough(int listener, const std::string& addr, uint16_t port,
                             absl::Duration timeout = absl::Seconds(20));

// A TCP port nothing listens on at this moment (the kernel's pick).
uint16_t UnusedPort();

// Runs argv inside the namespaces named by nsenter flags ("--net=<path>",
// "--uts=<path>", "--ipc=<path>"); stdout on success.
absl::StatusOr<std::string> InNamespaces(const std::vector<std::string>& nsenter_flags,
                                         const std::vector<std::string>& argv);

}  // namespace crius::testing
