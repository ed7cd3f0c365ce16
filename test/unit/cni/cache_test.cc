#include "cni/cache.h"

#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "test/unit/cni/cni_test_util.h"

namespace crius::cni {
namespace {

using testing::ReadJson;
using testing::TempDir;

CacheEntry SampleEntry() {
  CacheEntry e;
  e.container_id = "abc123";
  e.config = R"({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"bridge"}]})";
  e.if_name = "eth0";
  e.network_name = "net";
  e.netns = "/run/netns/x";
  e.cni_args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "p"}};
  e.capability_args = {{"portMappings", {{{"hostPort", 80}, {"containerPort", 8080}}}}};
  return e;
}

TEST(Cache, FileUsesLibcniPathAndFieldNames) {
  TempDir dir;
  CacheEntry e = SampleEntry();
  e.result = nlohmann::json{{"cniVersion", "1.0.0"}, {"ips", nlohmann::json::array()}};
  ASSERT_TRUE(WriteCacheEntry(dir.path(), e).ok());
  const std::string path = dir.Path("results/net-abc123-eth0");
  EXPECT_EQ(CacheFilePath(dir.path(), "net", "abc123", "eth0"), path);
  nlohmann::json doc = ReadJson(path);
  EXPECT_EQ(doc["kind"], "cniCacheV1");
  EXPECT_EQ(doc["containerId"], "abc123");
  EXPECT_EQ(doc["ifName"], "eth0");
  EXPECT_EQ(doc["networkName"], "net");
  EXPECT_EQ(doc["netns"], "/run/netns/x");
  // Go encodes []byte as standard base64.
  std::string config;
  ASSERT_TRUE(absl::Base64Unescape(doc["config"].get<std::string>(), &config));
  EXPECT_EQ(config, e.config);
  EXPECT_EQ(doc["cniArgs"], nlohmann::json::parse(R"([["IgnoreUnknown","1"],["K8S_POD_NAME","p"]])"));
  EXPECT_EQ(doc["capabilityArgs"]["portMappings"][0]["hostPort"], 80);
  EXPECT_EQ(doc["result"]["cniVersion"], "1.0.0");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.Path("results").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(Cache, EntryWithoutResultOmitsIt) {
  TempDir dir;
  CacheEntry e = SampleEntry();
  e.cni_args.clear();
  e.capability_args = nlohmann::json::object();
  e.netns.clear();
  ASSERT_TRUE(WriteCacheEntry(dir.path(), e).ok());
  nlohmann::json doc = ReadJson(dir.Path("results/net-abc123-eth0"));
  EXPECT_FALSE(doc.contains("result"));
  EXPECT_FALSE(doc.contains("cniArgs"));
  EXPECT_FALSE(doc.contains("capabilityArgs"));
  EXPECT_FALSE(doc.contains("netns"));
}

TEST(Cache, RoundTripAndRemove) {
  TempDir dir;
  CacheEntry e = SampleEntry();
  e.result = nlohmann::json{{"cniVersion", "1.0.0"}};
  ASSERT_TRUE(WriteCacheEntry(dir.path(), e).ok());
  auto read = ReadCacheEntry(dir.path(), "net", "abc123", "eth0");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->config, e.config);
  EXPECT_EQ((*read)->cni_args, e.cni_args);
  EXPECT_EQ((*read)->capability_args, e.capability_args);
  EXPECT_EQ((*read)->result, e.result);
  ASSERT_TRUE(RemoveCacheEntry(dir.path(), e).ok());
  read = ReadCacheEntry(dir.path(), "net", "abc123", "eth0");
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->has_value());
  EXPECT_TRUE(RemoveCacheEntry(dir.path(), e).ok());  // already gone: fine
}

TEST(Cache, ReadsEntriesWrittenByLibcni) {
  // The shape libcni writes (Go's encoding/json of its cachedInfo).
  TempDir dir;
  ASSERT_TRUE(MkdirAll(dir.Path("results")).ok());
  const std::string conf = R"({"cniVersion":"0.4.0","name":"k","plugins":[{"type":"ptp"}]})";
  nlohmann::json doc = {{"kind", "cniCacheV1"},
                        {"containerId", "ctr"},
                        {"config", absl::Base64Escape(conf)},
                        {"ifName", "eth0"},
                        {"networkName", "k"},
                        {"cniArgs", nlohmann::json::array({nlohmann::json::array({"K8S_POD_NAME", "x"})})},
                        {"result", {{"cniVersion", "0.4.0"}, {"ips", nlohmann::json::array()}}}};
  ASSERT_TRUE(WriteFileAtomic(dir.Path("results/k-ctr-eth0"), doc.dump()).ok());
  auto entries = FindCacheEntries(dir.path(), "ctr");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].config, conf);
  EXPECT_EQ((*entries)[0].cni_args, (CniArgs{{"K8S_POD_NAME", "x"}}));
  EXPECT_TRUE((*entries)[0].result.has_value());
}

TEST(Cache, FindMatchesTheContainerIdNotJustTheFileName) {
  TempDir dir;
  CacheEntry mine = SampleEntry();
  mine.container_id = "b";
  mine.network_name = "net";
  CacheEntry lo = mine;
  lo.network_name = "cni-loopback";
  lo.if_name = "lo";
  CacheEntry other = SampleEntry();  // "a-b" network of container "c": name holds "-b-"
  other.network_name = "a-b";
  other.container_id = "c";
  for (const auto& e : {mine, lo, other}) ASSERT_TRUE(WriteCacheEntry(dir.path(), e).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("results/junk-b-eth1"), "not json").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("results/old-b-eth2"), R"({"kind":"v0"})").ok());
  auto entries = FindCacheEntries(dir.path(), "b");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].network_name, "cni-loopback");
  EXPECT_EQ((*entries)[1].network_name, "net");
  auto none = FindCacheEntries(dir.Path("nowhere"), "b");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Cache, RefusesWhatIsNotACacheEntry) {
  EXPECT_FALSE(CacheEntryFromJson(nlohmann::json::array()).ok());
  EXPECT_FALSE(CacheEntryFromJson({{"kind", "other"}}).ok());
  EXPECT_FALSE(CacheEntryFromJson({{"kind", "cniCacheV1"}, {"containerId", "x"}}).ok());
  EXPECT_FALSE(CacheEntryFromJson({{"kind", "cniCacheV1"},
                                   {"containerId", "x"},
                                   {"ifName", "eth0"},
                                   {"networkName", "n"},
                                   {"config", "!!!"}})
                   .ok());
}

}  // namespace
}  // namespace crius::cni
