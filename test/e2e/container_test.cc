// Containers through the daemon: real runc, conmon, overlay rootfs and
// cgroups, with an image pulled from a registry on loopback. The pods use
// the node's network so these tests need no CNI plugins.

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

using runtime::v1::ContainerState;

class ContainerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reg = RegistryFixture::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    registry_ = std::move(*reg);
    auto rootfs = BusyboxRootfs();
    ASSERT_TRUE(rootfs.ok()) << rootfs.status();
    auto img = ImageBuilder().AddLayer(*rootfs, Compression::kGzip).Cmd({"/bin/sh"}).Build();
    ASSERT_TRUE(img.ok()) << img.status();
    ASSERT_TRUE(registry_->Push(*img, "e2e/busybox:v1").ok());
    image_ = registry_->host() + "/e2e/busybox:v1";
    ASSERT_TRUE(d_.Start().ok()) << d_.Log();
    runtime::v1::PullImageRequest pull;
    pull.mutable_image()->set_image(image_);
    ASSERT_TRUE(d_.client().PullImage(pull).ok()) << d_.Log();
    pod_config_.mutable_metadata()->set_name("ctr-pod");
    pod_config_.mutable_metadata()->set_namespace_("e2e");
    pod_config_.mutable_metadata()->set_uid("uid-" + std::to_string(::getpid()));
    pod_config_.set_log_directory(d_.dir() + "/logs");
    auto* ns = pod_config_.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    ns->set_network(runtime::v1::NODE);
    if (SharedPid()) ns->set_pid(runtime::v1::POD);
    runtime::v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod_config_;
    auto pod = d_.client().RunPodSandbox(run);
    ASSERT_TRUE(pod.ok()) << pod.status() << d_.Log();
    pod_id_ = pod->pod_sandbox_id();
  }

  void TearDown() override {
    if (!pod_id_.empty() && d_.Running()) {
      runtime::v1::RemovePodSandboxRequest rm;
      rm.set_pod_sandbox_id(pod_id_);
      EXPECT_TRUE(d_.client().RemovePodSandbox(rm).ok()) << d_.Log();
    }
  }

  virtual bool SharedPid() const { return false; }

  absl::StatusOr<std::string> Create(const std::string& name, std::vector<std::string> cmd) {
    runtime::v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id_);
    *req.mutable_sandbox_config() = pod_config_;
    auto* c = req.mutable_config();
    c->mutable_metadata()->set_name(name);
    c->mutable_image()->set_image(image_);
    for (auto& a : cmd) c->add_command(a);
    c->set_log_path(name + ".log");
    auto resp = d_.client().CreateContainer(req);
    if (!resp.ok()) return resp.status();
    return resp->container_id();
  }

  absl::Status Start(const std::string& id) {
    runtime::v1::StartContainerRequest req;
    req.set_container_id(id);
    return d_.client().StartContainer(req).status();
  }

  absl::StatusOr<runtime::v1::ContainerStatus> Status(const std::string& id) {
    runtime::v1::ContainerStatusRequest req;
    req.set_container_id(id);
    auto resp = d_.client().ContainerStatus(req);
    if (!resp.ok()) return resp.status();
    return resp->status();
  }

  // Waits (with a deadline) until the container reaches `state`.
  runtime::v1::ContainerStatus WaitFor(const std::string& id, ContainerState state) {
    runtime::v1::ContainerStatus last;
    for (absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;) {
      auto st = Status(id);
      if (st.ok()) {
        last = *st;
        if (st->state() == state) return last;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "container " << id << " never reached " << ContainerState_Name(state)
                  << "; last " << last.DebugString() << d_.Log();
    return last;
  }

  std::string ReadLog(const std::string& name) {
    auto text = ReadFile(pod_config_.log_directory() + "/" + name + ".log");
    return text.ok() ? *text : "";
  }

  TestDaemon d_;
  std::unique_ptr<RegistryFixture> registry_;
  std::string image_;
  runtime::v1::PodSandboxConfig pod_config_;
  std::string pod_id_;
};

TEST_F(ContainerE2E, RunsToCompletionWithExitCodeAndCriLog) {
  auto id = Create("exits", {"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  auto created = Status(*id);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->state(), runtime::v1::CONTAINER_CREATED);
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  auto st = WaitFor(*id, runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(st.exit_code(), 3);
  EXPECT_EQ(st.reason(), "Error");
  EXPECT_GT(st.started_at(), 0);
  EXPECT_GE(st.finished_at(), st.started_at());
  EXPECT_EQ(st.image().image(), image_);
  EXPECT_TRUE(absl::StartsWith(st.image_ref(), "sha256:"));
  const std::string log = ReadLog("exits");
  EXPECT_TRUE(absl::StrContains(log, " stdout F hello\n")) << log;
  EXPECT_TRUE(absl::StrContains(log, " stderr F oops\n")) << log;

  runtime::v1::RemoveContainerRequest rm;
  rm.set_container_id(*id);
  ASSERT_TRUE(d_.client().RemoveContainer(rm).ok()) << d_.Log();
  EXPECT_EQ(Status(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(d_.client().RemoveContainer(rm).ok()) << "remove is idempotent";
}

TEST_F(ContainerE2E, ExecSyncStopAndListOfALongRunningContainer) {
  auto id = Create("sleeper", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  WaitFor(*id, runtime::v1::CONTAINER_RUNNING);

  runtime::v1::ExecSyncRequest exec;
  exec.set_container_id(*id);
  exec.add_cmd("/bin/sh");
  exec.add_cmd("-c");
  exec.add_cmd("echo out; echo err >&2; exit 7");
  auto res = d_.client().ExecSync(exec);
  ASSERT_TRUE(res.ok()) << res.status() << d_.Log();
  EXPECT_EQ(res->stdout(), "out\n");
  EXPECT_EQ(res->stderr(), "err\n");
  EXPECT_EQ(res->exit_code(), 7);

  runtime::v1::ExecSyncRequest slow;
  slow.set_container_id(*id);
  slow.add_cmd("/bin/sleep");
  slow.add_cmd("30");
  slow.set_timeout(1);
  EXPECT_EQ(d_.client().ExecSync(slow).status().code(), absl::StatusCode::kDeadlineExceeded);

  runtime::v1::ListContainersRequest list;
  list.mutable_filter()->set_pod_sandbox_id(pod_id_);
  auto listed = d_.client().ListContainers(list);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->containers_size(), 1);
  EXPECT_EQ(listed->containers(0).id(), *id);
  EXPECT_EQ(listed->containers(0).state(), runtime::v1::CONTAINER_RUNNING);

  runtime::v1::StopContainerRequest stop;
  stop.set_container_id(*id);
  stop.set_timeout(10);
  ASSERT_TRUE(d_.client().StopContainer(stop).ok()) << d_.Log();
  auto st = WaitFor(*id, runtime::v1::CONTAINER_EXITED);
  EXPECT_NE(st.exit_code(), 0);  // killed by SIGTERM
  EXPECT_TRUE(d_.client().StopContainer(stop).ok()) << "stop is idempotent";
}

TEST_F(ContainerE2E, RunningContainersSurviveADaemonCrash) {
  auto id = Create("survivor", {"/bin/sh", "-c", "echo before; sleep 1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  WaitFor(*id, runtime::v1::CONTAINER_RUNNING);
  ASSERT_TRUE(d_.Kill().ok());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  auto st = Status(*id);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state(), runtime::v1::CONTAINER_RUNNING);
  runtime::v1::ExecSyncRequest exec;
  exec.set_container_id(*id);
  exec.add_cmd("/bin/echo");
  exec.add_cmd("still here");
  auto res = d_.client().ExecSync(exec);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->stdout(), "still here\n");
}

TEST_F(ContainerE2E, AnImageInUseCannotBeRemoved) {
  auto id = Create("user", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  runtime::v1::RemoveImageRequest rmi;
  rmi.mutable_image()->set_image(image_);
  auto s = d_.client().RemoveImage(rmi).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  runtime::v1::RemoveContainerRequest rm;
  rm.set_container_id(*id);
  ASSERT_TRUE(d_.client().RemoveContainer(rm).ok()) << d_.Log();
  EXPECT_TRUE(d_.client().RemoveImage(rmi).ok()) << "free once no container uses it";
}

TEST_F(ContainerE2E, UnknownImageAndUnknownPodAreClearErrors) {
  runtime::v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id_);
  *req.mutable_sandbox_config() = pod_config_;
  req.mutable_config()->mutable_metadata()->set_name("noimage");
  req.mutable_config()->mutable_image()->set_image("127.0.0.1:1/nothing:here");
  EXPECT_EQ(d_.client().CreateContainer(req).status().code(), absl::StatusCode::kNotFound);
  req.set_pod_sandbox_id("0123456789abcdef");
  EXPECT_EQ(d_.client().CreateContainer(req).status().code(), absl::StatusCode::kNotFound);
}

// A pod with one shared PID namespace: the pause process is PID 1 and every
// container of the pod sees the others' processes.
class SharedPidE2E : public ContainerE2E {
 protected:
  bool SharedPid() const override { return true; }
};

TEST_F(SharedPidE2E, InfraIsPid1AndContainersSeeEachOther) {
  auto a = Create("a", {"/bin/sleep", "1001"});
  ASSERT_TRUE(a.ok()) << a.status() << d_.Log();
  ASSERT_TRUE(Start(*a).ok()) << d_.Log();
  auto b = Create("b", {"/bin/sleep", "1002"});
  ASSERT_TRUE(b.ok()) << b.status() << d_.Log();
  ASSERT_TRUE(Start(*b).ok()) << d_.Log();
  WaitFor(*b, runtime::v1::CONTAINER_RUNNING);

  runtime::v1::ExecSyncRequest exec;
  exec.set_container_id(*b);
  exec.add_cmd("/bin/sh");
  exec.add_cmd("-c");
  exec.add_cmd("cat /proc/1/cmdline; echo; for p in /proc/[0-9]*; do cat $p/cmdline; echo; done");
  auto res = d_.client().ExecSync(exec);
  ASSERT_TRUE(res.ok()) << res.status() << d_.Log();
  const std::string out = res->stdout();
  EXPECT_TRUE(absl::StartsWith(out, "/pause")) << out;
  EXPECT_TRUE(absl::StrContains(out, std::string("/bin/sleep\0" "1001", 15))) << out;
  EXPECT_TRUE(absl::StrContains(out, std::string("/bin/sleep\0" "1002", 15))) << out;
}

}  // namespace
}  // namespace crius::testing
