#pragma once
// The fixture of the container e2e tests: a real criusd with a busybox image
// pulled from a registry on loopback and one pod (node network unless a
// subclass overrides Network()), plus helpers to create, start, wait on and
// read the logs of containers. Everything goes through the daemon's socket.

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {

using runtime::v1::ContainerState;

class ContainerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reg = RegistryFixture::Start();
    ASSERT_TRUE(reg.ok()) << reg.status();
    registry_ = std::move(*reg);
    auto rootfs = BusyboxRootfs();
    ASSERT_TRUE(rootfs.ok()) << rootfs.status();
    ImageBuilder builder;
    builder.AddLayer(*rootfs, Compression::kGzip).Cmd({"/bin/sh"});
    EditImage(builder);
    auto img = builder.Build();
    ASSERT_TRUE(img.ok()) << img.status();
    ASSERT_TRUE(registry_->Push(*img, "e2e/busybox:v1").ok());
    image_ = registry_->host() + "/e2e/busybox:v1";
    BeforeDaemonStart();
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
    EditPod(pod_config_);
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
  // Changes the pod config before RunPodSandbox (e.g. a CNI network).
  virtual void EditPod(runtime::v1::PodSandboxConfig&) {}
  // Adds layers or config to the test image (busybox, Cmd /bin/sh).
  virtual void EditImage(ImageBuilder&) {}
  // Runs before the daemon starts (e.g. config_yaml changes).
  virtual void BeforeDaemonStart() {}

  // Creates a container running `cmd` with its log at <log dir>/<name>.log;
  // `edit` may change the config further before the call.
  absl::StatusOr<std::string> Create(
      const std::string& name, std::vector<std::string> cmd,
      const std::function<void(runtime::v1::ContainerConfig&)>& edit = nullptr) {
    runtime::v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod_id_);
    *req.mutable_sandbox_config() = pod_config_;
    auto* c = req.mutable_config();
    c->mutable_metadata()->set_name(name);
    c->mutable_image()->set_image(image_);
    for (auto& a : cmd) c->add_command(a);
    c->set_log_path(name + ".log");
    if (edit) edit(*c);
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

  // ExecSync of `cmd` in `id`, failing the test on an RPC error.
  runtime::v1::ExecSyncResponse Exec(const std::string& id, std::vector<std::string> cmd,
                                     int64_t timeout_s = 0) {
    runtime::v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (auto& a : cmd) req.add_cmd(a);
    req.set_timeout(timeout_s);
    auto resp = d_.client().ExecSync(req);
    EXPECT_TRUE(resp.ok()) << resp.status() << d_.Log();
    return resp.ok() ? *resp : runtime::v1::ExecSyncResponse();
  }

  // Starts `busybox httpd` serving `body` on `port` in a new container of
  // `pod` and waits until it answers inside the container.
  void StartHttpd(const std::string& pod, const runtime::v1::PodSandboxConfig& pod_config, int port,
                  const std::string& body) {
    runtime::v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod);
    *req.mutable_sandbox_config() = pod_config;
    auto* c = req.mutable_config();
    c->mutable_metadata()->set_name("web-" + std::to_string(port));
    c->mutable_image()->set_image(image_);
    for (const std::string& a : {std::string("/bin/sh"), std::string("-c"),
                                 absl::StrCat("mkdir -p /tmp/www && echo ", body,
                                              " > /tmp/www/index.html && exec busybox httpd -f -p ",
                                              port, " -h /tmp/www")}) {
      c->add_command(a);
    }
    c->set_log_path(c->metadata().name() + ".log");
    auto created = d_.client().CreateContainer(req);
    ASSERT_TRUE(created.ok()) << created.status() << d_.Log();
    ASSERT_TRUE(Start(created->container_id()).ok()) << d_.Log();
    const std::string id = created->container_id();
    for (absl::Time deadline = absl::Now() + absl::Seconds(30);;
         absl::SleepFor(absl::Milliseconds(50))) {
      auto r =
          Exec(id, {"/bin/wget", "-q", "-O", "-", absl::StrCat("http://127.0.0.1:", port, "/")});
      if (absl::StrContains(r.stdout(), body)) return;
      ASSERT_LT(absl::Now(), deadline) << "httpd on port " << port << " never answered" << d_.Log();
    }
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

}  // namespace crius::testing
