// NetworkManager against fake plugins: caching around ADD/DEL, cleanup on
// failure, DEL from the cache after the config changed, readiness and the
// conf dir watcher. No root needed.

#include "cni/network_manager.h"

#include <stdio.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/cni/cni_test_util.h"

namespace crius::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::EnvValue;
using testing::FakePluginScript;
using testing::ReadJson;
using testing::ReadLines;
using testing::TempDir;
using testing::WriteExecutable;

// Long enough for any loaded machine; the tests wait on a condition and
// only fail if it never comes.
constexpr absl::Duration kEventually = absl::Seconds(60);

std::string Result(const std::string& ip) {
  return R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/n"}],)"
         R"("ips":[{"address":")" +
         ip + R"(/24","interface":0}]})";
}

std::string Conflist(const std::string& name, const std::vector<std::string>& types) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& t : types) plugins.push_back({{"type", t}, {"capabilities", {{"portMappings", true}}}});
  return nlohmann::json{{"cniVersion", "1.0.0"}, {"name", name}, {"plugins", plugins}}.dump();
}

class NetworkManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MkdirAll(dir_.Path("bin")).ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("conf")).ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("log")).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.Path("netns"), "").ok());  // a stand-in netns path
    Plugin("loopback", R"({"cniVersion":"0.3.1","interfaces":[{"name":"lo","sandbox":"/n"}]})");
    options_.conf_dir = dir_.Path("conf");
    options_.bin_dirs = {dir_.Path("bin")};
    options_.cache_dir = dir_.Path("cache");
  }
  void Plugin(const std::string& name, const std::string& result,
              const std::string& behaviour = "") {
    WriteExecutable(dir_.Path("bin/" + name),
                    FakePluginScript(name, dir_.Path("log"), result, behaviour));
  }
  void Conf(const std::string& file, const std::string& bytes) {
    ASSERT_TRUE(WriteFileAtomic(dir_.Path("conf/" + file), bytes).ok());
  }
  PodNetworkRequest Request(const std::string& id) {
    PodNetworkRequest r;
    r.pod_id = id;
    r.netns_path = dir_.Path("netns");
    r.pod_name = "web";
    r.pod_namespace = "default";
    r.pod_uid = "uid-1";
    r.port_mappings = {{8080, 80, "TCP", ""}, {0, 81, "tcp", ""}, {5353, 53, "udp", "127.0.0.1"}};
    return r;
  }
  std::vector<std::string> Calls() { return ReadLines(dir_.Path("log/calls")); }
  std::string Log(const std::string& file) { return dir_.Path("log/" + file); }
  std::string CachePath(const std::string& net, const std::string& id, const std::string& ifname) {
    return CacheFilePath(options_.cache_dir, net, id, ifname);
  }

  TempDir dir_;
  NetworkManagerOptions options_;
};

TEST_F(NetworkManagerTest, SetUpCachesBeforeAndAfterAddAndReportsPodIps) {
  // During ADD the plugin copies its cache entry aside: it must already
  // exist, without a result.
  Plugin("one", Result("10.1.0.5"),
         "[ \"$CNI_COMMAND\" = ADD ] && cp \"" + dir_.Path("cache/results/") +
             "net-$CNI_CONTAINERID-$CNI_IFNAME\" \"" + dir_.Path("log/during-add") + "\"");
  Conf("10-net.conflist", Conflist("net", {"one"}));
  NetworkManager m(options_);
  ASSERT_TRUE(m.Reload().ready) << m.Status().message;

  auto result = m.SetUp(Request("pod1"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->network_name, "net");
  EXPECT_EQ(result->if_name, "eth0");
  EXPECT_EQ(result->ips, std::vector<std::string>{"10.1.0.5"});
  EXPECT_THAT(Calls(), ElementsAre("loopback ADD", "one ADD"));

  nlohmann::json during = ReadJson(Log("during-add"));
  EXPECT_EQ(during["kind"], "cniCacheV1");
  EXPECT_FALSE(during.contains("result"));
  nlohmann::json after = ReadJson(CachePath("net", "pod1", "eth0"));
  EXPECT_EQ(after["result"]["ips"][0]["address"], "10.1.0.5/24");
  EXPECT_EQ(after["netns"], dir_.Path("netns"));
  EXPECT_TRUE(ReadJson(CachePath("cni-loopback", "pod1", "lo")).contains("result"));

  EXPECT_EQ(EnvValue(Log("one.ADD.env"), "CNI_ARGS"),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
            "K8S_POD_INFRA_CONTAINER_ID=pod1;K8S_POD_UID=uid-1");
  EXPECT_EQ(EnvValue(Log("loopback.ADD.env"), "CNI_IFNAME"), "lo");
  // Host port 0 is dropped; protocols are lower-cased; hostIP only when set.
  EXPECT_EQ(ReadJson(Log("one.ADD.stdin"))["runtimeConfig"]["portMappings"],
            nlohmann::json::parse(R"([{"hostPort":8080,"containerPort":80,"protocol":"tcp"},
              {"hostPort":5353,"containerPort":53,"protocol":"udp","hostIP":"127.0.0.1"}])"));

  auto cached = m.CachedResult("pod1");
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->ips, std::vector<std::string>{"10.1.0.5"});
}

TEST_F(NetworkManagerTest, CapabilityArgsCoverBandwidthDnsAndCgroup) {
  Plugin("one", Result("10.1.0.5"));
  Conf("10-net.conflist",
       nlohmann::json{{"cniVersion", "1.0.0"},
                      {"name", "net"},
                      {"plugins",
                       {{{"type", "one"},
                         {"capabilities",
                          {{"bandwidth", true}, {"dns", true}, {"cgroupPath", true}}}}}}}
           .dump());
  NetworkManager m(options_);
  m.Reload();
  PodNetworkRequest req = Request("pod1");
  req.bandwidth = Bandwidth{1000, 2000, 3000, 4000};
  req.dns = DnsConfig{{"10.0.0.10"}, {"svc.local"}, {"ndots:5"}};
  req.cgroup_parent = "/kubepods/pod1";
  ASSERT_TRUE(m.SetUp(req).ok());
  nlohmann::json rc = ReadJson(Log("one.ADD.stdin"))["runtimeConfig"];
  EXPECT_EQ(rc["bandwidth"], nlohmann::json::parse(
                                 R"({"ingressRate":1000,"ingressBurst":2000,
                                     "egressRate":3000,"egressBurst":4000})"));
  EXPECT_EQ(rc["dns"], nlohmann::json::parse(
                           R"({"servers":["10.0.0.10"],"searches":["svc.local"],
                               "options":["ndots:5"]})"));
  EXPECT_EQ(rc["cgroupPath"], "/kubepods/pod1");
  EXPECT_FALSE(rc.contains("portMappings"));
}

TEST_F(NetworkManagerTest, TearDownUsesTheCachedConfigAfterTheConfDirChanged) {
  Plugin("one", Result("10.1.0.5"));
  Plugin("two", Result("10.1.0.6"));
  Plugin("other", Result("10.2.0.1"));
  Conf("10-net.conflist", Conflist("net", {"one", "two"}));
  NetworkManager m(options_);
  m.Reload();
  ASSERT_TRUE(m.SetUp(Request("pod1")).ok());

  ASSERT_EQ(::remove(dir_.Path("conf/10-net.conflist").c_str()), 0);
  Conf("20-new.conflist", Conflist("renamed", {"other"}));
  ASSERT_EQ(m.Reload().ready, true);
  ASSERT_EQ(m.DefaultNetwork()->name, "renamed");

  ASSERT_TRUE(m.TearDown(Request("pod1")).ok());
  EXPECT_THAT(Calls(), ElementsAre("loopback ADD", "one ADD", "two ADD", "two DEL", "one DEL",
                                   "loopback DEL"));
  nlohmann::json del = ReadJson(Log("one.DEL.stdin"));
  EXPECT_EQ(del["name"], "net");
  EXPECT_EQ(del["prevResult"]["ips"][0]["address"], "10.1.0.6/24");
  // The port mappings ADD had, from the cache.
  EXPECT_EQ(del["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_EQ(EnvValue(Log("one.DEL.env"), "K8S_POD_NAME"), "<unset>");  // only inside CNI_ARGS
  EXPECT_THAT(EnvValue(Log("one.DEL.env"), "CNI_ARGS"), HasSubstr("K8S_POD_NAME=web"));
  EXPECT_FALSE(FindCacheEntries(options_.cache_dir, "pod1")->size());

  // Torn down already, netns still there: DEL with the current config
  // (harmless by the spec); without the netns nothing runs at all.
  ASSERT_TRUE(m.TearDown(Request("pod1")).ok());
  ASSERT_GE(Calls().size(), 2u);
  EXPECT_EQ(Calls()[Calls().size() - 2], "other DEL");
  EXPECT_EQ(Calls().back(), "loopback DEL");
  size_t calls = Calls().size();
  PodNetworkRequest gone = Request("pod1");
  gone.netns_path = dir_.Path("no-such-netns");
  ASSERT_TRUE(m.TearDown(gone).ok());
  EXPECT_EQ(Calls().size(), calls);
}

TEST_F(NetworkManagerTest, TearDownOfAnUnknownPodWithoutNetnsIsOk) {
  NetworkManager m(options_);  // not even a network configured
  PodNetworkRequest req = Request("never-set-up");
  req.netns_path = "";
  EXPECT_TRUE(m.TearDown(req).ok());
  req.netns_path = dir_.Path("netns");  // the netns exists, still nothing known
  EXPECT_TRUE(m.TearDown(req).ok());
  EXPECT_TRUE(Calls().empty());
}

TEST_F(NetworkManagerTest, FailedSetUpDeletesWhatWasAddedAndItsCache) {
  Plugin("one", Result("10.1.0.5"));
  Plugin("fails", "",
         "[ \"$CNI_COMMAND\" = ADD ] && { echo '{\"code\":100,\"msg\":\"no way\"}'; exit 1; }");
  Conf("10-net.conflist", Conflist("net", {"one", "fails"}));
  NetworkManager m(options_);
  m.Reload();
  auto result = m.SetUp(Request("pod1"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("CNI error 100: no way"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("type=\"fails\""));
  EXPECT_THAT(Calls(), ElementsAre("loopback ADD", "one ADD", "fails ADD", "fails DEL", "one DEL",
                                   "loopback DEL"));
  EXPECT_TRUE(FindCacheEntries(options_.cache_dir, "pod1")->empty());
}

TEST_F(NetworkManagerTest, FailedCleanupLeavesTheCacheForTearDown) {
  Plugin("one", Result("10.1.0.5"),
         "[ \"$CNI_COMMAND\" = DEL ] && [ ! -e \"" + dir_.Path("log/del-failed") + "\" ] && "
         "{ touch \"" + dir_.Path("log/del-failed") + "\"; echo '{\"code\":5,\"msg\":\"io\"}'; exit 1; }");
  Plugin("fails", "", "[ \"$CNI_COMMAND\" = ADD ] && exit 1");
  Conf("10-net.conflist", Conflist("net", {"one", "fails"}));
  NetworkManager m(options_);
  m.Reload();
  auto result = m.SetUp(Request("pod1"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("left for TearDown"));
  auto entries = FindCacheEntries(options_.cache_dir, "pod1");
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].network_name, "net");
  ASSERT_TRUE(m.TearDown(Request("pod1")).ok());
  EXPECT_TRUE(FindCacheEntries(options_.cache_dir, "pod1")->empty());
}

TEST_F(NetworkManagerTest, CheckUsesTheCachedResult) {
  Plugin("one", Result("10.1.0.5"));
  Conf("10-net.conflist", Conflist("net", {"one"}));
  NetworkManager m(options_);
  m.Reload();
  EXPECT_EQ(m.Check(Request("pod1")).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(m.SetUp(Request("pod1")).ok());
  ASSERT_TRUE(m.Check(Request("pod1")).ok());
  EXPECT_EQ(Calls().back(), "one CHECK");
  EXPECT_EQ(ReadJson(Log("one.CHECK.stdin"))["prevResult"]["ips"][0]["address"], "10.1.0.5/24");
}

TEST_F(NetworkManagerTest, ConcurrentSetUpOfDifferentPods) {
  Plugin("one", Result("10.1.0.5"));
  Conf("10-net.conflist", Conflist("net", {"one"}));
  NetworkManager m(options_);
  m.Reload();
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto r = m.SetUp(Request(absl::StrCat("pod", i)));
      results[i] = r.status();
      if (r.ok()) results[i] = m.TearDown(Request(absl::StrCat("pod", i)));
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    EXPECT_TRUE(FindCacheEntries(options_.cache_dir, absl::StrCat("pod", i))->empty());
  }
  EXPECT_EQ(Calls().size(), results.size() * 4);
}

TEST_F(NetworkManagerTest, RequestsAreValidated) {
  Conf("10-net.conflist", Conflist("net", {"one"}));
  Plugin("one", Result("10.1.0.5"));
  NetworkManager m(options_);
  m.Reload();
  PodNetworkRequest bad = Request("../etc");
  EXPECT_EQ(m.SetUp(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = Request("pod1");
  bad.netns_path = "relative";
  EXPECT_EQ(m.SetUp(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = Request("pod1");
  bad.port_mappings = {{80, 80, "icmp", ""}};
  EXPECT_EQ(m.SetUp(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = Request("pod1");
  bad.pod_name = "a;b";
  EXPECT_EQ(m.SetUp(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(FindCacheEntries(options_.cache_dir, "pod1")->empty());
}

TEST_F(NetworkManagerTest, NotReadyWithoutConfigOrPluginBinaries) {
  NetworkManager m(options_);
  NetworkStatus s = m.Reload();
  EXPECT_FALSE(s.ready);
  EXPECT_EQ(s.reason, "NetworkPluginNotReady");
  EXPECT_THAT(s.message, HasSubstr("no network config found"));
  EXPECT_EQ(m.SetUp(Request("pod1")).status().code(), absl::StatusCode::kFailedPrecondition);

  Conf("10-net.conflist", Conflist("net", {"not-installed"}));
  s = m.Reload();
  EXPECT_FALSE(s.ready);
  EXPECT_THAT(s.message, HasSubstr("not-installed"));
  Plugin("not-installed", Result("10.1.0.5"));
  EXPECT_TRUE(m.Reload().ready);
  EXPECT_TRUE(m.Status().ready);
  EXPECT_EQ(m.Status().reason, "");
}

TEST_F(NetworkManagerTest, WatcherFollowsTheConfDir) {
  Plugin("one", Result("10.1.0.5"));
  Plugin("two", Result("10.1.0.6"));
  NetworkManager m(options_);
  ASSERT_TRUE(m.Start().ok());
  EXPECT_FALSE(m.Status().ready);

  Conf("10-net.conflist", Conflist("net", {"one"}));
  ASSERT_TRUE(m.WaitForReady(true, kEventually));
  EXPECT_EQ(m.DefaultNetwork()->name, "net");

  // A file sorting first takes over; its plugin is not installed, so the
  // node turns not ready, and ready again once the file goes.
  Conf("05-first.conflist", Conflist("first", {"not-installed"}));
  ASSERT_TRUE(m.WaitForReady(false, kEventually));
  EXPECT_THAT(m.Status().message, HasSubstr("not-installed"));
  ASSERT_EQ(::remove(dir_.Path("conf/05-first.conflist").c_str()), 0);
  ASSERT_TRUE(m.WaitForReady(true, kEventually));
  EXPECT_EQ(m.DefaultNetwork()->name, "net");

  ASSERT_EQ(::remove(dir_.Path("conf/10-net.conflist").c_str()), 0);
  ASSERT_TRUE(m.WaitForReady(false, kEventually));
  EXPECT_THAT(m.Status().message, HasSubstr("no network config found"));
  m.Stop();
}

TEST_F(NetworkManagerTest, WatcherFindsAConfDirCreatedLater) {
  Plugin("one", Result("10.1.0.5"));
  options_.conf_dir = dir_.Path("later/conf");
  options_.retry_interval = absl::Milliseconds(100);
  NetworkManager m(options_);
  ASSERT_TRUE(m.Start().ok());  // creates the directory itself
  ASSERT_TRUE(WriteFileAtomic(dir_.Path("later/conf/a.conflist"), Conflist("net", {"one"})).ok());
  ASSERT_TRUE(m.WaitForReady(true, kEventually));
  // The directory replaced as a whole is found again.
  ASSERT_TRUE(RemoveAll(dir_.Path("later/conf")).ok());
  ASSERT_TRUE(m.WaitForReady(false, kEventually));
  ASSERT_TRUE(MkdirAll(dir_.Path("later/conf.new")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_.Path("later/conf.new/a.conflist"), Conflist("net", {"one"})).ok());
  ASSERT_EQ(::rename(dir_.Path("later/conf.new").c_str(), dir_.Path("later/conf").c_str()), 0);
  ASSERT_TRUE(m.WaitForReady(true, kEventually));
}

}  // namespace
}  // namespace crius::cni
