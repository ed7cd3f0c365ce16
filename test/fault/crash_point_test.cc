// criusd killed at each of its crash points (common/failpoint.h) in the
// middle of a kubelet-shaped pod life: a pod on a bridge network, an image
// pulled from a registry on loopback, one container created, started,
// stopped and removed, then the pod stopped and removed. When a call dies
// with the daemon, the daemon is started again (as systemd would) and the
// call is retried the way kubelet does: the same names, the same attempt,
// after a relist. The life must then finish, the container must have run,
// and nothing may be left on the node: no netns, veth, mount, host-local IP,
// iptables rule, conmon/runc/pause process, cgroup, record or state file,
// neither of the pod that finally ran nor of anything the crash
// interrupted. Needs root, runc, conmon and the CNI plugins.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/failpoint.h"
#include "common/files.h"
#include "common/proc_stat.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/e2e/sandbox_util.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using ::testing::IsEmpty;

std::vector<std::string> JsonIdsIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  }
  return out;
}

std::vector<std::string> EntriesOf(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().string());
  return out;
}

// Live processes that still belong to the test: their command line names
// the daemon's temp dir (conmon, runc, a plugin) or they sit in the test's
// cgroup tree (a container's init, the pod's pause process).
std::vector<std::string> ProcessesOf(const std::string& dir, const std::string& cgroup_root) {
  std::vector<std::string> out;
  std::error_code ec;
  const std::string self = std::to_string(::getpid());
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    int n = 0;
    if (!absl::SimpleAtoi(pid, &n) || pid == self) continue;
    // A zombie holds nothing: it is a process that was ended (e.g. the
    // pod's pause process, orphaned to the slow-reaping PID 1 by the crash).
    auto stat = ReadProcStat(n);
    if (!stat.ok() || stat->state == 'Z' || stat->state == 'X') continue;
    auto cmdline = ReadFile("/proc/" + pid + "/cmdline", 1 << 16);
    auto cgroup = ReadFile("/proc/" + pid + "/cgroup", 1 << 16);
    if (!cmdline.ok()) continue;
    // The daemon itself is the test's, and ends with it.
    if ((absl::StrContains(*cmdline, dir) && !absl::StrContains(*cmdline, "criusd")) ||
        (cgroup.ok() && absl::StrContains(*cgroup, cgroup_root + "/"))) {
      std::string shown = *cmdline;
      std::replace(shown.begin(), shown.end(), '\0', ' ');
      out.push_back(pid + ": " + shown);
    }
  }
  return out;
}

class CrashPoint : public ::testing::TestWithParam<std::string_view> {
 protected:
  void SetUp() override {
    if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
    ASSERT_TRUE(net_.subnet().ok());
    auto reg = RegistryFixture::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    registry_ = std::move(*reg);
    auto image = registry_->PushBusybox("crash/busybox:v1");
    ASSERT_TRUE(image.ok()) << image.status();
    image_ = *image;

    d_.extra_env = {absl::StrCat("CRIUS_FAILPOINT=", AbslView(GetParam()))};
    ASSERT_TRUE(d_.Start().ok()) << d_.Log();
    ASSERT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
  }

  // Runs `call` as kubelet would: if the daemon died in it, the daemon is
  // restarted without the failpoint and, unless `settled` says the crash
  // already did the work, the same call is made again.
  template <typename Response>
  absl::StatusOr<Response> AsKubelet(const std::function<absl::StatusOr<Response>()>& call,
                                     const std::function<bool()>& settled = nullptr) {
    absl::StatusOr<Response> r = call();
    if (r.ok() || !Crashed()) return r;
    if (settled && settled()) return Response();
    return call();
  }

  // Whether the daemon died at the armed point; if so it is running again.
  bool Crashed() {
    if (!WaitUntil([&] { return !d_.Running(); }, absl::Seconds(5))) return false;
    EXPECT_FALSE(crashed_) << "the daemon died twice";
    crashed_ = true;
    EXPECT_TRUE(absl::StrContains(d_.Log(), absl::StrCat("failpoint ", AbslView(GetParam()), " reached"))) << d_.Log();
    // What the crash interrupted, to be checked for leftovers at the end.
    for (auto& id : JsonIdsIn(d_.root_dir() + "/sandboxes")) interrupted_pods_.insert(id);
    d_.extra_env.clear();
    EXPECT_TRUE(d_.Start().ok()) << d_.Log();
    EXPECT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
    return true;
  }

  absl::StatusOr<runtime::v1::ContainerStatus> ContainerStatus(const std::string& id) {
    runtime::v1::ContainerStatusRequest req;
    req.set_container_id(id);
    auto r = d_.client().ContainerStatus(req);
    if (!r.ok()) return r.status();
    return r->status();
  }

  void ExpectNothingLeft() {
    for (const auto& id : interrupted_pods_) {
      PodFootprint f;
      f.id = id;
      f.netns_path = "/run/netns/crius-" + id.substr(0, 16);
      f.pod_dir = d_.state_dir() + "/pods/" + id;
      f.record_file = d_.root_dir() + "/sandboxes/" + id + ".json";
      f.cache_dir = d_.dir() + "/cni-cache";
      EXPECT_THAT(Leftovers(d_, f), IsEmpty()) << "of the interrupted pod " << id;
    }
    EXPECT_THAT(Leftovers(d_, final_pod_), IsEmpty());
    EXPECT_THAT(net_.ReservedIps(), IsEmpty());
    EXPECT_THAT(net_.BridgePorts(), IsEmpty());
    EXPECT_THAT(MountsUnder(d_.dir() + "/"), IsEmpty());
    EXPECT_THAT(cgroups_.Existing(), IsEmpty());
    EXPECT_THAT(ProcessesOf(d_.dir(), cgroups_.path()), IsEmpty());
    EXPECT_THAT(JsonIdsIn(d_.root_dir() + "/sandboxes"), IsEmpty());
    EXPECT_THAT(JsonIdsIn(d_.root_dir() + "/containers"), IsEmpty());
    EXPECT_THAT(EntriesOf(d_.state_dir() + "/pods"), IsEmpty());
    EXPECT_THAT(EntriesOf(d_.state_dir() + "/containers"), IsEmpty());
    EXPECT_THAT(EntriesOf(d_.state_dir() + "/runc"), IsEmpty());
    EXPECT_THAT(EntriesOf(d_.dir() + "/cni-cache/results"), IsEmpty());
    auto pods = d_.client().ListPodSandbox();
    ASSERT_TRUE(pods.ok()) << pods.status();
    EXPECT_EQ(pods->items_size(), 0);
    auto ctrs = d_.client().ListContainers();
    ASSERT_TRUE(ctrs.ok()) << ctrs.status();
    EXPECT_EQ(ctrs->containers_size(), 0);
  }

  void Life();

  TestDaemon d_;
  BridgeNetwork net_{d_, /*portmap=*/false};
  TestCgroupRoot cgroups_;
  PodReaper reaper_{d_};
  std::unique_ptr<RegistryFixture> registry_;
  std::string image_;
  bool crashed_ = false;
  std::set<std::string> interrupted_pods_;
  PodFootprint final_pod_;
};

void CrashPoint::Life() {
  using namespace runtime::v1;
  runtime::v1::PodSandboxConfig pod = PodConfig("crash");
  pod.mutable_linux()->set_cgroup_parent(cgroups_.PodParent(pod.metadata().uid()));
  pod.set_log_directory(d_.dir() + "/logs");

  RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  auto ran = AsKubelet<RunPodSandboxResponse>([&] { return d_.client().RunPodSandbox(run, absl::Minutes(4)); });
  ASSERT_TRUE(ran.ok()) << ran.status() << d_.Log();
  const std::string pod_id = ran->pod_sandbox_id();
  reaper_.Add(pod_id);
  auto fp = FootprintOf(d_, pod_id, &net_, &cgroups_);
  ASSERT_TRUE(fp.ok()) << fp.status();
  final_pod_ = *fp;

  PullImageRequest pull;
  pull.mutable_image()->set_image(image_);
  auto pulled = AsKubelet<PullImageResponse>([&] { return d_.client().PullImage(pull); });
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d_.Log();

  CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_id);
  *create.mutable_sandbox_config() = pod;
  auto* c = create.mutable_config();
  c->mutable_metadata()->set_name("app");
  c->mutable_image()->set_image(image_);
  c->add_command("sleep");
  c->add_command("3600");
  c->set_log_path("app/0.log");
  c->mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20);
  auto created = AsKubelet<CreateContainerResponse>([&] { return d_.client().CreateContainer(create); });
  ASSERT_TRUE(created.ok()) << created.status() << d_.Log();
  const std::string ctr = created->container_id();

  StartContainerRequest start;
  start.set_container_id(ctr);
  // A start that reached the runtime before the crash: kubelet's relist
  // shows the container running and it is not started again.
  auto started = AsKubelet<StartContainerResponse>([&] { return d_.client().StartContainer(start); }, [&] {
    auto st = ContainerStatus(ctr);
    return st.ok() && st->state() == CONTAINER_RUNNING;
  });
  ASSERT_TRUE(started.ok()) << started.status() << d_.Log();
  ASSERT_TRUE(WaitUntil([&] {
    auto st = ContainerStatus(ctr);
    return st.ok() && st->state() == CONTAINER_RUNNING;
  })) << "the container never ran: " << ContainerStatus(ctr).status() << d_.Log();

  StopContainerRequest stop;
  stop.set_container_id(ctr);
  stop.set_timeout(1);
  auto stopped = AsKubelet<StopContainerResponse>([&] { return d_.client().StopContainer(stop); });
  ASSERT_TRUE(stopped.ok()) << stopped.status() << d_.Log();
  auto st = ContainerStatus(ctr);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state(), CONTAINER_EXITED);

  RemoveContainerRequest rm;
  rm.set_container_id(ctr);
  auto removed = AsKubelet<RemoveContainerResponse>([&] { return d_.client().RemoveContainer(rm); });
  ASSERT_TRUE(removed.ok()) << removed.status() << d_.Log();

  StopPodSandboxRequest stopp;
  stopp.set_pod_sandbox_id(pod_id);
  auto pod_stopped = AsKubelet<StopPodSandboxResponse>([&] { return d_.client().StopPodSandbox(stopp); });
  ASSERT_TRUE(pod_stopped.ok()) << pod_stopped.status() << d_.Log();

  RemovePodSandboxRequest rmp;
  rmp.set_pod_sandbox_id(pod_id);
  auto pod_removed = AsKubelet<RemovePodSandboxResponse>([&] { return d_.client().RemovePodSandbox(rmp); });
  ASSERT_TRUE(pod_removed.ok()) << pod_removed.status() << d_.Log();
}

TEST_P(CrashPoint, KubeletRetriesFinishThePodLifeAndNothingIsLeft) {
  Life();
  EXPECT_TRUE(crashed_) << "the daemon never reached failpoint " << GetParam() << d_.Log();
  ExpectNothingLeft();
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, CrashPoint, ::testing::ValuesIn(failpoint::AllNames()),
                         [](const ::testing::TestParamInfo<std::string_view>& info) {
                           std::string name(info.param);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Every point the daemon knows is one criusd --list-failpoints prints, so a
// test script can arm them by name.
TEST(CrashPointList, ListFailpointsPrintsEveryName) {
  TestDaemon d;
  d.extra_flags = {"--list-failpoints"};
  auto st = d.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << d.Log();
  std::vector<std::string> printed = absl::StrSplit(d.Log(), '\n', absl::SkipEmpty());
  std::vector<std::string> expected;
  for (auto n : failpoint::AllNames()) expected.emplace_back(n);
  EXPECT_EQ(printed, expected);
}

TEST(CrashPointList, AMisspeltFailpointRefusesToStart) {
  TestDaemon d;
  d.extra_env = {"CRIUS_FAILPOINT=run-pod-after-cni-addd"};
  auto st = d.RunToExit();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2) << d.Log();
  EXPECT_TRUE(absl::StrContains(d.Log(), "run-pod-after-cni-addd")) << d.Log();
}

}  // namespace
}  // namespace crius::testing
