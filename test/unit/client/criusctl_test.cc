// criusctl run in-process against the fake CRI server: what a user would
// see on stdout and stderr, the exit code, and what reached the server.

#include "client/criusctl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "test/unit/client/fake_cri_server.h"

namespace crius::client {
namespace {

using testing::FakeCriServer;
using testing::FakeImageService;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = runtime::v1;

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunCtl(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = RunCriusctl(args, out, err);
  return {code, out.str(), err.str()};
}

class CriusctlTest : public ::testing::Test {
 protected:
  // Runs criusctl against the fake server.
  Result Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"-r", server_.endpoint()});
    return RunCtl(args);
  }

  FakeCriServer server_;
};

TEST_F(CriusctlTest, VersionPrintsCrictlShapedLines) {
  Result r = Ctl({"version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Version:  0.1.0\n"
            "RuntimeName:  fake-runtime\n"
            "RuntimeVersion:  1.2.3\n"
            "RuntimeApiVersion:  v1\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CriusctlTest, GlobalTimeoutTakesGoDurations) {
  EXPECT_EQ(Ctl({"-t", "10s", "version"}).code, 0);
  EXPECT_EQ(Ctl({"--timeout=2m", "version"}).code, 0);
  Result bad = Ctl({"-t", "soon", "version"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("invalid duration"));
}

TEST_F(CriusctlTest, RunpSendsTheCrictlPodConfig) {
  std::string config = server_.dir().WriteFile("pod.json", R"({
    "metadata": {"name": "nginx-sandbox", "namespace": "default",
                 "attempt": 1, "uid": "hdishd83djaidwnduwk28bcsb"},
    "hostname": "web",
    "log_directory": "/tmp/pod-logs",
    "dns_config": {"servers": ["10.0.0.10"]},
    "port_mappings": [{"protocol": "TCP", "container_port": 80,
                       "host_port": 8080}],
    "labels": {"app": "nginx"},
    "annotations": {"note": "x"},
    "linux": {"cgroupParent": "/kubepods/pod1",
              "security_context": {"namespace_options": {"network": 2}}},
    "a_field_from_the_future": true
  })");
  Result r = Ctl({"runp", "--runtime", "runc", config});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "f00dfeedcafe0123456789abcdef\n");

  std::optional<v1::RunPodSandboxRequest> sent =
      server_.runtime().last_run_pod_sandbox();
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->runtime_handler(), "runc");
  const v1::PodSandboxConfig& pod = sent->config();
  EXPECT_EQ(pod.metadata().name(), "nginx-sandbox");
  EXPECT_EQ(pod.metadata().namespace_(), "default");
  EXPECT_EQ(pod.metadata().uid(), "hdishd83djaidwnduwk28bcsb");
  EXPECT_EQ(pod.metadata().attempt(), 1u);
  EXPECT_EQ(pod.hostname(), "web");
  EXPECT_EQ(pod.log_directory(), "/tmp/pod-logs");
  ASSERT_EQ(pod.dns_config().servers_size(), 1);
  EXPECT_EQ(pod.dns_config().servers(0), "10.0.0.10");
  ASSERT_EQ(pod.port_mappings_size(), 1);
  EXPECT_EQ(pod.port_mappings(0).container_port(), 80);
  EXPECT_EQ(pod.port_mappings(0).host_port(), 8080);
  EXPECT_EQ(pod.labels().at("app"), "nginx");
  EXPECT_EQ(pod.annotations().at("note"), "x");
  EXPECT_EQ(pod.linux().cgroup_parent(), "/kubepods/pod1");
  EXPECT_EQ(pod.linux().security_context().namespace_options().network(),
            v1::NODE);
}

TEST_F(CriusctlTest, RunpReportsABadConfigFile) {
  std::string config = server_.dir().WriteFile("bad.json", "{not json");
  Result r = Ctl({"runp", config});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.json"));
  EXPECT_FALSE(server_.runtime().last_run_pod_sandbox().has_value());
}

TEST_F(CriusctlTest, ExecPropagatesTheExitCodeAndSplitsStreams) {
  Result r = Ctl({"exec", "-s", "c1", "exit", "3"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.out, "ran: exit 3\n");
  EXPECT_EQ(r.err, "to stderr\n");
}

TEST_F(CriusctlTest, ExecPassesCommandFlagsThrough) {
  Result r = Ctl({"exec", "-s", "--timeout", "5", "c1", "sh", "-c", "echo hi"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::optional<v1::ExecSyncRequest> sent = server_.runtime().last_exec_sync();
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->container_id(), "c1");
  EXPECT_THAT(sent->cmd(), ::testing::ElementsAre("sh", "-c", "echo hi"));
  EXPECT_EQ(sent->timeout(), 5);
}

TEST_F(CriusctlTest, InteractiveSyncExecIsRefused) {
  Result r = Ctl({"exec", "-s", "-it", "c1", "sh"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("ExecSync"));
}

constexpr char kLog[] =
    "2024-01-02T03:04:05.000000001Z stdout P hello, \n"
    "2024-01-02T03:04:05.000000002Z stderr F an error\n"
    "2024-01-02T03:04:05.000000003Z stdout F world\n"
    "2024-01-02T03:04:05.000000004Z stdout F \n"
    "2024-01-02T03:04:05.000000005Z stdout F last line\n";

TEST_F(CriusctlTest, LogsJoinsPartialsAndSplitsStreams) {
  server_.runtime().SetLogPath(server_.dir().WriteFile("c1.log", kLog));
  Result r = Ctl({"logs", "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n\nlast line\n");
  EXPECT_EQ(r.err, "an error\n");
}

TEST_F(CriusctlTest, LogsTailCountsJoinedLines) {
  server_.runtime().SetLogPath(server_.dir().WriteFile("c1.log", kLog));
  Result r = Ctl({"logs", "--tail", "3", "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hello, world\n\nlast line\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Ctl({"logs", "--tail=1", "c1"}).out, "last line\n");
}

TEST_F(CriusctlTest, LogsTimestampsShowTheFirstChunksTime) {
  server_.runtime().SetLogPath(server_.dir().WriteFile("c1.log", kLog));
  Result r = Ctl({"logs", "-t", "--tail", "3", "c1"});
  EXPECT_THAT(r.out,
              StartsWith("2024-01-02T03:04:05.000000001Z hello, world\n"));
}

TEST_F(CriusctlTest, LogsFollowReadsUntilTheContainerExits) {
  std::string path =
      server_.dir().WriteFile("c1.log",
                              "2024-01-02T03:04:05Z stdout F first\n"
                              "2024-01-02T03:04:06Z stdout P par\n");
  server_.runtime().SetLogPath(path);
  // Call 1 finds the log path; later calls come from the follow loop once
  // it has drained the file. The second appends to the log, the third
  // reports the exit that ends the loop.
  server_.runtime().SetContainerStates(
      {v1::CONTAINER_RUNNING, v1::CONTAINER_RUNNING, v1::CONTAINER_EXITED});
  server_.runtime().OnContainerStatus([path](int call) {
    if (call == 2) {
      std::ofstream(path, std::ios::app)
          << "2024-01-02T03:04:07Z stdout F tial\n"
          << "2024-01-02T03:04:08Z stderr F bye\n";
    }
  });
  Result r = Ctl({"logs", "-f", "c1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "first\npartial\n");
  EXPECT_EQ(r.err, "bye\n");
  EXPECT_EQ(server_.runtime().container_status_calls(), 3);
}

TEST_F(CriusctlTest, UnimplementedRpcPrintsTheServersMessage) {
  Result r = Ctl({"images"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("UNIMPLEMENTED"));
  EXPECT_THAT(r.err, HasSubstr(FakeImageService::kListImagesMessage));
}

TEST_F(CriusctlTest, UnknownCommandIsAUsageError) {
  Result r = Ctl({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("unknown command \"frobnicate\""));
}

TEST_F(CriusctlTest, WrongArgumentCountIsAUsageError) {
  Result r = Ctl({"create", "pod-only"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("criusctl create --help"));
}

TEST(CriusctlStandaloneTest, HelpGoesToStdout) {
  Result r = RunCtl({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Usage: criusctl"));
  EXPECT_THAT(r.out, HasSubstr("inspecti"));
  Result sub = RunCtl({"logs", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_THAT(sub.out, HasSubstr("--tail"));
}

TEST(CriusctlStandaloneTest, MissingSocketFailsFast) {
  testing::TempDir dir;
  Result r =
      RunCtl({"-r", "unix://" + dir.path() + "/missing.sock", "version"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(r.err, HasSubstr("missing.sock"));
}

v1::PodSandbox Pod(std::string id, std::string name, std::string ns,
                   absl::Time created) {
  v1::PodSandbox pod;
  pod.set_id(std::move(id));
  pod.mutable_metadata()->set_name(std::move(name));
  pod.mutable_metadata()->set_namespace_(std::move(ns));
  pod.set_state(v1::SANDBOX_READY);
  pod.set_created_at(absl::ToUnixNanos(created));
  return pod;
}

TEST_F(CriusctlTest, PodsTableNewestFirst) {
  absl::Time now = absl::Now();
  server_.runtime().SetPods(
      {Pod("aaaaaaaaaaaaaaaaaaaa", "older", "default", now - absl::Hours(3)),
       Pod("bbbbbbbbbbbbbbbbbbbb", "newer", "kube-system",
           now - absl::Minutes(5))});
  Result r = Ctl({"pods"});
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  ASSERT_GE(lines.size(), 3u);
  EXPECT_THAT(lines[0], StartsWith("POD ID              CREATED"));
  EXPECT_THAT(lines[0], ::testing::EndsWith("RUNTIME"));
  EXPECT_THAT(lines[1], StartsWith("bbbbbbbbbbbbb       5 minutes ago"));
  EXPECT_THAT(lines[1], HasSubstr("Ready"));
  EXPECT_THAT(lines[1], HasSubstr("kube-system"));
  EXPECT_THAT(lines[1], ::testing::EndsWith("(default)"));
  EXPECT_THAT(lines[2], StartsWith("aaaaaaaaaaaaa       3 hours ago"));
}

TEST_F(CriusctlTest, PodsFiltersReachTheServerOrApplyLocally) {
  absl::Time now = absl::Now();
  server_.runtime().SetPods({Pod("aaaa", "web-1", "default", now),
                             Pod("bbbb", "db-1", "default", now)});
  Result r = Ctl({"pods", "-q", "--name", "^web", "--label", "app=web",
                  "--state", "Ready"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "aaaa\n");
  std::optional<v1::ListPodSandboxRequest> sent =
      server_.runtime().last_list_pod_sandbox();
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->filter().label_selector().at("app"), "web");
  EXPECT_EQ(sent->filter().state().state(), v1::SANDBOX_READY);
}

TEST_F(CriusctlTest, InfoEmbedsJsonInfoValues) {
  Result r = Ctl({"info"});
  EXPECT_EQ(r.code, 0) << r.err;
  nlohmann::ordered_json info = nlohmann::ordered_json::parse(r.out);
  ASSERT_TRUE(info.is_object());
  EXPECT_EQ(info.begin().key(), "status");
  EXPECT_EQ(info["status"]["conditions"][0]["type"], "RuntimeReady");
  EXPECT_EQ(info["config"]["b"], 2);
  EXPECT_EQ(info["config"]["a"][1], "x");
  EXPECT_EQ(info["note"], "plain text, not JSON");
}

}  // namespace
}  // namespace crius::client
