// The daemon as kubelet and crictl first meet it: socket, Version, Status,
// RuntimeConfig, validation, UNIMPLEMENTED for what is not built, config
// errors, a second daemon refused and a clean SIGTERM.

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "test/support/http_get.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using runtime::v1::RuntimeCondition;

constexpr char kBridgeConflist[] = R"({
  "cniVersion": "1.0.0",
  "name": "e2e-net",
  "plugins": [
    {"type": "bridge", "bridge": "e2e0", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.250.0/24"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
})";

const RuntimeCondition* FindCondition(const runtime::v1::StatusResponse& resp, const std::string& type) {
  for (const auto& c : resp.status().conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

// A unix socket file left behind by a process that died: bound, never
// listened on, its fd closed.
void MakeStaleSocket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
}

TEST(DaemonE2E, VersionFillsAllFourFields) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto v = d.client().Version();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->version(), "0.1.0");
  EXPECT_EQ(v->runtime_name(), "crius");
  EXPECT_EQ(v->runtime_version(), CRIUS_TEST_VERSION);
  EXPECT_EQ(v->runtime_api_version(), "v1");
}

TEST(DaemonE2E, SocketIsCreatedWithMode0660InANewDirectory) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  struct stat st;
  ASSERT_EQ(::stat(d.socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(DaemonE2E, NetworkReadyFollowsTheCniConfigDir) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();

  auto status = d.client().Status(false);
  ASSERT_TRUE(status.ok()) << status.status();
  const RuntimeCondition* runtime_ready = FindCondition(*status, "RuntimeReady");
  ASSERT_NE(runtime_ready, nullptr);
  EXPECT_TRUE(runtime_ready->status()) << runtime_ready->message();
  const RuntimeCondition* net = FindCondition(*status, "NetworkReady");
  ASSERT_NE(net, nullptr);
  EXPECT_FALSE(net->status());
  EXPECT_EQ(net->reason(), "NetworkPluginNotReady");
  EXPECT_TRUE(absl::StrContains(net->message(), d.cni_conf_dir())) << net->message();

  // An invalid file does not make the network ready; a valid one does, as
  // soon as criusd has noticed it (it watches the directory).
  WriteTestFile(d.cni_conf_dir() + "/05-broken.conflist", "{not json");
  WriteTestFile(d.cni_conf_dir() + "/10-e2e.conflist", kBridgeConflist);
  auto network_ready = [&]() -> std::optional<RuntimeCondition> {
    auto s = d.client().Status(false);
    if (!s.ok() || FindCondition(*s, "NetworkReady") == nullptr) return std::nullopt;
    return *FindCondition(*s, "NetworkReady");
  };
  std::optional<RuntimeCondition> cond;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    cond = network_ready();
    if (cond && cond->status()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(cond.has_value());
  EXPECT_TRUE(cond->status()) << cond->reason() << ": " << cond->message();
  EXPECT_TRUE(cond->reason().empty());

  // Removing the last valid file makes it not ready again.
  ASSERT_EQ(::unlink((d.cni_conf_dir() + "/10-e2e.conflist").c_str()), 0);
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    cond = network_ready();
    if (cond && !cond->status()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(cond.has_value());
  EXPECT_FALSE(cond->status());
  EXPECT_EQ(cond->reason(), "NetworkPluginNotReady");
}

TEST(DaemonE2E, RuntimeNotReadyWhenTheRuntimeBinaryIsMissing) {
  TestDaemon d;
  WriteTestFile(d.config_dir() + "/10-runc.yaml",
                "runtime:\n  handlers:\n    runc:\n      path: /nonexistent/runc\n");
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto status = d.client().Status(false);
  ASSERT_TRUE(status.ok());
  const RuntimeCondition* c = FindCondition(*status, "RuntimeReady");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->status());
  EXPECT_EQ(c->reason(), "RuntimeNotReady");
  EXPECT_TRUE(absl::StrContains(c->message(), "/nonexistent/runc")) << c->message();
}

TEST(DaemonE2E, VerboseStatusCarriesTheEffectiveConfigAsJson) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto status = d.client().Status(true);
  ASSERT_TRUE(status.ok());
  auto it = status->info().find("config");
  ASSERT_NE(it, status->info().end());
  auto cfg = nlohmann::json::parse(it->second, nullptr, false);
  ASSERT_FALSE(cfg.is_discarded()) << it->second;
  EXPECT_EQ(cfg["listen"], d.endpoint());
  EXPECT_EQ(cfg["root"], d.root_dir());
  EXPECT_EQ(cfg["cni"]["conf_dir"], d.cni_conf_dir());
  EXPECT_EQ(cfg["runtime"]["default_handler"], "runc");
}

TEST(DaemonE2E, RuntimeConfigReportsTheCgroupfsDriver) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto rc = d.client().RuntimeConfig();
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->linux().cgroup_driver(), runtime::v1::CgroupDriver::CGROUPFS);
}

TEST(DaemonE2E, SystemdCgroupManagerWithoutSystemdRefusesToStart) {
  TestDaemon d;
  // Later than the test daemon's own 00-test-cgroup-manager.yaml.
  WriteTestFile(d.config_dir() + "/10-systemd.yaml", "runtime:\n  cgroup_manager: systemd\n");
  if (SystemdIsInit()) {
    // Under systemd (the VM) the same config starts and is reported.
    ASSERT_TRUE(d.Start().ok()) << d.Log();
    auto rc = d.client().RuntimeConfig();
    ASSERT_TRUE(rc.ok()) << rc.status();
    EXPECT_EQ(rc->linux().cgroup_driver(), runtime::v1::CgroupDriver::SYSTEMD);
    return;
  }
  auto st = d.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0) << *st;
  EXPECT_TRUE(absl::StrContains(d.Log(), "systemd is not the init system")) << d.Log();
}

TEST(DaemonE2E, UpdateRuntimeConfigRecordsThePodCidr) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  runtime::v1::UpdateRuntimeConfigRequest req;
  req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.88.7.0/24");
  ASSERT_TRUE(d.client().UpdateRuntimeConfig(req).ok());
  auto status = d.client().Status(true);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->info().at("podCIDR"), "10.88.7.0/24");
}

TEST(DaemonE2E, CallsNotBuiltYetAnswerUnimplemented) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();
  runtime::v1::CheckpointContainerRequest checkpoint;
  checkpoint.set_container_id("c1");
  checkpoint.set_location("/tmp/c1.tar");
  absl::Status s = c.CheckpointContainer(checkpoint).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "not implemented")) << s;
  // UpdatePodSandboxResources is built (test/e2e/resize_test.cc): an
  // unknown pod is NOT_FOUND, no longer UNIMPLEMENTED.
  runtime::v1::UpdatePodSandboxResourcesRequest resize;
  resize.set_pod_sandbox_id("p1");
  s = c.UpdatePodSandboxResources(resize).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
}

TEST(DaemonE2E, MissingRequiredFieldsAreInvalidArgumentNamingTheField) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();

  runtime::v1::RunPodSandboxRequest run;
  auto s = c.RunPodSandbox(run).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "config is required")) << s;

  run.mutable_config()->mutable_metadata()->set_name("p");
  run.mutable_config()->mutable_metadata()->set_namespace_("default");
  s = c.RunPodSandbox(run).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "config.metadata.uid")) << s;

  s = c.ContainerStatus({}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "container_id is required")) << s;

  runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id("../../etc");
  s = c.StopPodSandbox(stop).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "pod_sandbox_id")) << s;

  s = c.PullImage({}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "image.image is required")) << s;

  runtime::v1::ExecSyncRequest exec;
  exec.set_container_id("abc");
  s = c.ExecSync(exec).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "cmd is required")) << s;
}

TEST(DaemonE2E, StaleSocketIsReplaced) {
  TestDaemon d;
  WriteTestFile(d.dir() + "/run/.keep", "");
  MakeStaleSocket(d.socket_path());
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  EXPECT_TRUE(d.client().Version().ok());
  EXPECT_TRUE(absl::StrContains(d.Log(), "stale socket")) << d.Log();
}

TEST(DaemonE2E, SecondDaemonOnTheSameStateIsRefused) {
  TestDaemon first;
  ASSERT_TRUE(first.Start().ok()) << first.Log();

  TestDaemon second;
  second.config_yaml = first.config_yaml;  // same state dir, own socket
  auto st = second.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0) << *st;
  EXPECT_TRUE(absl::StrContains(second.Log(), "another criusd")) << second.Log();
  EXPECT_TRUE(first.client().Version().ok());
}

TEST(DaemonE2E, SecondDaemonOnTheSameSocketIsRefused) {
  TestDaemon first;
  ASSERT_TRUE(first.Start().ok()) << first.Log();

  TestDaemon second;  // own state dir, but the first one's socket
  second.extra_flags = {"--listen", first.endpoint()};
  auto st = second.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0) << *st;
  EXPECT_TRUE(absl::StrContains(second.Log(), "already serving")) << second.Log();
  // The refused daemon must not have removed the live socket.
  EXPECT_TRUE(first.client().Version().ok());
}

TEST(DaemonE2E, BadConfigIsRejectedNamingFileLineAndKey) {
  TestDaemon d;
  WriteTestFile(d.config_dir() + "/50-typo.yaml", "cni:\n  conf_dri: /etc/cni/net.d\n");
  auto st = d.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0);
  const std::string log = d.Log();
  EXPECT_TRUE(absl::StrContains(log, "50-typo.yaml:2")) << log;
  EXPECT_TRUE(absl::StrContains(log, "cni.conf_dri")) << log;
  EXPECT_FALSE(::access(d.socket_path().c_str(), F_OK) == 0) << "a rejected config must not serve";
}

TEST(DaemonE2E, WrongTypeInConfigIsRejected) {
  TestDaemon d;
  WriteTestFile(d.config_dir() + "/10-size.yaml", "grpc_max_message_bytes: lots\n");
  auto st = d.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) != 0);
  EXPECT_TRUE(absl::StrContains(d.Log(), "grpc_max_message_bytes")) << d.Log();
}

TEST(DaemonE2E, SigtermExitsCleanlyAndRemovesTheSocket) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto st = d.Stop();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st)) << *st;
  EXPECT_EQ(WEXITSTATUS(*st), 0) << d.Log();
  EXPECT_NE(::access(d.socket_path().c_str(), F_OK), 0);
  // The lock is released: the same dirs start again.
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  EXPECT_TRUE(d.client().Version().ok());
}

TEST(DaemonE2E, PrintConfigShowsFlagsOverFiles) {
  TestDaemon d;
  // A drop-in sets the level; the flag must still win over it.
  WriteTestFile(d.config_dir() + "/10-level.yaml", "log_level: warn\n");
  d.extra_flags = {"--log-level", "error", "--streaming-port", "10350", "--print-config"};
  auto st = d.RunToExit();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.Log();
  const std::string out = d.Log();
  EXPECT_TRUE(absl::StrContains(out, "log_level: \"error\"")) << out;
  EXPECT_TRUE(absl::StrContains(out, "port: 10350")) << out;
  EXPECT_TRUE(absl::StrContains(out, d.root_dir())) << out;
}

}  // namespace
}  // namespace crius::testing

namespace crius::testing {
namespace {

TEST(DaemonE2E, MetricsCountEveryCriCall) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  TestDaemon d;
  WriteTestFile(d.config_dir() + "/10-metrics.yaml",
                "metrics:\n  enabled: true\n  address: 127.0.0.1:" + std::to_string(*port) + "\n");
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(d.client().RuntimeConfig().ok());
  runtime::v1::ContainerStatusRequest unknown;
  unknown.set_container_id("no-such-container");
  (void)d.client().ContainerStatus(unknown);  // a failed call counts as an error too

  auto body = HttpGet("127.0.0.1", *port, "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_TRUE(absl::StrContains(*body, "200 OK")) << *body;
  EXPECT_TRUE(absl::StrContains(*body, "crius_operations_total{operation=\"RuntimeConfig\"} 3")) << *body;
  EXPECT_TRUE(absl::StrContains(
      *body, "crius_operations_errors_total{code=\"NOT_FOUND\",operation=\"ContainerStatus\"} 1"))
      << *body;
  EXPECT_TRUE(absl::StrContains(*body, "crius_operations_latency_seconds_count{operation=\"RuntimeConfig\"} 3"))
      << *body;
}

}  // namespace
}  // namespace crius::testing
