// Pod sandboxes against a real criusd, the real CNI plugins (bridge,
// host-local, portmap, loopback) and real namespaces: what a kubelet and a
// user of crictl see (IPs, traffic into the pod, hostname and DNS files,
// sysctls, host ports), what Stop and Remove leave (nothing), the list
// filters, retries of RunPodSandbox, and pods across a daemon crash and a
// simulated reboot.
//
// Every test has its own daemon, bridge, /24 and cgroup root, so they run
// in parallel with each other and with the CNI unit tests. Needs root;
// skips itself otherwise.

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;
using runtime::v1::PodSandboxConfig;

std::string NodeHostname() {
  char buf[256] = {};
  EXPECT_EQ(::gethostname(buf, sizeof(buf) - 1), 0);
  return buf;
}

std::string NetnsNameOf(const std::string& id) { return "crius-" + id.substr(0, 16); }

// The members are declared so that they are destroyed in the safe order:
// pods first (through the daemon: CNI DEL, unmounts), then the test's cgroup
// root, then the bridge, and the daemon with its temp tree last.
class SandboxE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
    ASSERT_TRUE(net_.subnet().ok());
    ASSERT_TRUE(d_.Start().ok()) << d_.Log();
    ASSERT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
  }

  client::CriClient& cri() { return d_.client(); }

  // Runs a pod and registers it for cleanup.
  std::string Run(const PodSandboxConfig& config) { return reaper_.Run(config); }

  absl::Status Stop(const std::string& id) {
    runtime::v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    return cri().StopPodSandbox(req).status();
  }
  absl::Status Remove(const std::string& id) {
    runtime::v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    return cri().RemovePodSandbox(req).status();
  }

  std::vector<std::string> ListIds(const runtime::v1::PodSandboxFilter* filter = nullptr) {
    runtime::v1::ListPodSandboxRequest req;
    if (filter != nullptr) *req.mutable_filter() = *filter;
    auto resp = cri().ListPodSandbox(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    std::vector<std::string> ids;
    if (resp.ok()) {
      for (const auto& p : resp->items()) ids.push_back(p.id());
    }
    return ids;
  }

  PodSandboxConfig ConfigWithCgroup(const std::string& name) {
    PodSandboxConfig c = PodConfig(name);
    c.mutable_linux()->set_cgroup_parent(cgroups_.PodParent(c.metadata().uid()));
    return c;
  }

  TestDaemon d_;
  BridgeNetwork net_{d_};
  TestCgroupRoot cgroups_;
  PodReaper reaper_{d_};
};

// ---------------------------------------------------------------------------
// 1. Network: an IP from the conflist's subnet, reachable from the host.

TEST_F(SandboxE2E, BridgePodGetsAnIpFromItsSubnetAndTheHostReachesAListenerInside) {
  const std::string id = Run(PodConfig("web"));
  ASSERT_FALSE(id.empty());

  auto pod = InspectPod(cri(), id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->status.state(), runtime::v1::SANDBOX_READY);
  const std::string ip = pod->status.network().ip();
  EXPECT_THAT(ip, StartsWith(net_.subnet().prefix()));
  EXPECT_NE(ip, net_.subnet().gateway());
  EXPECT_THAT(net_.ReservedIps(), ElementsAre(ip));

  // The netns is pinned where `ip netns` looks, under the pod's name.
  const std::string netns = pod->info.value("netns", "");
  EXPECT_EQ(netns, "/run/netns/" + NetnsNameOf(id));
  EXPECT_THAT(NetnsNames(), Contains(NetnsNameOf(id)));
  EXPECT_THAT(ToolOutput("ip", {"-n", NetnsNameOf(id), "-o", "-4", "addr", "show", "dev", "eth0"}),
              HasSubstr(ip + "/24"));
  // lo is up too (the namespace helper brings it up; no loopback plugin run).
  EXPECT_THAT(ToolOutput("ip", {"-n", NetnsNameOf(id), "-o", "link", "show", "lo"}), HasSubstr("UP"));

  // A connection from the host to the pod IP lands on a socket that only
  // exists inside the pod's namespace.
  auto listener = ListenInNetns(netns, 8080);
  ASSERT_TRUE(listener.ok()) << listener.status();
  absl::Status exchanged = ExchangeThrough(listener->get(), ip, 8080);
  EXPECT_TRUE(exchanged.ok()) << exchanged;
}

TEST_F(SandboxE2E, EachPodGetsItsOwnIpAndNetns) {
  const std::string a = Run(PodConfig("a"));
  const std::string b = Run(PodConfig("b"));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto pa = InspectPod(cri(), a);
  auto pb = InspectPod(cri(), b);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_NE(pa->status.network().ip(), pb->status.network().ip());
  EXPECT_NE(pa->info.value("netns", ""), pb->info.value("netns", ""));
  EXPECT_THAT(net_.ReservedIps(),
              UnorderedElementsAre(pa->status.network().ip(), pb->status.network().ip()));

  // Pod b's listener answers on b's IP only: a's IP has nothing on the port.
  auto listener = ListenInNetns(pb->info.value("netns", ""), 8080);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_TRUE(ExchangeThrough(listener->get(), pb->status.network().ip(), 8080).ok());
  EXPECT_FALSE(ExchangeThrough(listener->get(), pa->status.network().ip(), 8080).ok());
}

// ---------------------------------------------------------------------------
// 2. Hostname, the pod's /etc files, and sysctls inside the pod.

std::string ReadOrEmpty(const std::string& path) {
  auto data = ReadFile(path);
  EXPECT_TRUE(data.ok()) << data.status();
  return data.ok() ? *data : "";
}

TEST_F(SandboxE2E, HostnameDnsFilesAndSysctlsAreSetInsideThePod) {
  const std::string host_port_start = ReadOrEmpty("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  const std::string host_shmmni = ReadOrEmpty("/proc/sys/kernel/shmmni");
  const std::string node = NodeHostname();

  PodSandboxConfig config = PodConfig("named");
  config.set_hostname("web-" + RandomHex(6));
  auto* dns = config.mutable_dns_config();
  dns->add_servers("10.88.0.10");
  dns->add_servers("10.88.0.11");
  dns->add_searches("crius-e2e.svc.cluster.local");
  dns->add_searches("svc.cluster.local");
  dns->add_options("ndots:5");
  dns->add_options("timeout:2");
  auto& sysctls = *config.mutable_linux()->mutable_sysctls();
  sysctls["net.ipv4.ip_unprivileged_port_start"] = "0";
  // An IPC-scoped one, set to something no fresh namespace starts with.
  sysctls["kernel.shmmni"] = host_shmmni == "2048\n" ? "2047" : "2048";
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  auto pod = InspectPod(cri(), id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  const std::string ip = pod->status.network().ip();
  const std::string uts = pod->info.value("utsNamespace", "");
  const std::string ipc = pod->info.value("ipcNamespace", "");
  const std::string netns = pod->info.value("netns", "");
  const std::string dir = pod->info.value("podDir", "");
  ASSERT_FALSE(uts.empty());
  ASSERT_FALSE(ipc.empty());
  ASSERT_FALSE(dir.empty());

  // The pinned UTS namespace carries the pod's name; the node keeps its own.
  auto in_uts = InNamespaces({"--uts=" + uts}, {"/usr/bin/hostname"});
  ASSERT_TRUE(in_uts.ok()) << in_uts.status();
  EXPECT_EQ(*in_uts, config.hostname() + "\n");
  EXPECT_EQ(NodeHostname(), node);

  // The files every container of the pod will mount.
  EXPECT_EQ(ReadOrEmpty(dir + "/hostname"), config.hostname() + "\n");
  const std::string hosts = ReadOrEmpty(dir + "/hosts");
  EXPECT_THAT(hosts, HasSubstr("localhost"));
  EXPECT_THAT(hosts, HasSubstr(ip + "\t" + config.hostname() + "\n"));
  EXPECT_EQ(ReadOrEmpty(dir + "/resolv.conf"),
            "search crius-e2e.svc.cluster.local svc.cluster.local\n"
            "nameserver 10.88.0.10\n"
            "nameserver 10.88.0.11\n"
            "options ndots:5 timeout:2\n");

  // Sysctls read from inside the pod's namespaces; the node is untouched.
  auto port_start = InNamespaces({"--net=" + netns},
                                 {"/bin/cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"});
  ASSERT_TRUE(port_start.ok()) << port_start.status();
  EXPECT_EQ(*port_start, "0\n");
  auto shmmni = InNamespaces({"--ipc=" + ipc}, {"/bin/cat", "/proc/sys/kernel/shmmni"});
  ASSERT_TRUE(shmmni.ok()) << shmmni.status();
  EXPECT_EQ(*shmmni, sysctls["kernel.shmmni"] + "\n");
  EXPECT_EQ(ReadOrEmpty("/proc/sys/net/ipv4/ip_unprivileged_port_start"), host_port_start);
  EXPECT_EQ(ReadOrEmpty("/proc/sys/kernel/shmmni"), host_shmmni);

  // /dev/shm for the pod is a tmpfs of its own.
  const std::string shm = pod->info.value("shm", "");
  EXPECT_THAT(MountsUnder(shm), ElementsAre(shm));
}

TEST_F(SandboxE2E, PodWithoutDnsConfigGetsTheNodesResolvConf) {
  const std::string id = Run(PodConfig("nodns"));
  ASSERT_FALSE(id.empty());
  auto pod = InspectPod(cri(), id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(ReadOrEmpty(pod->info.value("podDir", "") + "/resolv.conf"),
            ::access("/etc/resolv.conf", F_OK) == 0 ? ReadOrEmpty("/etc/resolv.conf") : "");
}

// ---------------------------------------------------------------------------
// 3. Host network: the node's namespace and name, no CNI.

TEST_F(SandboxE2E, HostNetworkPodUsesTheNodesNetworkAndHostnameWithoutCni) {
  const std::vector<std::string> netns_before = NetnsNames();
  PodSandboxConfig config = HostNetworkPodConfig("hostnet");
  config.mutable_linux()->mutable_sysctls()->insert({"kernel.shmmni", "2048"});
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  auto pod = InspectPod(cri(), id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->status.state(), runtime::v1::SANDBOX_READY);
  EXPECT_EQ(pod->status.linux().namespaces().options().network(), runtime::v1::NODE);

  // Like containerd, no IP of its own: kubelet reports the node's IP for
  // host-network pods.
  EXPECT_EQ(pod->status.network().ip(), "");
  EXPECT_EQ(pod->status.network().additional_ips_size(), 0);

  // No netns pinned and no plugin ever ran: no bridge, no IP, no cache.
  EXPECT_EQ(pod->info.value("netns", "x"), "");
  EXPECT_EQ(pod->info.value("utsNamespace", "x"), "") << "host network keeps the node's UTS";
  EXPECT_FALSE(pod->info.value("networkAttached", true));
  EXPECT_THAT(NetnsNames(), Not(Contains(NetnsNameOf(id))));
  EXPECT_FALSE(std::filesystem::exists("/sys/class/net/" + net_.bridge()));
  EXPECT_THAT(net_.ReservedIps(), IsEmpty());
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(d_.dir() + "/cni-cache/results", ec) &&
               !std::filesystem::is_empty(d_.dir() + "/cni-cache/results", ec));

  // The pod's name is the node's; its own IPC namespace still took the sysctl.
  const std::string dir = pod->info.value("podDir", "");
  EXPECT_EQ(ReadOrEmpty(dir + "/hostname"), NodeHostname() + "\n");
  const std::string ipc = pod->info.value("ipcNamespace", "");
  ASSERT_FALSE(ipc.empty());
  auto shmmni = InNamespaces({"--ipc=" + ipc}, {"/bin/cat", "/proc/sys/kernel/shmmni"});
  ASSERT_TRUE(shmmni.ok()) << shmmni.status();
  EXPECT_EQ(*shmmni, "2048\n");

  auto fp = FootprintOf(d_, id, &net_, &cgroups_);
  ASSERT_TRUE(fp.ok());
  ASSERT_TRUE(Stop(id).ok());
  ASSERT_TRUE(Remove(id).ok());
  EXPECT_THAT(Leftovers(d_, *fp), IsEmpty());
}

TEST_F(SandboxE2E, HostNetworkPodRefusesNetSysctls) {
  PodSandboxConfig config = HostNetworkPodConfig("hostnet-sysctl");
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "0";
  auto id = RunPod(cri(), config);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << id.status();
  EXPECT_THAT(ListIds(), IsEmpty());
}

// Host-network pods (the CNI plugin's own daemonset among them) must run
// before the node has a CNI config; pods needing the network must not.
TEST(SandboxNoNetworkE2E, HostNetworkPodRunsBeforeTheNetworkIsReady) {
  if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root";
  TestDaemon d;
  PodReaper reaper(d);
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto id = RunPod(d.client(), HostNetworkPodConfig("early"));
  ASSERT_TRUE(id.ok()) << id.status();
  reaper.Add(*id);

  auto denied = RunPod(d.client(), PodConfig("needs-net"));
  ASSERT_FALSE(denied.ok());
  if (denied.ok()) reaper.Add(*denied);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kFailedPrecondition) << denied.status();
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("network"));

  auto listed = d.client().ListPodSandbox();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items_size(), 1);
  EXPECT_EQ(listed->items(0).id(), *id);
}

// ---------------------------------------------------------------------------
// 4. hostPort through the portmap plugin.

TEST_F(SandboxE2E, HostPortReachesTheListenerInThePod) {
  const uint16_t host_port = UnusedPort();
  ASSERT_NE(host_port, 0);
  PodSandboxConfig config = PodConfig("published");
  auto* pm = config.add_port_mappings();
  pm->set_protocol(runtime::v1::TCP);
  pm->set_container_port(8080);
  pm->set_host_port(host_port);
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  auto pod = InspectPod(cri(), id);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_THAT(NatRulesMentioning(id), Not(IsEmpty())) << "portmap's DNAT chain for the pod";

  auto listener = ListenInNetns(pod->info.value("netns", ""), 8080);
  ASSERT_TRUE(listener.ok()) << listener.status();
  // portmap's "snat" (on by default) lets loopback traffic be DNATed to the
  // pod (it turns on route_localnet and masquerades such connections).
  absl::Status via_loopback = ExchangeThrough(listener->get(), "127.0.0.1", host_port);
  EXPECT_TRUE(via_loopback.ok()) << via_loopback;
  // Any other local address of the node works too: the bridge's own.
  absl::Status via_gateway = ExchangeThrough(listener->get(), net_.subnet().gateway(), host_port);
  EXPECT_TRUE(via_gateway.ok()) << via_gateway;

  // Stop takes the mapping away with the network.
  ASSERT_TRUE(Stop(id).ok());
  EXPECT_THAT(NatRulesMentioning(id), IsEmpty());
}

// ---------------------------------------------------------------------------
// 5. Stop then Remove leaves nothing; both are idempotent.

TEST_F(SandboxE2E, StopThenRemoveLeavesNothingOnTheNode) {
  PodSandboxConfig config = ConfigWithCgroup("clean");
  auto* pm = config.add_port_mappings();
  pm->set_protocol(runtime::v1::TCP);
  pm->set_container_port(80);
  pm->set_host_port(UnusedPort());
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());

  auto fp = FootprintOf(d_, id, &net_, &cgroups_);
  ASSERT_TRUE(fp.ok()) << fp.status();
  // The check below is only worth something if each piece existed.
  ASSERT_FALSE(fp->ip.empty());
  ASSERT_FALSE(fp->host_veth.empty());
  std::vector<std::string> present = Leftovers(d_, *fp);
  for (const char* piece : {"netns pin", "host veth", "host-local IP file", "CNI cache entry",
                                   "iptables nat rule", "cgroup", "pod dir", "pod record"}) {
    EXPECT_TRUE(std::any_of(present.begin(), present.end(),
                            [&](const std::string& p) { return absl::StartsWith(p, piece); }))
        << "a running pod should have a " << piece;
  }
  EXPECT_THAT(MountsUnder(fp->pod_dir + "/"), Not(IsEmpty())) << "ipc/uts pins and /dev/shm";

  // Stop releases the network and the namespaces at once; the record stays.
  ASSERT_TRUE(Stop(id).ok()) << d_.Log();
  auto stopped = InspectPod(cri(), id);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status.state(), runtime::v1::SANDBOX_NOTREADY);
  EXPECT_FALSE(::access(fp->netns_path.c_str(), F_OK) == 0) << "netns pin survives Stop";
  EXPECT_THAT(NetnsNames(), Not(Contains(NetnsNameOf(id))));
  EXPECT_THAT(net_.ReservedIps(), IsEmpty()) << "IP still reserved after Stop";
  EXPECT_THAT(NatRulesMentioning(id), IsEmpty());
  EXPECT_THAT(MountsUnder(fp->pod_dir + "/"), IsEmpty());
  EXPECT_THAT(ListIds(), ElementsAre(id));

  // A second Stop (kubelet retries) is fine.
  EXPECT_TRUE(Stop(id).ok());

  ASSERT_TRUE(Remove(id).ok()) << d_.Log();
  EXPECT_THAT(Leftovers(d_, *fp), IsEmpty());
  EXPECT_THAT(cgroups_.Existing(), IsEmpty()) << "the cgroup dirs the pod made";
  EXPECT_THAT(net_.BridgePorts(), IsEmpty());
  EXPECT_THAT(ListIds(), IsEmpty());

  runtime::v1::PodSandboxStatusRequest sreq;
  sreq.set_pod_sandbox_id(id);
  auto status = cri().PodSandboxStatus(sreq);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound) << status.status();

  // Both stay idempotent once the pod is gone.
  EXPECT_TRUE(Remove(id).ok());
  EXPECT_TRUE(Stop(id).ok());
}

TEST_F(SandboxE2E, RemoveOfAReadyPodTearsItDownToo) {
  // crictl rmp -f skips the Stop.
  const std::string id = Run(ConfigWithCgroup("force"));
  ASSERT_FALSE(id.empty());
  auto fp = FootprintOf(d_, id, &net_, &cgroups_);
  ASSERT_TRUE(fp.ok()) << fp.status();
  ASSERT_TRUE(Remove(id).ok()) << d_.Log();
  EXPECT_THAT(Leftovers(d_, *fp), IsEmpty());
  EXPECT_THAT(cgroups_.Existing(), IsEmpty());
  EXPECT_THAT(ListIds(), IsEmpty());
}

TEST_F(SandboxE2E, StopAndRemoveOfUnknownIdsSucceedAndStatusIsNotFound) {
  const std::string unknown = RandomHex(64);
  EXPECT_TRUE(Stop(unknown).ok());
  EXPECT_TRUE(Remove(unknown).ok());
  runtime::v1::PodSandboxStatusRequest req;
  req.set_pod_sandbox_id(unknown);
  EXPECT_EQ(cri().PodSandboxStatus(req).status().code(), absl::StatusCode::kNotFound);
}

// A cgroup directory the daemon made for one pod may be the parent of
// another pod's cgroup: removing the first pod must not take the second
// pod's cgroup with it (a regression test: RemovePodCgroup once removed
// each directory the pod had made as a whole tree, siblings included).
TEST_F(SandboxE2E, RemovingAPodKeepsTheCgroupOfASiblingUnderASharedParent) {
  const std::string a = Run(ConfigWithCgroup("sib-a"));
  const std::string b = Run(ConfigWithCgroup("sib-b"));
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto fb = FootprintOf(d_, b, &net_, &cgroups_);
  ASSERT_TRUE(fb.ok());
  ASSERT_FALSE(fb->cgroup.empty());

  ASSERT_TRUE(Remove(a).ok()) << d_.Log();
  for (const std::string& dir : fb->cgroup) {
    EXPECT_TRUE(std::filesystem::exists(dir)) << "pod b's cgroup " << dir
                                              << " vanished when pod a was removed";
  }
  ASSERT_TRUE(Remove(b).ok()) << d_.Log();
  EXPECT_THAT(cgroups_.Existing(), IsEmpty()) << "the shared parent the daemon made";
}

// kubelet usually makes the pod cgroup itself before RunPodSandbox; that
// directory is kubelet's, and removing the pod must leave it.
TEST_F(SandboxE2E, RemoveKeepsACgroupParentThatExistedBefore) {
  PodSandboxConfig config = ConfigWithCgroup("kubelet-cg");
  const std::string parent = config.linux().cgroup_parent();
  auto made = RunTool("mkdir", {"-p", "/sys/fs/cgroup/memory" + parent, "/sys/fs/cgroup/pids" + parent});
  ASSERT_TRUE(made.ok()) << made.status();
  const std::string id = Run(config);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(Remove(id).ok()) << d_.Log();
  EXPECT_TRUE(std::filesystem::exists("/sys/fs/cgroup/memory" + parent));
  EXPECT_TRUE(std::filesystem::exists("/sys/fs/cgroup/pids" + parent));
  // Where the daemon made the directory itself, it removed it.
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup/devices" + parent));
}

TEST_F(SandboxE2E, PodsRunInParallelGetDistinctIpsAndNamespaces) {
  constexpr int kPods = 8;
  std::vector<absl::StatusOr<std::string>> got(kPods, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] { got[i] = RunPod(cri(), PodConfig(absl::StrCat("par", i))); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ips, netns;
  for (const auto& g : got) {
    ASSERT_TRUE(g.ok()) << g.status();
    reaper_.Add(*g);
    auto pod = InspectPod(cri(), *g);
    ASSERT_TRUE(pod.ok()) << pod.status();
    EXPECT_EQ(pod->status.state(), runtime::v1::SANDBOX_READY);
    ips.insert(pod->status.network().ip());
    netns.insert(pod->info.value("netns", ""));
  }
  EXPECT_EQ(ips.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(netns.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(net_.ReservedIps().size(), static_cast<size_t>(kPods));
  EXPECT_EQ(net_.BridgePorts().size(), static_cast<size_t>(kPods));
}

// ---------------------------------------------------------------------------
// 6. List filters and the streaming list.

class SandboxListE2E : public SandboxE2E {
 protected:
  // Pods without namespaces of their own are cheap to make in bulk; the
  // filters do not care what a pod is made of.
  std::string RunLabelled(const std::string& name, const std::map<std::string, std::string>& labels) {
    PodSandboxConfig c = HostNetworkPodConfig(name, /*host_ipc=*/true);
    for (const auto& [k, v] : labels) (*c.mutable_labels())[k] = v;
    return Run(c);
  }
};

TEST_F(SandboxListE2E, ListFiltersByIdPrefixStateAndLabels) {
  const std::string a = RunLabelled("a", {{"app", "web"}, {"tier", "front"}});
  const std::string b = RunLabelled("b", {{"app", "web"}, {"tier", "back"}});
  const std::string c = RunLabelled("c", {{"app", "db"}});
  ASSERT_FALSE(a.empty() || b.empty() || c.empty());
  ASSERT_TRUE(Stop(c).ok());

  EXPECT_THAT(ListIds(), UnorderedElementsAre(a, b, c));

  runtime::v1::PodSandboxFilter f;
  f.set_id(a);
  EXPECT_THAT(ListIds(&f), ElementsAre(a));
  f.set_id(b.substr(0, 12));
  EXPECT_THAT(ListIds(&f), ElementsAre(b)) << "id prefix";
  f.set_id(RandomHex(64));
  EXPECT_THAT(ListIds(&f), IsEmpty()) << "an unknown id is an empty list, not an error";

  f.Clear();
  f.mutable_state()->set_state(runtime::v1::SANDBOX_READY);
  EXPECT_THAT(ListIds(&f), UnorderedElementsAre(a, b));
  f.mutable_state()->set_state(runtime::v1::SANDBOX_NOTREADY);
  EXPECT_THAT(ListIds(&f), ElementsAre(c));

  f.Clear();
  (*f.mutable_label_selector())["app"] = "web";
  EXPECT_THAT(ListIds(&f), UnorderedElementsAre(a, b));
  (*f.mutable_label_selector())["tier"] = "back";
  EXPECT_THAT(ListIds(&f), ElementsAre(b)) << "every selector label must match";
  f.Clear();
  (*f.mutable_label_selector())["app"] = "nope";
  EXPECT_THAT(ListIds(&f), IsEmpty());

  // Filters combine.
  f.Clear();
  (*f.mutable_label_selector())["app"] = "db";
  f.mutable_state()->set_state(runtime::v1::SANDBOX_READY);
  EXPECT_THAT(ListIds(&f), IsEmpty());
  f.mutable_state()->set_state(runtime::v1::SANDBOX_NOTREADY);
  EXPECT_THAT(ListIds(&f), ElementsAre(c));
  f.set_id(a);
  EXPECT_THAT(ListIds(&f), IsEmpty());

  // What List reports of a pod.
  f.Clear();
  f.set_id(a);
  runtime::v1::ListPodSandboxRequest req;
  *req.mutable_filter() = f;
  auto resp = cri().ListPodSandbox(req);
  ASSERT_TRUE(resp.ok());
  ASSERT_EQ(resp->items_size(), 1);
  const auto& item = resp->items(0);
  EXPECT_EQ(item.metadata().name(), "a");
  EXPECT_EQ(item.metadata().namespace_(), "crius-e2e");
  EXPECT_EQ(item.state(), runtime::v1::SANDBOX_READY);
  EXPECT_EQ(item.labels().at("tier"), "front");
  EXPECT_GT(item.created_at(), 0);
  EXPECT_EQ(item.runtime_handler(), "runc");
}

// Streams every pod matching `filter` and returns the ids in arrival order.
std::vector<std::string> StreamIds(client::CriClient& cri, const runtime::v1::PodSandboxFilter& filter,
                                   int* messages) {
  auto ctx = cri.NewContext();
  runtime::v1::StreamPodSandboxesRequest req;
  *req.mutable_filter() = filter;
  auto reader = cri.runtime_stub().StreamPodSandboxes(ctx.get(), req);
  runtime::v1::StreamPodSandboxesResponse resp;
  std::vector<std::string> ids;
  *messages = 0;
  while (reader->Read(&resp)) {
    ++*messages;
    EXPECT_GT(resp.pod_sandboxes_size(), 0) << "an empty batch";
    for (const auto& p : resp.pod_sandboxes()) ids.push_back(p.id());
  }
  grpc::Status st = reader->Finish();
  EXPECT_TRUE(st.ok()) << st.error_message();
  return ids;
}

TEST_F(SandboxListE2E, StreamPodSandboxesSendsEveryPodExactlyOnce) {
  // More pods than fit one batch, so batching is crossed.
  constexpr int kPods = 260;
  std::vector<std::string> ids;
  for (int i = 0; i < kPods; ++i) {
    ids.push_back(RunLabelled(absl::StrCat("p", i), {{"half", i % 2 == 0 ? "even" : "odd"}}));
    ASSERT_FALSE(ids.back().empty());
  }

  int messages = 0;
  std::vector<std::string> streamed = StreamIds(cri(), {}, &messages);
  EXPECT_EQ(streamed.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(std::set<std::string>(streamed.begin(), streamed.end()).size(), streamed.size())
      << "a pod was sent twice";
  EXPECT_THAT(streamed, UnorderedElementsAreArray(ids));
  EXPECT_THAT(streamed, UnorderedElementsAreArray(ListIds()));
  EXPECT_GE(messages, 1);

  runtime::v1::PodSandboxFilter f;
  (*f.mutable_label_selector())["half"] = "odd";
  std::vector<std::string> odd;
  for (int i = 1; i < kPods; i += 2) odd.push_back(ids[i]);
  EXPECT_THAT(StreamIds(cri(), f, &messages), UnorderedElementsAreArray(odd));

  f.Clear();
  f.set_id(RandomHex(64));
  EXPECT_THAT(StreamIds(cri(), f, &messages), IsEmpty());
}

// ---------------------------------------------------------------------------
// 7. kubelet's retries of RunPodSandbox.

TEST_F(SandboxE2E, RunningTheSamePodAgainReturnsTheSameId) {
  const PodSandboxConfig config = PodConfig("again");
  const std::string first = Run(config);
  ASSERT_FALSE(first.empty());
  auto second = RunPod(cri(), config);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, first);
  EXPECT_THAT(ListIds(), ElementsAre(first));
  EXPECT_EQ(net_.ReservedIps().size(), 1u) << "the retry attached the network again";

  // A new attempt is a new pod.
  PodSandboxConfig next = config;
  next.mutable_metadata()->set_attempt(1);
  const std::string other = Run(next);
  ASSERT_FALSE(other.empty());
  EXPECT_NE(other, first);
  EXPECT_THAT(ListIds(), UnorderedElementsAre(first, other));
}

TEST_F(SandboxE2E, ConcurrentRunsOfOnePodCreateOnePod) {
  constexpr int kCallers = 4;
  const PodSandboxConfig config = PodConfig("racer");
  std::vector<absl::StatusOr<std::string>> got(kCallers, absl::UnknownError("not run"));
  absl::Barrier* start = new absl::Barrier(kCallers);  // freed by the last waiter
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      if (start->Block()) delete start;
      got[i] = RunPod(cri(), config);
    });
  }
  for (auto& t : callers) t.join();

  std::set<std::string> ids;
  for (const auto& g : got) {
    ASSERT_TRUE(g.ok()) << g.status();
    ids.insert(*g);
    reaper_.Add(*g);
  }
  EXPECT_EQ(ids.size(), 1u) << "concurrent runs of one pod returned different ids";
  EXPECT_EQ(ListIds().size(), 1u);
  EXPECT_EQ(net_.ReservedIps().size(), 1u);
  EXPECT_EQ(net_.BridgePorts().size(), 1u);
  std::error_code ec;
  size_t pod_dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(d_.state_dir() + "/pods", ec)) {
    (void)e;
    ++pod_dirs;
  }
  EXPECT_EQ(pod_dirs, 1u);
}

// ---------------------------------------------------------------------------
// 8. A crashed daemon, and a rebooted node.

TEST_F(SandboxE2E, PodsKeepRunningAcrossADaemonCrashAndAreRecoveredReady) {
  std::vector<std::string> ids;
  std::vector<PodFootprint> fps;
  std::map<std::string, int64_t> created_at;
  std::map<std::string, std::string> names;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Run(ConfigWithCgroup(absl::StrCat("crash", i))));
    ASSERT_FALSE(ids.back().empty());
    auto fp = FootprintOf(d_, ids.back(), &net_, &cgroups_);
    ASSERT_TRUE(fp.ok()) << fp.status();
    fps.push_back(*fp);
    auto pod = InspectPod(cri(), ids.back());
    ASSERT_TRUE(pod.ok());
    created_at[ids.back()] = pod->status.created_at();
    names[ids.back()] = pod->status.metadata().name();
  }
  auto listener = ListenInNetns(fps[0].netns_path, 8080);
  ASSERT_TRUE(listener.ok()) << listener.status();

  ASSERT_TRUE(d_.Kill().ok());
  // The namespaces are pinned, not held by a daemon process.
  for (const auto& fp : fps) EXPECT_THAT(NetnsNames(), Contains(NetnsNameOf(fp.id)));

  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  EXPECT_THAT(ListIds(), UnorderedElementsAreArray(ids));
  for (const auto& fp : fps) {
    auto pod = InspectPod(cri(), fp.id);
    ASSERT_TRUE(pod.ok()) << pod.status();
    EXPECT_EQ(pod->status.state(), runtime::v1::SANDBOX_READY) << fp.id;
    EXPECT_EQ(pod->status.network().ip(), fp.ip) << fp.id;
    EXPECT_EQ(pod->info.value("netns", ""), fp.netns_path);
    EXPECT_EQ(pod->status.created_at(), created_at[fp.id]);
    EXPECT_EQ(pod->status.metadata().name(), names[fp.id]);
  }
  EXPECT_EQ(net_.ReservedIps().size(), 3u) << "recovery must not re-run ADD or DEL";
  absl::Status exchanged = ExchangeThrough(listener->get(), fps[0].ip, 8080);
  EXPECT_TRUE(exchanged.ok()) << exchanged;

  for (const auto& fp : fps) {
    ASSERT_TRUE(Stop(fp.id).ok()) << d_.Log();
    ASSERT_TRUE(Remove(fp.id).ok()) << d_.Log();
    EXPECT_THAT(Leftovers(d_, fp), IsEmpty());
  }
  EXPECT_THAT(cgroups_.Existing(), IsEmpty());
  EXPECT_THAT(net_.ReservedIps(), IsEmpty());
}

TEST_F(SandboxE2E, AfterARebootPodsComeBackNotReadyWithTheirNetworkReleased) {
  std::vector<std::string> ids;
  std::vector<PodFootprint> fps;
  std::vector<PodSandboxConfig> configs;
  for (int i = 0; i < 3; ++i) {
    PodSandboxConfig config = ConfigWithCgroup(absl::StrCat("reboot", i));
    // kubelet's usual per-container PID namespaces: no infra process, so
    // unpinning the namespaces below frees them as a reboot would.
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
        runtime::v1::CONTAINER);
    configs.push_back(config);
    auto* pm = config.add_port_mappings();
    pm->set_protocol(runtime::v1::TCP);
    pm->set_container_port(80);
    pm->set_host_port(UnusedPort());
    ids.push_back(Run(config));
    ASSERT_FALSE(ids.back().empty());
    auto fp = FootprintOf(d_, ids.back(), &net_, &cgroups_);
    ASSERT_TRUE(fp.ok()) << fp.status();
    fps.push_back(*fp);
  }
  ASSERT_TRUE(d_.Kill().ok());

  // What a reboot does to the volatile state: every mount and pin is gone,
  // and /run (the state dir) starts empty. The persistent root and the CNI
  // cache and IPAM files survive, and so do (here) the iptables rules.
  std::vector<std::string> mounts = MountsUnder(d_.state_dir() + "/");
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    ASSERT_EQ(::umount2(it->c_str(), MNT_DETACH), 0) << *it << ": " << std::strerror(errno);
  }
  for (const auto& fp : fps) {
    ASSERT_EQ(::umount2(fp.netns_path.c_str(), MNT_DETACH), 0) << fp.netns_path;
    ASSERT_EQ(::unlink(fp.netns_path.c_str()), 0) << fp.netns_path;
  }
  ASSERT_TRUE(RemoveAll(d_.state_dir()).ok());
  for (const auto& fp : fps) {
    // The kernel frees an unpinned netns (and the veth in it) asynchronously.
    EXPECT_TRUE(WaitUntil([&] { return !std::filesystem::exists("/sys/class/net/" + fp.host_veth); }))
        << fp.host_veth;
    ASSERT_TRUE(std::filesystem::exists(fp.ipam_file)) << "the simulated reboot keeps IPAM state";
    ASSERT_THAT(NatRulesMentioning(fp.id), Not(IsEmpty()));
  }

  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  EXPECT_THAT(ListIds(), UnorderedElementsAreArray(ids));
  for (const auto& fp : fps) {
    auto pod = InspectPod(cri(), fp.id);
    ASSERT_TRUE(pod.ok()) << pod.status();
    EXPECT_EQ(pod->status.state(), runtime::v1::SANDBOX_NOTREADY) << fp.id;
    // Recovery ran CNI DEL from the cache: IP, rules and cache entry are gone.
    EXPECT_FALSE(std::filesystem::exists(fp.ipam_file)) << "IP not released: " << fp.ip;
    EXPECT_THAT(NatRulesMentioning(fp.id), IsEmpty());
    EXPECT_FALSE(pod->info.value("networkAttached", true));
  }
  runtime::v1::PodSandboxFilter ready;
  ready.mutable_state()->set_state(runtime::v1::SANDBOX_READY);
  EXPECT_THAT(ListIds(&ready), IsEmpty());

  for (const auto& fp : fps) {
    ASSERT_TRUE(Remove(fp.id).ok()) << d_.Log();
    EXPECT_THAT(Leftovers(d_, fp), IsEmpty());
  }
  EXPECT_THAT(cgroups_.Existing(), IsEmpty());
  EXPECT_THAT(ListIds(), IsEmpty());

  // The name is free again: the same pod can be run anew, as a new pod.
  const std::string again = Run(configs[0]);
  EXPECT_FALSE(again.empty());
  EXPECT_NE(again, ids[0]);
}

}  // namespace
}  // namespace crius::testing
