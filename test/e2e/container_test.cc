// Containers through the daemon: real runc, conmon, overlay rootfs and
// cgroups, with an image pulled from a registry on loopback. The pods use
// the node's network so these tests need no CNI plugins.

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "common/proc_stat.h"
#include "nlohmann/json.hpp"
#include "test/e2e/container_util.h"

namespace crius::testing {
namespace {

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
  // image_ref is the repo digest (kubelet shows it as the pod's imageID).
  EXPECT_TRUE(absl::StartsWith(st.image_ref(), registry_->host() + "/e2e/busybox@sha256:"))
      << st.image_ref();
  EXPECT_TRUE(absl::StartsWith(st.image_id(), "sha256:")) << st.image_id();
  const std::string log = ReadLog("exits");
  EXPECT_TRUE(absl::StrContains(log, " stdout F hello\n")) << log;
  EXPECT_TRUE(absl::StrContains(log, " stderr F oops\n")) << log;

  // The runtime's state of the exited container is deleted soon after the
  // exit (not left for RemoveContainer), while its status and log stay.
  const std::string runc_state = d_.state_dir() + "/runc/" + *id;
  struct stat rs;
  bool deleted = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30); !deleted && absl::Now() < deadline;) {
    deleted = ::stat(runc_state.c_str(), &rs) != 0;
    if (!deleted) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(deleted) << runc_state << " still there" << d_.Log();
  auto after = Status(*id);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(after->exit_code(), 3);

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
  // The timed-out command itself is gone from the container, not only the
  // runtime's exec: otherwise every hung probe would leave one behind.
  const std::vector<std::string> ps = {
      "/bin/sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"};
  std::string procs;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    procs = Exec(*id, ps).stdout();
    if (!absl::StrContains(procs, "/bin/sleep 30")) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(absl::StrContains(procs, "/bin/sleep 1000")) << procs;
  EXPECT_FALSE(absl::StrContains(procs, "/bin/sleep 30")) << procs;

  // Output is kept whole well past the 1 MiB a pipe holds (up to 16 MiB).
  auto big = Exec(*id, {"/bin/sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x"});
  EXPECT_EQ(big.stdout().size(), 5000000u);
  EXPECT_EQ(big.stdout().find_first_not_of('x'), std::string::npos);

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

// kubelet and crictl narrow ListContainers by id prefix, state, pod id and
// labels; each filter and their combination select exactly what they say.
TEST_F(ContainerE2E, ListContainersFilters) {
  auto labelled = [](std::string app) {
    return [app](runtime::v1::ContainerConfig& c) {
      (*c.mutable_labels())["app"] = app;
      (*c.mutable_labels())["tier"] = "web";
    };
  };
  auto a = Create("list-a", {"/bin/sleep", "1000"}, labelled("a"));
  ASSERT_TRUE(a.ok()) << a.status() << d_.Log();
  auto b = Create("list-b", {"/bin/sleep", "1000"}, labelled("b"));
  ASSERT_TRUE(b.ok()) << b.status() << d_.Log();
  ASSERT_TRUE(Start(*a).ok()) << d_.Log();
  WaitFor(*a, runtime::v1::CONTAINER_RUNNING);

  auto ids = [&](const runtime::v1::ContainerFilter& f) {
    runtime::v1::ListContainersRequest req;
    *req.mutable_filter() = f;
    auto resp = d_.client().ListContainers(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    std::vector<std::string> out;
    if (resp.ok()) {
      for (const auto& c : resp->containers()) out.push_back(c.id());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<std::string> both = {*a, *b};
  std::sort(both.begin(), both.end());
  runtime::v1::ContainerFilter f;
  EXPECT_EQ(ids(f), both);
  f.set_id(a->substr(0, 12));
  EXPECT_EQ(ids(f), std::vector<std::string>{*a}) << "id prefix";
  f = {};
  f.mutable_state()->set_state(runtime::v1::CONTAINER_CREATED);
  EXPECT_EQ(ids(f), std::vector<std::string>{*b}) << "state";
  f = {};
  (*f.mutable_label_selector())["app"] = "a";
  EXPECT_EQ(ids(f), std::vector<std::string>{*a}) << "label";
  (*f.mutable_label_selector())["tier"] = "db";
  EXPECT_TRUE(ids(f).empty()) << "every label must match";
  f = {};
  (*f.mutable_label_selector())["tier"] = "web";
  f.set_pod_sandbox_id(pod_id_);
  EXPECT_EQ(ids(f), both) << "pod and label";
  f.set_pod_sandbox_id("ffffffffffff");
  EXPECT_TRUE(ids(f).empty()) << "another pod";
  f = {};
  f.mutable_state()->set_state(runtime::v1::CONTAINER_RUNNING);
  f.set_id(b->substr(0, 12));
  EXPECT_TRUE(ids(f).empty()) << "id and state together";

  // ContainerStatus takes a unique id prefix too, as crictl does.
  auto st = Status(a->substr(0, 12));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->id(), *a);
  EXPECT_EQ(st->labels().at("app"), "a");
  EXPECT_EQ(Status("ffffffffffff").status().code(), absl::StatusCode::kNotFound);
}

// criusd is a child subreaper: conmon, once it has daemonized, is criusd's
// child (not PID 1's), and criusd reaps it when the container ends, leaving
// no zombie behind.
TEST_F(ContainerE2E, ConmonIsCriusdsChildAndIsReapedWhenTheContainerEnds) {
  auto id = Create("reaped", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  WaitFor(*id, runtime::v1::CONTAINER_RUNNING);
  runtime::v1::ContainerStatusRequest req;
  req.set_container_id(*id);
  req.set_verbose(true);
  auto st = d_.client().ContainerStatus(req);
  ASSERT_TRUE(st.ok()) << st.status();
  const auto info = nlohmann::json::parse(st->info().at("info"));
  const pid_t conmon = info.at("conmonPid").get<pid_t>();
  ASSERT_GT(conmon, 0);
  auto stat = ReadProcStat(conmon);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->ppid, d_.pid()) << "conmon's parent is not criusd";

  runtime::v1::StopContainerRequest stop;
  stop.set_container_id(*id);
  stop.set_timeout(5);
  ASSERT_TRUE(d_.client().StopContainer(stop).ok()) << d_.Log();
  bool gone = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); !gone && absl::Now() < deadline;) {
    gone = absl::IsNotFound(ReadProcStat(conmon).status());
    if (!gone) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(gone) << "conmon " << conmon << " left behind in state "
                    << (ReadProcStat(conmon).ok() ? ReadProcStat(conmon)->state : '?');
}

// A rootfs left without a container record (the record was lost, e.g. a
// power cut right after the create mounted it) is unmounted and removed at
// startup; the rootfs of a known container is kept.
TEST_F(ContainerE2E, RootfsWithoutARecordIsRemovedAtStartup) {
  auto kept = Create("kept", {"/bin/sleep", "1000"});
  ASSERT_TRUE(kept.ok()) << kept.status() << d_.Log();
  ASSERT_TRUE(d_.Stop().ok());
  const std::string overlay = d_.root_dir() + "/overlay";
  const std::string orphan = overlay + "/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  for (const char* sub : {"upper", "work", "merged"}) {
    ASSERT_TRUE(MkdirAll(orphan + "/" + sub, 0700).ok());
  }
  WriteTestFile(orphan + "/upper/left-behind", "x");
  ASSERT_EQ(::mount("tmpfs", (orphan + "/merged").c_str(), "tmpfs", 0, "size=1m"), 0);
  absl::Cleanup unmount = [&] { ::umount2((orphan + "/merged").c_str(), MNT_DETACH); };
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  struct stat st;
  EXPECT_NE(::stat(orphan.c_str(), &st), 0) << "orphan rootfs still there" << d_.Log();
  EXPECT_EQ(::stat((overlay + "/" + *kept + "/merged").c_str(), &st), 0) << "a known one went";
  auto status = Status(*kept);
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(Start(*kept).ok()) << "the kept container still starts" << d_.Log();
  WaitFor(*kept, runtime::v1::CONTAINER_RUNNING);
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
