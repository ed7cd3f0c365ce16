// The systemd cgroup driver against a real systemd: runs only where systemd
// is PID 1 on cgroup v2 and criusd runs as criusd.service with the systemd
// cgroup manager, i.e. inside the test VM. By hand (it is not in ctest):
//   test/vm/systemd.sh
// For runc and for crun: the pod's slice appears as a transient unit and in
// the cgroup tree, the container runs in crius-<id>.scope with its memory
// limit in memory.max (and an updated one), the pod slice resized by
// UpdatePodSandboxResources, its conmon in crius-conmon-<id>.scope, stats come
// from the scope, `systemctl restart criusd` keeps the container running,
// and removal leaves no slice and no scope behind.

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cri_client.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"

namespace crius::testing {
namespace {

using runtime::v1::ContainerState;

constexpr char kEndpoint[] = "unix:///run/crius/crius.sock";
constexpr int64_t kMemoryLimit = 64 << 20;
// TCG runs everything ~15x slower than the host.
constexpr absl::Duration kWait = absl::Minutes(2);

std::string Systemctl(const std::vector<std::string>& args) {
  auto r = RunTool("systemctl", args);
  // is-active exits non-zero for an inactive unit: its stdout still says so.
  return std::string(absl::StripAsciiWhitespace(r.ok() ? r->stdout_data : ""));
}

std::string UnitState(const std::string& unit) { return Systemctl({"is-active", unit}); }

bool UnitGone(const std::string& unit) {
  const std::string state = UnitState(unit);
  return state == "inactive" || state == "unknown" || state.empty();
}

std::string CgroupFile(const std::string& dir, const std::string& file) {
  auto text = ReadFile(JoinPath("/sys/fs/cgroup", dir, file));
  return text.ok() ? std::string(absl::StripAsciiWhitespace(*text)) : "";
}

class SystemdE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!SystemdIsInit() || !PathExists("/sys/fs/cgroup/cgroup.controllers")) {
      GTEST_SKIP() << "needs systemd as PID 1 on cgroup v2 (run test/vm/systemd.sh)";
    }
    Connect();
    auto rc = client_->RuntimeConfig();
    ASSERT_TRUE(rc.ok()) << rc.status();
    ASSERT_EQ(rc->linux().cgroup_driver(), runtime::v1::CgroupDriver::SYSTEMD)
        << "criusd.service must use the systemd cgroup manager";
    auto reg = RegistryFixture::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    registry_ = std::move(*reg);
    auto image = registry_->PushBusybox("e2e/busybox:v1");
    ASSERT_TRUE(image.ok()) << image.status();
    image_ = *image;
    runtime::v1::PullImageRequest pull;
    pull.mutable_image()->set_image(image_);
    ASSERT_TRUE(client_->PullImage(pull).ok());
  }

  void Connect() {
    auto c = client::CriClient::Connect(kEndpoint, kWait);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
  }

  static bool PathExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

  std::unique_ptr<client::CriClient> client_;
  std::unique_ptr<RegistryFixture> registry_;
  std::string image_;
};

TEST_P(SystemdE2E, PodSliceContainerScopeRestartAndCleanRemoval) {
  const std::string handler = GetParam();
  // kubelet's systemd names: the pod uid with '_' for '-'.
  const std::string uid = absl::StrCat("e2e_", handler, "_", ::getpid());
  const std::string slice = absl::StrCat("kubepods-besteffort-pod", uid, ".slice");
  const std::string slice_dir = absl::StrCat("/kubepods.slice/kubepods-besteffort.slice/", slice);

  runtime::v1::PodSandboxConfig pod = PodConfig("systemd-" + handler, uid);
  auto* ns = pod.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(runtime::v1::NODE);
  ns->set_pid(runtime::v1::POD);  // the pod's infra process gets a scope too
  pod.mutable_linux()->set_cgroup_parent(slice);
  pod.set_log_directory(absl::StrCat("/var/log/crius-e2e-", uid));
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  run.set_runtime_handler(handler);
  auto ran = client_->RunPodSandbox(run);
  ASSERT_TRUE(ran.ok()) << ran.status();
  const std::string pod_id = ran->pod_sandbox_id();
  EXPECT_EQ(UnitState(slice), "active");
  EXPECT_TRUE(PathExists(JoinPath("/sys/fs/cgroup", slice_dir)));
  const std::string infra_scope = absl::StrCat("crius-infra-", pod_id.substr(0, 12), ".scope");
  EXPECT_EQ(UnitState(infra_scope), "active");

  // A cgroupfs parent is refused while the systemd manager is in use.
  runtime::v1::RunPodSandboxRequest bad = run;
  bad.mutable_config()->mutable_metadata()->set_name("systemd-bad-" + handler);
  bad.mutable_config()->mutable_linux()->set_cgroup_parent("/kubepods/pod" + uid);
  auto refused = client_->RunPodSandbox(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();

  runtime::v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_id);
  *create.mutable_sandbox_config() = pod;
  auto* c = create.mutable_config();
  c->mutable_metadata()->set_name("sleeper");
  c->mutable_image()->set_image(image_);
  for (const char* a : {"sleep", "3600"}) c->add_command(a);
  c->set_log_path("sleeper.log");
  c->mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(kMemoryLimit);
  auto created = client_->CreateContainer(create);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string id = created->container_id();
  runtime::v1::StartContainerRequest start;
  start.set_container_id(id);
  ASSERT_TRUE(client_->StartContainer(start).ok());

  const std::string scope = absl::StrCat("crius-", id, ".scope");
  const std::string conmon_scope = absl::StrCat("crius-conmon-", id, ".scope");
  // crun (on cgroup v2) runs the container in a "container" sub-cgroup of
  // its scope (its run.oci.systemd.subgroup default); runc in the scope.
  std::string scope_dir = JoinPath(slice_dir, scope);
  if (PathExists(JoinPath("/sys/fs/cgroup", scope_dir, "container"))) {
    scope_dir = JoinPath(scope_dir, "container");
  }
  EXPECT_EQ(UnitState(scope), "active");
  EXPECT_EQ(CgroupFile(scope_dir, "memory.max"), std::to_string(kMemoryLimit));
  EXPECT_EQ(UnitState(conmon_scope), "active");
  EXPECT_FALSE(CgroupFile(JoinPath(slice_dir, conmon_scope), "cgroup.procs").empty());
  const std::string procs_before = CgroupFile(scope_dir, "cgroup.procs");
  EXPECT_FALSE(procs_before.empty());

  // UpdateContainerResources goes through `runc|crun --systemd-cgroup update`.
  runtime::v1::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  update.mutable_linux()->set_memory_limit_in_bytes(2 * kMemoryLimit);
  ASSERT_TRUE(client_->UpdateContainerResources(update).ok());
  EXPECT_EQ(CgroupFile(scope_dir, "memory.max"), std::to_string(2 * kMemoryLimit));

  // UpdatePodSandboxResources sets the pod slice's properties over D-Bus
  // (MemoryMax, CPUQuotaPerSecUSec, CPUWeight): resources plus overhead.
  runtime::v1::UpdatePodSandboxResourcesRequest resize;
  resize.set_pod_sandbox_id(pod_id);
  resize.mutable_resources()->set_memory_limit_in_bytes(256 << 20);
  resize.mutable_resources()->set_cpu_quota(50000);
  resize.mutable_resources()->set_cpu_period(100000);
  resize.mutable_resources()->set_cpu_shares(512);
  resize.mutable_overhead()->set_memory_limit_in_bytes(32 << 20);
  resize.mutable_overhead()->set_cpu_quota(10000);
  resize.mutable_overhead()->set_cpu_shares(100);
  auto resized = client_->UpdatePodSandboxResources(resize);
  ASSERT_TRUE(resized.ok()) << resized.status();
  EXPECT_EQ(CgroupFile(slice_dir, "memory.max"), std::to_string(288 << 20));
  EXPECT_EQ(CgroupFile(slice_dir, "cpu.max"), "60000 100000");
  EXPECT_EQ(CgroupFile(slice_dir, "cpu.weight"), "24");  // runc's weight for 612 shares
  // Below what the running container uses: refused, the slice unchanged.
  runtime::v1::UpdatePodSandboxResourcesRequest too_small = resize;
  too_small.clear_overhead();
  too_small.mutable_resources()->set_memory_limit_in_bytes(4096);
  auto refused_resize = client_->UpdatePodSandboxResources(too_small);
  EXPECT_EQ(refused_resize.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused_resize.status();
  EXPECT_EQ(CgroupFile(slice_dir, "memory.max"), std::to_string(288 << 20));

  // Stats are read from the scope's cgroup.
  runtime::v1::ContainerStatsRequest stats;
  stats.set_container_id(id);
  auto st = client_->ContainerStats(stats);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_GT(st->stats().memory().working_set_bytes().value(), 0u);

  // A restart of the unit kills criusd alone (KillMode=process): the
  // container and its conmon carry on, and the new criusd finds them.
  ASSERT_EQ(RunTool("systemctl", {"restart", "criusd.service"}).status(), absl::OkStatus());
  Connect();
  ASSERT_TRUE(WaitUntil([&] { return client_->Version().ok(); }, kWait));
  runtime::v1::ContainerStatusRequest status;
  status.set_container_id(id);
  auto after = client_->ContainerStatus(status);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status().state(), runtime::v1::CONTAINER_RUNNING);
  EXPECT_EQ(CgroupFile(scope_dir, "cgroup.procs"), procs_before);
  EXPECT_EQ(UnitState(conmon_scope), "active");
  runtime::v1::PodSandboxStatusRequest pod_status;
  pod_status.set_pod_sandbox_id(pod_id);
  auto ps = client_->PodSandboxStatus(pod_status);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_EQ(ps->status().state(), runtime::v1::SANDBOX_READY);
  // The resize is in the pod's record, and the slice kept it.
  auto inspected = InspectPod(*client_, pod_id);
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  ASSERT_TRUE(inspected->info.contains("resources")) << inspected->info.dump();
  EXPECT_EQ(inspected->info["resources"].value("memoryLimitInBytes", int64_t{0}), 256 << 20);
  EXPECT_EQ(CgroupFile(slice_dir, "memory.max"), std::to_string(288 << 20));

  runtime::v1::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(1);
  ASSERT_TRUE(client_->StopContainer(stop).ok());
  runtime::v1::RemoveContainerRequest rm;
  rm.set_container_id(id);
  ASSERT_TRUE(client_->RemoveContainer(rm).ok());
  runtime::v1::StopPodSandboxRequest stopp;
  stopp.set_pod_sandbox_id(pod_id);
  ASSERT_TRUE(client_->StopPodSandbox(stopp).ok());
  runtime::v1::RemovePodSandboxRequest rmp;
  rmp.set_pod_sandbox_id(pod_id);
  ASSERT_TRUE(client_->RemovePodSandbox(rmp).ok());

  // RemovePodSandbox waits for the slice to stop; the scopes go when empty.
  EXPECT_TRUE(UnitGone(slice)) << UnitState(slice);
  EXPECT_FALSE(PathExists(JoinPath("/sys/fs/cgroup", slice_dir)));
  EXPECT_TRUE(WaitUntil(
      [&] { return UnitGone(scope) && UnitGone(conmon_scope) && UnitGone(infra_scope); }, kWait))
      << UnitState(scope) << " " << UnitState(conmon_scope) << " " << UnitState(infra_scope);
  const std::string left = Systemctl(
      {"list-units", "--all", "--no-legend", "--plain", "crius-*.scope", "kubepods-*pod*.slice"});
  EXPECT_EQ(left, "") << left;
  (void)RemoveAll(pod.log_directory());
}

INSTANTIATE_TEST_SUITE_P(Handlers, SystemdE2E, ::testing::Values("runc", "crun"));

}  // namespace
}  // namespace crius::testing
