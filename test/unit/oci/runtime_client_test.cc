// RuntimeClient: parsing and error classification without root (fake
// runtime scripts), then the real runc as root with a busybox bundle:
// run -d, create/start, state, kill, delete, update, exec, and that nothing
// is left behind (runtime state, cgroups, zombies, log files).

#include "oci/runtime_client.h"

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oci/spec.h"
#include "sandbox/cgroup.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::oci {
namespace {

using ::crius::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace ::crius::sandbox::testing;  // NOLINT

constexpr char kRunc[] = "/usr/bin/runc";
constexpr char kBusybox[] = "/bin/busybox";

// --- Parsing, no runtime needed. ---

TEST(RuntimeErrorText, TakesTheMessagesOfErrorLines) {
  EXPECT_EQ(RuntimeErrorText(
                "{\"level\":\"warning\",\"msg\":\"ignored\",\"time\":\"t\"}\n"
                "{\"level\":\"error\",\"msg\":\"container does not exist\",\"time\":\"t\"}\n"),
            "container does not exist");
  EXPECT_EQ(
      RuntimeErrorText("{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"fatal\",\"msg\":\"b\"}"),
      "a; b");
  EXPECT_EQ(RuntimeErrorText("  plain text from a crash\n"), "plain text from a crash");
  EXPECT_EQ(RuntimeErrorText(""), "");
}

TEST(ParseContainerState, ReadsRuncsStateJson) {
  auto s = ParseContainerState(R"({"ociVersion":"1.0.2-dev","id":"c1","pid":4242,
      "status":"running","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z",
      "owner":"","annotations":{"k":"v"}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, "c1");
  EXPECT_EQ(s->pid, 4242);
  EXPECT_EQ(s->status, kStatusRunning);
  EXPECT_EQ(s->bundle, "/b");
  EXPECT_EQ(s->rootfs, "/b/rootfs");
  EXPECT_EQ(s->created, "2026-01-01T00:00:00Z");
  EXPECT_EQ(s->annotations.at("k"), "v");
}

TEST(ParseContainerState, RejectsWhatIsNotAState) {
  EXPECT_FALSE(ParseContainerState("not json").ok());
  EXPECT_FALSE(ParseContainerState("[]").ok());
  EXPECT_FALSE(ParseContainerState(R"({"pid":1})").ok());
  EXPECT_FALSE(ParseContainerState(R"({"id":"a","status":"running","pid":-3})").ok());
}

TEST(ValidateContainerId, AcceptsRuncsAlphabetOnly) {
  EXPECT_TRUE(ValidateContainerId("abc-DEF_0.9+x").ok());
  EXPECT_TRUE(ValidateContainerId(std::string(64, 'a')).ok());
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a b", "a\nb", "a:b"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateContainerId(bad))) << "\"" << bad << "\"";
  }
}

// --- A fake runtime: a script that records its argv and fails as told. ---

class FakeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MkdirAll(dir_.Path("root")).ok()); }

  // The fake writes its arguments, one per line, to argv.txt, prints
  // `stderr_text` on stderr and exits with `code`.
  RuntimeClient Fake(const std::string& stderr_text, int code, const std::string& extra = "") {
    std::string script =
        absl::StrCat("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > ", dir_.Path("argv.txt"),
                     "\n", extra, "\nprintf '%s\\n' '", stderr_text, "' >&2\nexit ", code, "\n");
    EXPECT_TRUE(WriteFileAtomic(dir_.Path("runtime"), script, 0755).ok());
    return RuntimeClient({dir_.Path("runtime"), dir_.Path("root"), {"--debug"}, absl::Seconds(10)});
  }
  std::string Argv() { return ReadFile(dir_.Path("argv.txt")).value_or(""); }

  TempDir dir_;
};

TEST_F(FakeRuntimeTest, PutsRootLogFormatAndExtraArgsBeforeTheCommand) {
  RuntimeClient rt = Fake("", 0);
  ASSERT_TRUE(rt.Kill("c1", SIGTERM, /*all=*/true).ok());
  EXPECT_EQ(Argv(), absl::StrCat("--root\n", dir_.Path("root"),
                                 "\n--log-format\njson\n--debug\nkill\n--all\nc1\n15\n"));
}

TEST_F(FakeRuntimeTest, MissingStateDirIsNotFound) {
  RuntimeClient rt = Fake(R"({"level":"error","msg":"container does not exist"})", 1);
  absl::Status s = rt.Kill("c1", SIGKILL);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("container does not exist"));
  EXPECT_TRUE(absl::IsNotFound(rt.State("c1").status()));
  // delete --force of an unknown id exits 0 in runc: the client asks the
  // state dir first and never runs the runtime.
  ASSERT_TRUE(WriteFileAtomic(dir_.Path("argv.txt"), "").ok());
  EXPECT_TRUE(absl::IsNotFound(rt.Delete("c1", /*force=*/true)));
  EXPECT_EQ(Argv(), "");
}

TEST_F(FakeRuntimeTest, WrongStateIsFailedPreconditionAndOtherFailuresInternal) {
  ASSERT_TRUE(MkdirAll(dir_.Path("root/c1")).ok());
  RuntimeClient stopped = Fake(R"({"level":"error","msg":"container not running"})", 1);
  absl::Status s = stopped.Kill("c1", SIGKILL);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  RuntimeClient broken = Fake("something odd happened", 2);
  s = broken.Start("c1");
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exit code 2: something odd happened"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("start c1"));
}

TEST_F(FakeRuntimeTest, MissingRuntimeBinaryIsNeverNotFound) {
  RuntimeClient rt({dir_.Path("no-such-runc"), dir_.Path("root"), {}, absl::Seconds(5)});
  for (absl::Status s : {rt.Kill("c1", SIGKILL), rt.State("c1").status(), rt.List().status(),
                         rt.Run("c1", dir_.path(), dir_.Path("pid"), true).status()}) {
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  }
}

TEST_F(FakeRuntimeTest, HangingRuntimeIsKilledAtTheDeadline) {
  std::string script = "#!/bin/sh\nexec /bin/sleep 1000\n";
  ASSERT_TRUE(WriteFileAtomic(dir_.Path("runtime"), script, 0755).ok());
  RuntimeClient rt({dir_.Path("runtime"), dir_.Path("root"), {}, absl::Milliseconds(200)});
  EXPECT_TRUE(absl::IsDeadlineExceeded(rt.State("c1").status()));
  absl::Status s = rt.Run("c1", dir_.path(), dir_.Path("pid"), /*detach=*/true).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_FALSE(HasChildren()) << "the hung runtime was not reaped";
}

TEST_F(FakeRuntimeTest, DetachedRunReportsWhatTheRuntimeLogged) {
  // The runtime's stderr is /dev/null in detached mode; its --log file is
  // where the error comes from.
  std::string extra =
      "while [ $# -gt 0 ]; do if [ \"$1\" = --log ]; then echo "
      "'{\"level\":\"error\",\"msg\":\"rootfs is on fire\"}' > \"$2\"; fi; shift; done";
  RuntimeClient rt = Fake("", 1, extra);
  absl::Status s = rt.Run("c1", dir_.path(), dir_.Path("pid"), /*detach=*/true).status();
  EXPECT_TRUE(absl::IsInternal(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("rootfs is on fire"));
  // The per-call log file is gone.
  DIR* d = ::opendir(dir_.path().c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = ::readdir(d)) {
    EXPECT_THAT(std::string(e->d_name), ::testing::Not(HasSubstr(".crius-runtime-")));
  }
  ::closedir(d);
}

// --- The real runc. ---

// Polls `done` until it holds or `limit` passes; for state the kernel or
// runc reaches asynchronously.
bool WaitFor(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(10)) {
  absl::Time end = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::string FdTarget(pid_t pid, int fd) {
  char buf[PATH_MAX] = {};
  std::string link = absl::StrCat("/proc/", pid, "/fd/", fd);
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

class RuncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CRIUS_REQUIRE_ROOT();
    if (!PathExists(kRunc) || !PathExists(kBusybox)) GTEST_SKIP() << "needs runc and busybox";
    auto setup = sandbox::DetectCgroups();
    ASSERT_TRUE(setup.ok()) << setup.status();
    cgroups_ = *setup;
    // Containers become our children once runc exits, as they do under
    // criusd, so the test reaps them itself instead of leaving zombies.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    id_ = UniqueName("crius-oci-t");
    cgroup_ = "/" + id_;
    root_ = dir_.Path("runc-root");
    bundle_ = dir_.Path("bundle");
    ASSERT_TRUE(MkdirAll(JoinPath(bundle_, "rootfs/bin")).ok());
    auto busybox = ReadFile(kBusybox);
    ASSERT_TRUE(busybox.ok()) << busybox.status();
    ASSERT_TRUE(WriteFileAtomic(JoinPath(bundle_, "rootfs/bin/busybox"), *busybox, 0755).ok());
    client_ =
        std::make_unique<RuntimeClient>(RuntimeClientOptions{kRunc, root_, {}, absl::Seconds(30)});
  }

  void TearDown() override {
    if (client_) {
      for (const std::string& id : {id_, id_ + "-b"}) (void)client_->Delete(id, /*force=*/true);
    }
    for (pid_t pid : pids_) Reap(pid);
    for (const auto& h : cgroups_.hierarchies) ::rmdir(JoinPath(h.mount_point, cgroup_).c_str());
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  void WriteBundle(std::vector<std::string> args) {
    Spec spec = DefaultSpec();
    spec.process.args = std::move(args);
    spec.root.readonly = true;
    spec.hostname = "crius-oci-test";
    spec.linux_spec.cgroups_path = cgroup_;
    ASSERT_TRUE(WriteSpec(bundle_, spec).ok());
  }

  // Waits for a container process that was reparented to us and reaps it.
  void Reap(pid_t pid) {
    if (pid <= 0) return;
    EXPECT_TRUE(WaitFor([&] {
      pid_t r = ::waitpid(pid, nullptr, WNOHANG);
      return r == pid || (r < 0 && errno == ECHILD);
    })) << "pid "
        << pid << " never exited";
  }

  std::string StatusOf(const std::string& id) {
    auto s = client_->State(id);
    return s.ok() ? s->status : std::string(s.status().ToString());
  }

  void ExpectNothingLeft(const std::string& id) {
    EXPECT_TRUE(absl::IsNotFound(client_->State(id).status()));
    auto list = client_->List();
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_THAT(*list, IsEmpty());
    EXPECT_FALSE(PathExists(JoinPath(root_, id))) << "runc state dir left";
    for (const auto& h : cgroups_.hierarchies) {
      EXPECT_FALSE(PathExists(JoinPath(h.mount_point, cgroup_))) << h.mount_point << cgroup_;
    }
  }

  TempDir dir_;
  sandbox::CgroupSetup cgroups_;
  std::string id_, cgroup_, root_, bundle_;
  std::unique_ptr<RuntimeClient> client_;
  std::vector<pid_t> pids_;
};

TEST_F(RuncTest, DetachedRunKillDeleteLeavesNothing) {
  WriteBundle({"/bin/busybox", "sleep", "1000"});
  const std::string pid_file = dir_.Path("ctr.pid");
  // If the container held runc's stdio pipes this would only end at the
  // client's deadline (DeadlineExceeded), not with OK.
  auto run = client_->Run(id_, bundle_, pid_file, /*detach=*/true);
  ASSERT_TRUE(run.ok()) << run.status();

  auto state = client_->State(id_);
  ASSERT_TRUE(state.ok()) << state.status();
  pids_.push_back(state->pid);
  EXPECT_EQ(state->id, id_);
  EXPECT_EQ(state->status, kStatusRunning);
  EXPECT_EQ(state->bundle, bundle_);
  EXPECT_GT(state->pid, 0);
  auto pid_text = ReadFile(pid_file);
  ASSERT_TRUE(pid_text.ok()) << pid_text.status();
  EXPECT_EQ(absl::StripAsciiWhitespace(*pid_text), absl::StrCat(state->pid));
  for (int fd : {0, 1, 2}) EXPECT_EQ(FdTarget(state->pid, fd), "/dev/null") << "fd " << fd;
  auto cgroup = ReadFile(absl::StrCat("/proc/", state->pid, "/cgroup"));
  ASSERT_TRUE(cgroup.ok());
  EXPECT_THAT(*cgroup, HasSubstr(cgroup_));
  auto list = client_->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, id_);
  EXPECT_EQ((*list)[0].pid, state->pid);

  ASSERT_TRUE(client_->Kill(id_, SIGKILL).ok());
  ASSERT_TRUE(WaitFor([&] { return StatusOf(id_) == kStatusStopped; })) << StatusOf(id_);
  absl::Status again = client_->Kill(id_, SIGKILL);
  EXPECT_TRUE(absl::IsFailedPrecondition(again)) << again;

  ASSERT_TRUE(client_->Delete(id_, /*force=*/false).ok());
  ExpectNothingLeft(id_);
  absl::Status s = client_->Delete(id_, /*force=*/true);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  s = client_->Delete(id_, /*force=*/false);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  s = client_->Kill(id_, SIGTERM);
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
}

TEST_F(RuncTest, CreateThenStartAndForcedDelete) {
  WriteBundle({"/bin/busybox", "sleep", "1000"});
  ASSERT_TRUE(client_->Create(id_, bundle_, dir_.Path("ctr.pid")).ok());
  auto state = client_->State(id_);
  ASSERT_TRUE(state.ok()) << state.status();
  pids_.push_back(state->pid);
  EXPECT_EQ(state->status, kStatusCreated);
  EXPECT_GT(state->pid, 0);

  ASSERT_TRUE(client_->Start(id_).ok());
  EXPECT_EQ(StatusOf(id_), kStatusRunning);
  absl::Status s = client_->Start(id_);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  s = client_->Delete(id_, /*force=*/false);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(StatusOf(id_), kStatusRunning);

  ASSERT_TRUE(client_->Delete(id_, /*force=*/true).ok());
  ExpectNothingLeft(id_);
}

TEST_F(RuncTest, ForegroundRunReturnsTheExitCodeAndOutput) {
  WriteBundle({"/bin/busybox", "sh", "-c", "echo hello from $(hostname); exit 3"});
  auto r = client_->Run(id_, bundle_, dir_.Path("ctr.pid"), /*detach=*/false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stdout_data, "hello from crius-oci-test\n");
  // runc removes a foreground container when it exits.
  ExpectNothingLeft(id_);
}

TEST_F(RuncTest, FailedRunCarriesRuncsErrorAndLeavesNothing) {
  WriteBundle({"/no/such/binary"});
  absl::Status s = client_->Run(id_, bundle_, dir_.Path("ctr.pid"), /*detach=*/true).status();
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(absl::IsNotFound(s)) << "a failed run is not \"no such container\": " << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("/no/such/binary"));
  (void)client_->Delete(id_, /*force=*/true);
  ExpectNothingLeft(id_);
}

TEST_F(RuncTest, SecondContainerWithTheSameIdIsAlreadyExists) {
  WriteBundle({"/bin/busybox", "sleep", "1000"});
  ASSERT_TRUE(client_->Run(id_, bundle_, dir_.Path("a.pid"), true).ok());
  auto state = client_->State(id_);
  ASSERT_TRUE(state.ok());
  pids_.push_back(state->pid);
  absl::Status s = client_->Run(id_, bundle_, dir_.Path("b.pid"), true).status();
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_EQ(StatusOf(id_), kStatusRunning) << "the first one is untouched";
  ASSERT_TRUE(client_->Delete(id_, true).ok());
  ExpectNothingLeft(id_);
}

TEST_F(RuncTest, UpdateAppliesResourcesToTheContainersCgroup) {
  // Where pids.max lives: the v1 pids hierarchy, or the v2 one on a pure v2 host.
  std::string pids_dir;
  for (const auto& h : cgroups_.hierarchies) {
    const bool v1_pids =
        std::find(h.controllers.begin(), h.controllers.end(), "pids") != h.controllers.end();
    if (v1_pids || (h.v2 && cgroups_.layout == sandbox::CgroupLayout::kV2)) {
      pids_dir = JoinPath(h.mount_point, cgroup_);
    }
  }
  WriteBundle({"/bin/busybox", "sleep", "1000"});
  ASSERT_TRUE(client_->Run(id_, bundle_, dir_.Path("ctr.pid"), true).ok());
  auto state = client_->State(id_);
  ASSERT_TRUE(state.ok());
  pids_.push_back(state->pid);
  ASSERT_TRUE(client_->Update(id_, {{"pids", {{"limit", 42}}}}).ok());
  if (pids_dir.empty()) GTEST_SKIP() << "no pids controller to check";
  auto max = ReadFile(JoinPath(pids_dir, "pids.max"));
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max, "42\n");
  ASSERT_TRUE(client_->Delete(id_, true).ok());
  ExpectNothingLeft(id_);
}

TEST_F(RuncTest, ExecProcessRunsInsideTheContainer) {
  WriteBundle({"/bin/busybox", "sleep", "1000"});
  ASSERT_TRUE(client_->Run(id_, bundle_, dir_.Path("ctr.pid"), true).ok());
  auto state = client_->State(id_);
  ASSERT_TRUE(state.ok());
  pids_.push_back(state->pid);
  nlohmann::json process = {{"args", {"/bin/busybox", "sh", "-c", "hostname; exit 7"}},
                            {"cwd", "/"},
                            {"env", {"PATH=/bin"}},
                            {"user", {{"uid", 0}, {"gid", 0}}}};
  auto r = client_->ExecProcess(id_, process, dir_.path());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(r->stdout_data, "crius-oci-test\n");
  EXPECT_TRUE(absl::IsNotFound(client_->ExecProcess(id_ + "-b", process, dir_.path()).status()));
  ASSERT_TRUE(client_->Delete(id_, true).ok());
  ExpectNothingLeft(id_);
}

}  // namespace
}  // namespace crius::oci
