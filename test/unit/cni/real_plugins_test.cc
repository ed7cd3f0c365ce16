// NetworkManager with the real plugins from containernetworking-plugins
// (bridge + host-local + portmap, and loopback) in a network namespace the
// test creates, on a bridge and /24 of its own. Needs root; skipped without.

#include <random>

#include "cni/network_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/cni/cni_test_util.h"

namespace crius::cni {
namespace {

using ::testing::HasSubstr;
using testing::CanUseRealPlugins;
using testing::kRealPluginDir;
using testing::RandomHex;
using testing::ReadJson;
using testing::TempDir;
using testing::TestBridge;
using testing::TestNetns;
using testing::TestSubnet;
using testing::ToolOutput;

class RealPluginsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!CanUseRealPlugins()) GTEST_SKIP() << "needs root and the CNI plugins in /usr/lib/cni";
    ASSERT_TRUE(MkdirAll(dir_.Path("conf")).ok());
    net_name_ = "crius-t-" + RandomHex(8);
    options_.conf_dir = dir_.Path("conf");
    options_.bin_dirs = {kRealPluginDir};
    options_.cache_dir = dir_.Path("cache");
    WriteConf("10-test.conflist", net_name_, bridge_.name(), subnet_.cidr());
    manager_ = std::make_unique<NetworkManager>(options_);
    ASSERT_TRUE(manager_->Reload().ready) << manager_->Status().message;
    pod_id_ = RandomHex(32);
  }

  // Undoes whatever a failed test left: DEL from the cache removes the
  // iptables rules the netns and bridge removal would not.
  void TearDown() override {
    if (manager_ && set_up_) {
      EXPECT_TRUE(manager_->TearDown(Request()).ok());
    }
  }

  void WriteConf(const std::string& file, const std::string& name, const std::string& bridge,
                 const std::string& subnet, bool portmap = true) {
    nlohmann::json conf = {
        {"cniVersion", GetParam()},
        {"name", name},
        {"plugins",
         {{{"type", "bridge"},
           {"bridge", bridge},
           {"isGateway", true},
           {"ipMasq", false},
           {"ipam",
            {{"type", "host-local"},
             {"ranges", {{{{"subnet", subnet}}}}},
             {"dataDir", dir_.Path("ipam")}}}},
          {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
    if (!portmap) conf["plugins"].erase(1);
    ASSERT_TRUE(WriteFileAtomic(JoinPath(options_.conf_dir, file), conf.dump(2)).ok());
  }

  PodNetworkRequest Request() {
    PodNetworkRequest r;
    r.pod_id = pod_id_;
    r.netns_path = netns_.path();
    r.pod_name = "web";
    r.pod_namespace = "crius-test";
    r.pod_uid = "uid-" + pod_id_.substr(0, 8);
    r.port_mappings = {{host_port_, 80, "tcp", ""}};
    return r;
  }

  absl::StatusOr<PodNetworkResult> SetUpPod() {
    auto r = manager_->SetUp(Request());
    set_up_ = r.ok();
    return r;
  }

  // The host end of the pod's veth, from the result.
  static std::string HostVeth(const PodNetworkResult& r, const std::string& bridge) {
    for (const CniInterface& i : r.result.interfaces) {
      if (i.sandbox.empty() && i.name != bridge) return i.name;
    }
    return "";
  }

  std::string IpamFile(const std::string& ip) const {
    return dir_.Path("ipam/" + net_name_ + "/" + ip);
  }
  bool NatRulesMentionPod() const {
    return ToolOutput("iptables-save", {"-t", "nat"}).find(pod_id_) != std::string::npos;
  }

  TempDir dir_;
  TestNetns netns_;
  TestBridge bridge_;
  TestSubnet subnet_;
  NetworkManagerOptions options_;
  std::unique_ptr<NetworkManager> manager_;
  std::string net_name_;
  std::string pod_id_;
  int32_t host_port_ = 20000 + static_cast<int32_t>(std::random_device{}() % 40000);
  bool set_up_ = false;
};

TEST_P(RealPluginsTest, BridgeHostLocalPortmapAddAndDel) {
  auto result = SetUpPod();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->ips.empty());
  const std::string ip = result->ips[0];
  EXPECT_THAT(ip, ::testing::StartsWith(subnet_.prefix()));
  EXPECT_EQ(result->result.cni_version, GetParam());

  // Inside the pod: eth0 holds the IP, lo is up.
  EXPECT_THAT(netns_.Ip({"-o", "-4", "addr", "show", "dev", "eth0"}), HasSubstr(ip + "/24"));
  EXPECT_THAT(netns_.Ip({"-o", "link", "show", "lo"}), HasSubstr(",UP"));
  // On the host: the veth on our bridge, the IP reserved, the port rule.
  const std::string veth = HostVeth(*result, bridge_.name());
  ASSERT_FALSE(veth.empty());
  EXPECT_TRUE(TestBridge::LinkExists(veth));
  EXPECT_TRUE(TestBridge::LinkExists(bridge_.name()));
  EXPECT_EQ(::access(IpamFile(ip).c_str(), F_OK), 0);
  EXPECT_TRUE(NatRulesMentionPod());

  // The cache entry, with the fields libcni reads.
  nlohmann::json cache = ReadJson(CacheFilePath(options_.cache_dir, net_name_, pod_id_, "eth0"));
  EXPECT_EQ(cache["kind"], "cniCacheV1");
  EXPECT_EQ(cache["containerId"], pod_id_);
  EXPECT_EQ(cache["ifName"], "eth0");
  EXPECT_EQ(cache["networkName"], net_name_);
  EXPECT_EQ(cache["netns"], netns_.path());
  EXPECT_TRUE(cache["config"].is_string());
  EXPECT_EQ(cache["cniArgs"][0], nlohmann::json::array({"IgnoreUnknown", "1"}));
  EXPECT_EQ(cache["capabilityArgs"]["portMappings"][0]["hostPort"], host_port_);
  EXPECT_EQ(cache["result"]["ips"][0]["address"], ip + "/24");

  ASSERT_TRUE(manager_->TearDown(Request()).ok());
  set_up_ = false;
  EXPECT_NE(::access(IpamFile(ip).c_str(), F_OK), 0) << "IP still allocated";
  EXPECT_FALSE(TestBridge::LinkExists(veth));
  EXPECT_EQ(netns_.Ip({"-o", "link", "show"}).find("eth0"), std::string::npos);
  EXPECT_FALSE(NatRulesMentionPod());
  EXPECT_TRUE(FindCacheEntries(options_.cache_dir, pod_id_)->empty());

  // Again: nothing cached, the netns still there; still fine.
  EXPECT_TRUE(manager_->TearDown(Request()).ok());
}

TEST_P(RealPluginsTest, DelAfterTheConfDirChangedUsesTheCachedConfig) {
  auto result = SetUpPod();
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string ip = result->ips[0];
  const std::string veth = HostVeth(*result, bridge_.name());

  // The operator replaces the network: another name, bridge and data dir.
  // Only the cached config can release the IP and remove the veth.
  ASSERT_EQ(::remove(dir_.Path("conf/10-test.conflist").c_str()), 0);
  TestBridge other_bridge;
  WriteConf("20-other.conflist", "crius-t-" + RandomHex(8), other_bridge.name(), subnet_.cidr());
  ASSERT_TRUE(manager_->Reload().ready);
  ASSERT_NE(manager_->DefaultNetwork()->name, net_name_);

  ASSERT_TRUE(manager_->TearDown(Request()).ok());
  set_up_ = false;
  EXPECT_NE(::access(IpamFile(ip).c_str(), F_OK), 0) << "IP still allocated";
  EXPECT_FALSE(TestBridge::LinkExists(veth));
  EXPECT_FALSE(NatRulesMentionPod());
  EXPECT_TRUE(FindCacheEntries(options_.cache_dir, pod_id_)->empty());
}

// Without portmap: its CHECK in containernetworking-plugins 1.1 fails for
// IPv4-only pods (it looks for ip6tables rules it never made; upstream
// containernetworking/plugins#819).
TEST_P(RealPluginsTest, CheckPassesOnAHealthyPodAndFailsOnABrokenOne) {
  WriteConf("10-test.conflist", net_name_, bridge_.name(), subnet_.cidr(), /*portmap=*/false);
  ASSERT_TRUE(manager_->Reload().ready);
  auto result = SetUpPod();
  ASSERT_TRUE(result.ok()) << result.status();
  absl::Status healthy = manager_->Check(Request());
  EXPECT_TRUE(healthy.ok()) << healthy;
  // Someone deletes the pod's interface.
  netns_.Ip({"link", "delete", "eth0"});
  absl::Status broken = manager_->Check(Request());
  if (GetParam() == "0.3.1") {
    EXPECT_TRUE(broken.ok()) << "CHECK does not exist before 0.4.0: " << broken;
  } else {
    EXPECT_FALSE(broken.ok());
    EXPECT_THAT(std::string(broken.message()), HasSubstr("(check)"));
  }
}

// After a reboot (or a sandbox removed out of order) the netns is gone;
// DEL from the cache must still release the IP and the port rules.
TEST_P(RealPluginsTest, TearDownAfterTheNetnsIsGone) {
  auto result = SetUpPod();
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->ips.empty());
  const std::string ip = result->ips[0];
  netns_.Remove();  // takes the veth pair with it
  absl::Status s = manager_->TearDown(Request());
  EXPECT_TRUE(s.ok()) << s;
  set_up_ = !s.ok();
  EXPECT_NE(::access(IpamFile(ip).c_str(), F_OK), 0) << "IP still allocated";
  EXPECT_FALSE(NatRulesMentionPod());
  EXPECT_TRUE(FindCacheEntries(options_.cache_dir, pod_id_)->empty());
  EXPECT_TRUE(manager_->TearDown(Request()).ok());  // and again: nothing to do
}

TEST_P(RealPluginsTest, CachedResultSurvivesARestart) {
  auto result = SetUpPod();
  ASSERT_TRUE(result.ok()) << result.status();
  manager_ = std::make_unique<NetworkManager>(options_);  // a new daemon
  manager_->Reload();
  auto cached = manager_->CachedResult(pod_id_);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->ips, result->ips);
  EXPECT_EQ(cached->network_name, net_name_);
}

INSTANTIATE_TEST_SUITE_P(Versions, RealPluginsTest, ::testing::Values("0.3.1", "0.4.0", "1.0.0"),
                         [](const auto& info) {
                           std::string v = info.param;
                           std::replace(v.begin(), v.end(), '.', '_');
                           return "v" + v;
                         });

}  // namespace
}  // namespace crius::cni
