// Fault injection for pod networking: fake plugins that fail, hang or fail
// DEL once, chained after the real bridge + host-local (+ portmap) so the
// tests can see that nothing real is left behind. Needs root.

#include <signal.h>

#include <random>

#include "cni/network_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/cni/cni_test_util.h"

namespace crius::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::CanUseRealPlugins;
using testing::FakePluginScript;
using testing::kRealPluginDir;
using testing::PassThroughAdd;
using testing::RandomHex;
using testing::ReadLines;
using testing::TempDir;
using testing::TestBridge;
using testing::TestNetns;
using testing::TestSubnet;
using testing::ToolOutput;
using testing::WriteExecutable;

// What the fault plugins print for ADD unless told otherwise.
constexpr char kFakeResult[] = R"({"cniVersion":"1.0.0"})";

class CniFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanUseRealPlugins()) GTEST_SKIP() << "needs root and the CNI plugins in /usr/lib/cni";
    ASSERT_TRUE(MkdirAll(dir_.Path("conf")).ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("bin")).ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("log")).ok());
    net_name_ = "crius-t-" + RandomHex(8);
    pod_id_ = RandomHex(32);
    options_.conf_dir = dir_.Path("conf");
    options_.bin_dirs = {dir_.Path("bin"), kRealPluginDir};
    options_.cache_dir = dir_.Path("cache");
  }

  void TearDown() override {
    // A test that failed halfway may leave a cached attachment: undo it so
    // its iptables rules go too (the netns and bridge have owners).
    if (manager_ && !FindCacheEntries(options_.cache_dir, pod_id_)->empty()) {
      EXPECT_TRUE(manager_->TearDown(Request()).ok());
    }
  }

  void FakePlugin(const std::string& name, const std::string& behaviour) {
    WriteExecutable(dir_.Path("bin/" + name),
                    FakePluginScript(name, dir_.Path("log"), kFakeResult, behaviour));
  }

  // bridge + host-local, portmap, then the fake plugin `last`.
  void Start(const std::string& last) {
    nlohmann::json conf = {
        {"cniVersion", "1.0.0"},
        {"name", net_name_},
        {"plugins",
         {{{"type", "bridge"},
           {"bridge", bridge_.name()},
           {"isGateway", true},
           {"ipMasq", false},
           {"ipam",
            {{"type", "host-local"},
             {"ranges", {{{{"subnet", subnet_.cidr()}}}}},
             {"dataDir", dir_.Path("ipam")}}}},
          {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}},
          {{"type", last}}}}};
    ASSERT_TRUE(WriteFileAtomic(dir_.Path("conf/10-fault.conflist"), conf.dump()).ok());
    manager_ = std::make_unique<NetworkManager>(options_);
    ASSERT_TRUE(manager_->Reload().ready) << manager_->Status().message;
  }

  PodNetworkRequest Request() {
    PodNetworkRequest r;
    r.pod_id = pod_id_;
    r.netns_path = netns_.path();
    r.pod_name = "victim";
    r.pod_namespace = "crius-fault";
    r.pod_uid = "uid";
    r.port_mappings = {{host_port_, 80, "tcp", ""}};
    return r;
  }

  // Addresses host-local holds for this network (its bookkeeping files,
  // "lock" and "last_reserved_ip.*", are not allocations).
  std::vector<std::string> AllocatedIps() {
    std::vector<std::string> ips;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator(dir_.Path("ipam/" + net_name_), ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind(subnet_.prefix(), 0) == 0) ips.push_back(name);
    }
    return ips;
  }

  // Everything a pod's network consists of, checked gone.
  void ExpectNothingLeft() {
    EXPECT_THAT(AllocatedIps(), ::testing::IsEmpty()) << "IP allocations left";
    EXPECT_EQ(ToolOutput("ip", {"-o", "link", "show", "master", bridge_.name()}), "")
        << "veths left on the bridge";
    EXPECT_EQ(netns_.Ip({"-o", "link", "show"}).find("eth0"), std::string::npos)
        << "eth0 left in the pod";
    EXPECT_EQ(ToolOutput("iptables-save", {"-t", "nat"}).find(pod_id_), std::string::npos)
        << "port mapping rules left";
    EXPECT_THAT(*FindCacheEntries(options_.cache_dir, pod_id_), ::testing::IsEmpty())
        << "cache entries left";
  }

  std::vector<std::string> Calls() { return ReadLines(dir_.Path("log/calls")); }

  TempDir dir_;
  TestNetns netns_;
  TestBridge bridge_;
  TestSubnet subnet_;
  NetworkManagerOptions options_;
  std::unique_ptr<NetworkManager> manager_;
  std::string net_name_;
  std::string pod_id_;
  int32_t host_port_ = 20000 + static_cast<int32_t>(std::random_device{}() % 40000);
};

TEST_F(CniFaultTest, FailedAddReportsTheCniErrorAndUndoesTheEarlierPlugins) {
  FakePlugin("fail-add",
             "if [ \"$CNI_COMMAND\" = ADD ]; then "
             "echo '{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"injected failure\","
             "\"details\":\"fault test\"}'; echo 'fail-add: giving up' >&2; exit 1; fi");
  Start("fail-add");
  auto result = manager_->SetUp(Request());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  const std::string msg(result.status().message());
  EXPECT_THAT(msg, HasSubstr("type=\"fail-add\""));
  EXPECT_THAT(msg, HasSubstr("CNI error 100: injected failure (fault test)"));
  EXPECT_THAT(msg, HasSubstr("stderr: fail-add: giving up"));
  EXPECT_THAT(Calls(), ElementsAre("fail-add ADD", "fail-add DEL"));
  ExpectNothingLeft();
}

TEST_F(CniFaultTest, HangingPluginIsKilledAtTheTimeoutAndEverythingUndone) {
  FakePlugin("hang",
             "if [ \"$CNI_COMMAND\" = ADD ]; then echo $$ > '" + dir_.Path("log/pid") +
                 "'; exec sleep 100000; fi");
  options_.plugin_timeout = absl::Seconds(2);
  Start("hang");
  auto result = manager_->SetUp(Request());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("type=\"hang\""));
  // The plugin process is gone (killed and reaped, not left running).
  auto pid_text = ReadFile(dir_.Path("log/pid"));
  ASSERT_TRUE(pid_text.ok());
  pid_t pid = std::stoi(*pid_text);
  auto cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  EXPECT_TRUE(!cmdline.ok() || cmdline->find("100000") == std::string::npos)
      << "plugin " << pid << " still running";
  EXPECT_THAT(Calls(), ElementsAre("hang ADD", "hang DEL"));
  ExpectNothingLeft();
}

TEST_F(CniFaultTest, DelFailingOnceFailsTheFirstTearDownAndTheRetryFinishes) {
  const std::string marker = dir_.Path("log/del-failed-once");
  FakePlugin("flaky-del", "if [ \"$CNI_COMMAND\" = DEL ] && [ ! -e '" + marker +
                              "' ]; then touch '" + marker +
                              "'; echo '{\"code\":11,\"msg\":\"try again later\"}'; exit 1; fi\n" +
                              PassThroughAdd("flaky-del", dir_.Path("log")));
  Start("flaky-del");
  auto result = manager_->SetUp(Request());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->ips.empty());
  ASSERT_EQ(AllocatedIps(), std::vector<std::string>{result->ips[0]});

  absl::Status first = manager_->TearDown(Request());
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(first.message()), HasSubstr("CNI error 11: try again later"));
  // DEL stopped at the failing plugin: the pod's network is still whole,
  // and the cache entry is kept for the retry.
  EXPECT_EQ(AllocatedIps(), std::vector<std::string>{result->ips[0]});
  EXPECT_EQ(FindCacheEntries(options_.cache_dir, pod_id_)->size(), 1u);

  absl::Status second = manager_->TearDown(Request());
  EXPECT_TRUE(second.ok()) << second;
  ExpectNothingLeft();
}

TEST_F(CniFaultTest, CrashInsideAddIsUndoneFromTheCacheAfterRestart) {
  FakePlugin("dies", "");
  Start("dies");
  // What a daemon dying inside ADD leaves: the entry written before ADD
  // (no result) and the plugins that already ran.
  auto network = manager_->DefaultNetwork();
  RuntimeConf rt;
  rt.container_id = pod_id_;
  rt.netns = netns_.path();
  rt.if_name = "eth0";
  rt.args = {{"IgnoreUnknown", "1"}};
  CacheEntry entry{pod_id_, network->bytes, "eth0", network->name, rt.netns, rt.args,
                   nlohmann::json::object(), std::nullopt};
  ASSERT_TRUE(WriteCacheEntry(options_.cache_dir, entry).ok());
  NetworkConfigList bridge_only = *network;
  bridge_only.plugins.resize(1);
  InvokeOptions invoke;
  invoke.bin_dirs = options_.bin_dirs;
  ASSERT_TRUE(AddNetworkList(bridge_only, rt, invoke).ok());
  ASSERT_EQ(AllocatedIps().size(), 1u);

  // A new daemon, whose conf dir no longer has the network at all.
  ASSERT_TRUE(RemoveAll(dir_.Path("conf/10-fault.conflist")).ok());
  manager_ = std::make_unique<NetworkManager>(options_);
  EXPECT_FALSE(manager_->Reload().ready);
  absl::Status s = manager_->TearDown(Request());
  EXPECT_TRUE(s.ok()) << s;
  ExpectNothingLeft();
}

}  // namespace
}  // namespace crius::cni
