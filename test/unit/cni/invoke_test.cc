#include "cni/invoke.h"

#include <stdlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/cni/cni_test_util.h"

namespace crius::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::EnvValue;
using testing::FakePluginScript;
using testing::PassThroughAdd;
using testing::ReadJson;
using testing::ReadLines;
using testing::TempDir;
using testing::WriteExecutable;

std::string Result(const std::string& ip) {
  return R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/x"}],)"
         R"("ips":[{"address":")" +
         ip + R"(/24","interface":0}]})";
}

NetworkConfigList MakeList(const std::string& version, const std::vector<nlohmann::json>& plugins) {
  nlohmann::json doc = {{"cniVersion", version}, {"name", "testnet"}, {"plugins", plugins}};
  auto list = ParseNetworkConfigList("test", doc.dump());
  EXPECT_TRUE(list.ok()) << list.status();
  return list.ok() ? *list : NetworkConfigList{};
}

RuntimeConf MakeRt() {
  RuntimeConf rt;
  rt.container_id = "pod1";
  rt.netns = "/run/netns/x";
  rt.if_name = "eth0";
  rt.args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "ns"}, {"K8S_POD_NAME", "name"}};
  rt.capability_args = {{"portMappings", {{{"hostPort", 8080}, {"containerPort", 80}}}},
                        {"bandwidth", {{"ingressRate", 1000}}},
                        {"dns", {{"servers", {"10.0.0.10"}}}}};
  return rt;
}

class InvokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MkdirAll(bin_.Path("bin")).ok());
    options_.bin_dirs = {bin_.Path("bin")};
    options_.timeout = absl::Seconds(60);
  }
  void Plugin(const std::string& name, const std::string& result,
              const std::string& behaviour = "") {
    WriteExecutable(bin_.Path("bin/" + name), FakePluginScript(name, log_.path(), result, behaviour));
  }
  std::vector<std::string> Calls() { return ReadLines(log_.Path("calls")); }
  nlohmann::json Stdin(const std::string& name, const std::string& cmd) {
    return ReadJson(log_.Path(name + "." + cmd + ".stdin"));
  }
  std::string Env(const std::string& name, const std::string& cmd, const std::string& var) {
    return EnvValue(log_.Path(name + "." + cmd + ".env"), var);
  }

  TempDir bin_;
  TempDir log_;
  InvokeOptions options_;
};

TEST(BuildPluginEnv, IsExactlyTheCniVariablesAndAFixedPath) {
  RuntimeConf rt = MakeRt();
  auto env = BuildPluginEnv("ADD", rt, {"/opt/cni/bin", "/usr/lib/cni"});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_THAT(*env, ElementsAre("CNI_COMMAND=ADD", "CNI_CONTAINERID=pod1",
                                "CNI_NETNS=/run/netns/x", "CNI_IFNAME=eth0",
                                "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name",
                                "CNI_PATH=/opt/cni/bin:/usr/lib/cni",
                                ::testing::StartsWith("PATH=")));
}

TEST(FormatCniArgs, RefusesWhatCannotBeSplitBack) {
  EXPECT_EQ(*FormatCniArgs({{"A", "1"}, {"B", "x=y"}}), "A=1;B=x=y");
  EXPECT_EQ(*FormatCniArgs({}), "");
  EXPECT_FALSE(FormatCniArgs({{"A", "1;B=2"}}).ok());
  EXPECT_FALSE(FormatCniArgs({{"A=B", "1"}}).ok());
  EXPECT_FALSE(FormatCniArgs({{"", "1"}}).ok());
}

TEST(BuildPluginConfig, InjectsNameVersionPrevResultAndDeclaredCapabilitiesOnly) {
  NetworkConfigList list = MakeList(
      "1.0.0", {{{"type", "a"}, {"name", "other"}, {"cniVersion", "0.3.1"}, {"x", 1}},
                {{"type", "portmap"},
                 {"capabilities", {{"portMappings", true}, {"bandwidth", false}, {"ipRanges", true}}}},
                {{"type", "c"}, {"runtimeConfig", {{"keep", true}}}}});
  RuntimeConf rt = MakeRt();
  nlohmann::json prev = nlohmann::json::parse(Result("10.0.0.2"));

  nlohmann::json first = BuildPluginConfig(list, 0, nullptr, rt.capability_args);
  EXPECT_EQ(first["name"], "testnet");
  EXPECT_EQ(first["cniVersion"], "1.0.0");
  EXPECT_EQ(first["x"], 1);
  EXPECT_FALSE(first.contains("prevResult"));
  EXPECT_FALSE(first.contains("runtimeConfig"));

  nlohmann::json second = BuildPluginConfig(list, 1, &prev, rt.capability_args);
  EXPECT_EQ(second["prevResult"], prev);
  // Declared and supplied: portMappings. Declared false: bandwidth. Not
  // supplied: ipRanges. Supplied but not declared: dns.
  EXPECT_EQ(second["runtimeConfig"],
            nlohmann::json({{"portMappings", rt.capability_args["portMappings"]}}));

  nlohmann::json third = BuildPluginConfig(list, 2, &prev, rt.capability_args);
  EXPECT_EQ(third["runtimeConfig"], nlohmann::json({{"keep", true}}));
}

TEST(ValidateNames, FollowLibcniRules) {
  EXPECT_TRUE(ValidateName("id", "abc-1.2_3").ok());
  EXPECT_FALSE(ValidateName("id", "").ok());
  EXPECT_FALSE(ValidateName("id", "-abc").ok());
  EXPECT_FALSE(ValidateName("id", "a/b").ok());
  EXPECT_FALSE(ValidateName("id", "a b").ok());
  EXPECT_TRUE(ValidateIfName("eth0").ok());
  EXPECT_TRUE(ValidateIfName("a234567890abcde").ok());
  EXPECT_FALSE(ValidateIfName("a234567890abcdef").ok());
  EXPECT_FALSE(ValidateIfName("..").ok());
  EXPECT_FALSE(ValidateIfName("eth:0").ok());
  EXPECT_FALSE(ValidateIfName("eth 0").ok());
  EXPECT_FALSE(ValidateIfName("").ok());
}

TEST_F(InvokeTest, AddRunsInOrderAndChainsPrevResult) {
  Plugin("one", Result("10.0.0.1"));
  Plugin("two", Result("10.0.0.2"));
  Plugin("three", Result("10.0.0.3"));
  NetworkConfigList list = MakeList(
      "1.0.0", {{{"type", "one"}},
                {{"type", "two"}, {"capabilities", {{"portMappings", true}}}},
                {{"type", "three"}, {"capabilities", {{"bandwidth", true}, {"dns", true}}}}});
  ::setenv("CRIUS_CNI_TEST_LEAK", "1", 1);
  auto result = AddNetworkList(list, MakeRt(), options_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->ips[0].address, "10.0.0.3/24");  // the last plugin's
  EXPECT_THAT(Calls(), ElementsAre("one ADD", "two ADD", "three ADD"));

  EXPECT_FALSE(Stdin("one", "ADD").contains("prevResult"));
  EXPECT_EQ(Stdin("two", "ADD")["prevResult"], nlohmann::json::parse(Result("10.0.0.1")));
  EXPECT_EQ(Stdin("three", "ADD")["prevResult"], nlohmann::json::parse(Result("10.0.0.2")));
  EXPECT_FALSE(Stdin("one", "ADD").contains("runtimeConfig"));
  EXPECT_EQ(Stdin("two", "ADD")["runtimeConfig"].size(), 1u);
  EXPECT_TRUE(Stdin("two", "ADD")["runtimeConfig"].contains("portMappings"));
  EXPECT_EQ(Stdin("three", "ADD")["runtimeConfig"].size(), 2u);
  EXPECT_EQ(Stdin("three", "ADD")["runtimeConfig"]["dns"]["servers"][0], "10.0.0.10");

  EXPECT_EQ(Env("two", "ADD", "CNI_COMMAND"), "ADD");
  EXPECT_EQ(Env("two", "ADD", "CNI_CONTAINERID"), "pod1");
  EXPECT_EQ(Env("two", "ADD", "CNI_NETNS"), "/run/netns/x");
  EXPECT_EQ(Env("two", "ADD", "CNI_IFNAME"), "eth0");
  EXPECT_EQ(Env("two", "ADD", "CNI_PATH"), bin_.Path("bin"));
  EXPECT_EQ(Env("two", "ADD", "CNI_ARGS"),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name");
  EXPECT_EQ(Env("two", "ADD", "CRIUS_CNI_TEST_LEAK"), "<unset>");
  ::unsetenv("CRIUS_CNI_TEST_LEAK");
}

TEST_F(InvokeTest, PassThroughPluginHandsOnThePreviousResult) {
  Plugin("one", Result("10.0.0.1"));
  Plugin("meta", "", PassThroughAdd("meta", log_.path()));
  auto result =
      AddNetworkList(MakeList("1.0.0", {{{"type", "one"}}, {{"type", "meta"}}}), MakeRt(), options_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->raw, nlohmann::json::parse(Result("10.0.0.1")));
}

TEST_F(InvokeTest, PluginIsFoundInTheFirstBinDirHoldingIt) {
  TempDir second;
  ASSERT_TRUE(MkdirAll(second.Path("bin")).ok());
  WriteExecutable(second.Path("bin/p"), FakePluginScript("second", log_.path(), Result("10.9.9.9")));
  Plugin("p", Result("10.0.0.1"));
  options_.bin_dirs = {second.Path("missing"), bin_.Path("bin"), second.Path("bin")};
  auto result = AddNetworkList(MakeList("1.0.0", {{{"type", "p"}}}), MakeRt(), options_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->ips[0].address, "10.0.0.1/24");
  EXPECT_EQ(Env("p", "ADD", "CNI_PATH"),
            absl::StrCat(second.Path("missing"), ":", bin_.Path("bin"), ":", second.Path("bin")));
}

TEST_F(InvokeTest, DelRunsInReverseWithTheCachedResult) {
  Plugin("one", Result("10.0.0.1"));
  Plugin("two", Result("10.0.0.2"));
  NetworkConfigList list = MakeList("1.0.0", {{{"type", "one"}}, {{"type", "two"}}});
  nlohmann::json cached = nlohmann::json::parse(Result("10.0.0.2"));
  ASSERT_TRUE(DelNetworkList(list, MakeRt(), &cached, options_).ok());
  EXPECT_THAT(Calls(), ElementsAre("two DEL", "one DEL"));
  EXPECT_EQ(Stdin("one", "DEL")["prevResult"], cached);
  EXPECT_EQ(Stdin("two", "DEL")["prevResult"], cached);
  EXPECT_EQ(Env("one", "DEL", "CNI_COMMAND"), "DEL");
}

TEST_F(InvokeTest, DelOmitsPrevResultBefore040) {
  Plugin("one", Result("10.0.0.1"));
  nlohmann::json cached = nlohmann::json::parse(Result("10.0.0.2"));
  ASSERT_TRUE(DelNetworkList(MakeList("0.3.1", {{{"type", "one"}}}), MakeRt(), &cached, options_)
                  .ok());
  EXPECT_FALSE(Stdin("one", "DEL").contains("prevResult"));
}

TEST_F(InvokeTest, DelStopsAtTheFirstFailureLikeLibcni) {
  Plugin("one", "");
  Plugin("two", "",
         "if [ \"$CNI_COMMAND\" = DEL ]; then "
         "echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"busy\",\"details\":\"lock held\"}';"
         " echo 'diagnostics here' >&2; exit 1; fi");
  Plugin("three", "");
  NetworkConfigList list =
      MakeList("1.0.0", {{{"type", "one"}}, {{"type", "two"}}, {{"type", "three"}}});
  absl::Status s = DelNetworkList(list, MakeRt(), nullptr, options_);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);  // CNI code 11: try again later
  EXPECT_THAT(std::string(s.message()), HasSubstr("type=\"two\""));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(del)"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("CNI error 11: busy (lock held)"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("stderr: diagnostics here"));
  EXPECT_THAT(Calls(), ElementsAre("three DEL", "two DEL"));
}

TEST_F(InvokeTest, AddErrorJsonDecidesCodeAndMessage) {
  Plugin("bad", "",
         "echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid config\"}'; exit 1");
  auto r = AddNetworkList(MakeList("1.0.0", {{{"type", "bad"}}}), MakeRt(), options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("CNI error 7: invalid config"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("(add)"));
}

TEST_F(InvokeTest, FailureWithoutErrorJsonCarriesExitCodeAndOutput) {
  Plugin("bad", "", "echo 'plain words'; echo 'on stderr' >&2; exit 3");
  auto r = AddNetworkList(MakeList("1.0.0", {{{"type", "bad"}}}), MakeRt(), options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("exited with code 3"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("stdout: plain words"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("stderr: on stderr"));
}

TEST_F(InvokeTest, MalformedResultIsRefusedAndNamesThePlugin) {
  Plugin("liar", R"({"cniVersion":"1.0.0","ips":[{"address":"not-an-ip"}]})");
  auto r = AddNetworkList(MakeList("1.0.0", {{{"type", "liar"}}}), MakeRt(), options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("type=\"liar\""));
}

TEST_F(InvokeTest, MissingPluginIsNotFound) {
  auto r = AddNetworkList(MakeList("1.0.0", {{{"type", "nowhere"}}}), MakeRt(), options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nowhere"));
}

TEST_F(InvokeTest, HangingPluginIsKilledAtTheTimeout) {
  Plugin("slow", "", "exec sleep 1000");
  options_.timeout = absl::Milliseconds(300);
  auto r = AddNetworkList(MakeList("1.0.0", {{{"type", "slow"}}}), MakeRt(), options_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("type=\"slow\""));
}

TEST_F(InvokeTest, CheckRunsFrom040AndSkipsOlderOrDisabledLists) {
  Plugin("one", "");
  Plugin("two", "");
  nlohmann::json cached = nlohmann::json::parse(Result("10.0.0.2"));
  ASSERT_TRUE(CheckNetworkList(MakeList("0.3.1", {{{"type", "one"}}}), MakeRt(), cached, options_)
                  .ok());
  NetworkConfigList disabled = MakeList("1.0.0", {{{"type", "one"}}});
  disabled.disable_check = true;
  ASSERT_TRUE(CheckNetworkList(disabled, MakeRt(), cached, options_).ok());
  EXPECT_TRUE(Calls().empty());

  NetworkConfigList list = MakeList("0.4.0", {{{"type", "one"}}, {{"type", "two"}}});
  ASSERT_TRUE(CheckNetworkList(list, MakeRt(), cached, options_).ok());
  EXPECT_THAT(Calls(), ElementsAre("one CHECK", "two CHECK"));
  EXPECT_EQ(Stdin("two", "CHECK")["prevResult"], cached);
  EXPECT_EQ(Env("two", "CHECK", "CNI_COMMAND"), "CHECK");
}

}  // namespace
}  // namespace crius::cni
