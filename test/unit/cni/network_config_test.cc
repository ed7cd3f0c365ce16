#include "cni/network_config.h"

#include "gtest/gtest.h"
#include "test/unit/cni/cni_test_util.h"

namespace crius::cni {
namespace {

using testing::TempDir;

TEST(ParseCniVersion, AcceptsTwoAndThreePartVersions) {
  auto v = ParseCniVersion("1.0.0");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (CniVersion{1, 0, 0}));
  v = ParseCniVersion("0.4");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (CniVersion{0, 4, 0}));
  EXPECT_FALSE(ParseCniVersion("1").ok());
  EXPECT_FALSE(ParseCniVersion("1.x.0").ok());
  EXPECT_FALSE(ParseCniVersion("1..0").ok());
  EXPECT_FALSE(ParseCniVersion("").ok());
  EXPECT_TRUE(VersionAtLeast("0.4.0", {0, 4, 0}));
  EXPECT_TRUE(VersionAtLeast("1.0.0", {0, 4, 0}));
  EXPECT_FALSE(VersionAtLeast("0.3.1", {0, 4, 0}));
  EXPECT_FALSE(VersionAtLeast("junk", {0, 0, 0}));
}

TEST(ParseNetworkConfig, ConflistKeepsPluginsOrderAndBytes) {
  const std::string bytes = R"({"cniVersion":"1.0.0","name":"net","disableCheck":true,
      "plugins":[{"type":"bridge","bridge":"b0"},{"type":"portmap"}]})";
  auto list = ParseNetworkConfig("/x/10-net.conflist", bytes);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "net");
  EXPECT_EQ(list->cni_version, "1.0.0");
  EXPECT_TRUE(list->disable_check);
  ASSERT_EQ(list->plugins.size(), 2u);
  EXPECT_EQ(list->plugins[0]["type"], "bridge");
  EXPECT_EQ(list->plugins[1]["type"], "portmap");
  EXPECT_EQ(list->bytes, bytes);  // what the cache stores, byte for byte
}

TEST(ParseNetworkConfig, SingleConfIsLiftedIntoAList) {
  auto list = ParseNetworkConfig(
      "/x/10-net.conf", R"({"cniVersion":"0.4.0","name":"single","type":"bridge"})");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->plugins.size(), 1u);
  EXPECT_EQ(list->plugins[0]["type"], "bridge");
  // The stored bytes parse back as the same list.
  auto again = ParseNetworkConfigList("cache", list->bytes);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->name, "single");
  EXPECT_EQ(again->plugins, list->plugins);
}

TEST(ParseNetworkConfig, RefusesPreChainingVersionsWithAClearMessage) {
  for (const char* v : {"0.1.0", "0.2.0"}) {
    auto list = ParseNetworkConfig(
        "/x/a.conf", absl::StrCat(R"({"cniVersion":")", v, R"(","name":"n","type":"bridge"})"));
    ASSERT_FALSE(list.ok()) << v;
    EXPECT_EQ(list.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(list.status().message().find("not supported"), absl::string_view::npos)
        << list.status();
  }
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    EXPECT_TRUE(ParseNetworkConfig(
                    "/x/a.conf",
                    absl::StrCat(R"({"cniVersion":")", v, R"(","name":"n","type":"bridge"})"))
                    .ok())
        << v;
  }
}

TEST(ParseNetworkConfig, RefusesBrokenFiles) {
  struct Case {
    const char* path;
    const char* bytes;
    const char* why;
  } cases[] = {
      {"a.conflist", "not json", "not a JSON object"},
      {"a.conflist", R"({"cniVersion":"1.0.0","plugins":[{"type":"x"}]})", "no \"name\""},
      {"a.conflist", R"({"name":"n","plugins":[{"type":"x"}]})", "no \"cniVersion\""},
      {"a.conflist", R"({"cniVersion":"1.0.0","name":"n","plugins":[]})", "no \"plugins\""},
      {"a.conflist", R"({"cniVersion":"1.0.0","name":"n","plugins":[{"a":1}]})", "no \"type\""},
      {"a.conflist", R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../sh"}]})",
       "not a plain name"},
      {"a.conf", R"({"cniVersion":"1.0.0","name":"n"})", "no \"type\""},
  };
  for (const Case& c : cases) {
    auto list = ParseNetworkConfig(c.path, c.bytes);
    ASSERT_FALSE(list.ok()) << c.bytes;
    EXPECT_NE(list.status().message().find(c.why), absl::string_view::npos) << list.status();
    EXPECT_NE(list.status().message().find(c.path), absl::string_view::npos) << list.status();
  }
}

TEST(LoadDefaultNetwork, PicksTheFirstValidFileByName) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("05-broken.conflist"), "{").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("10-b.conf"),
                              R"({"cniVersion":"1.0.0","name":"b","type":"bridge"})")
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("20-a.conflist"),
                              R"({"cniVersion":"1.0.0","name":"a","plugins":[{"type":"x"}]})")
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("00-ignored.txt"), "whatever").ok());
  auto list = LoadDefaultNetwork(dir.path());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "b");
  EXPECT_EQ(list->path, dir.Path("10-b.conf"));
}

TEST(LoadDefaultNetwork, NotFoundListsWhyEachFileWasRefused) {
  TempDir dir;
  auto empty = LoadDefaultNetwork(dir.path());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomic(dir.Path("a.json"), R"({"cniVersion":"0.2.0","name":"n","type":"x"})")
                  .ok());
  auto refused = LoadDefaultNetwork(dir.path());
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(refused.status().message().find("0.2.0"), absl::string_view::npos) << refused.status();
  EXPECT_EQ(LoadDefaultNetwork(dir.Path("missing")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace crius::cni
