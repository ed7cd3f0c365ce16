// The infra process against the real kernel and runc (root): crius-pause
// runs as PID 1 of a new PID namespace inside the pod's pinned namespaces,
// reaps orphans, exits 0 on SIGTERM, and StopInfra removes everything
// (runtime state, cgroup leaf, bundle, no zombie) and is idempotent.

#include "sandbox/infra.h"

#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_manager.h"
#include "sandbox/namespaces.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"

namespace crius::sandbox {
namespace {

using ::crius::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace ::crius::sandbox::testing;  // NOLINT

constexpr char kRunc[] = "/usr/bin/runc";
constexpr char kPause[] = CRIUS_BINARY_DIR "/sandbox/pause/crius-pause";

bool WaitFor(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(10)) {
  absl::Time end = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

// A "Name:\tvalue" line of /proc/<pid>/status.
std::string StatusField(pid_t pid, const std::string& name) {
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!text.ok()) return "";
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, name + ":"))
      return std::string(absl::StripAsciiWhitespace(line));
  }
  return "";
}

ino_t Inode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The process state letter from /proc/<pid>/stat; "" when gone.
std::string ProcState(pid_t pid) {
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!text.ok()) return "";
  size_t close = text->rfind(')');
  return close == std::string::npos || close + 2 >= text->size() ? "" : text->substr(close + 2, 1);
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  if (!text.ok()) return out;
  for (absl::string_view word : absl::StrSplit(*text, ' ', absl::SkipWhitespace())) {
    int child = 0;
    if (absl::SimpleAtoi(word, &child)) out.push_back(child);
  }
  return out;
}

// Reaps, by pid, every child of this process that is already a zombie, and
// returns their names.
std::vector<std::string> ReapZombieChildren() {
  std::vector<std::string> names;
  DIR* tasks = ::opendir("/proc/self/task");
  if (tasks == nullptr) return names;
  std::vector<pid_t> zombies;
  while (dirent* e = ::readdir(tasks)) {
    int tid = 0;
    if (!absl::SimpleAtoi(e->d_name, &tid)) continue;
    auto text = ReadFile(absl::StrCat("/proc/self/task/", tid, "/children"));
    if (!text.ok()) continue;
    for (absl::string_view word : absl::StrSplit(*text, ' ', absl::SkipWhitespace())) {
      int child = 0;
      if (absl::SimpleAtoi(word, &child) && ProcState(child) == "Z") zombies.push_back(child);
    }
  }
  ::closedir(tasks);
  for (pid_t z : zombies) {
    names.push_back(StatusField(z, "Name"));
    ::waitpid(z, nullptr, 0);
  }
  return names;
}

class InfraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CRIUS_REQUIRE_ROOT();
    if (!PathExists(kRunc)) GTEST_SKIP() << "needs runc";
    ASSERT_TRUE(PathExists(kPause)) << "build crius-pause first";
    // criusd is a child subreaper, so the detached infra becomes its child;
    // the test runs the same way to check that StopInfra reaps it.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    auto setup = DetectCgroups();
    ASSERT_TRUE(setup.ok()) << setup.status();
    cgroups_ = *setup;

    pod_id_ = UniqueName("crius-infra-t");
    NamespaceSpec ns;
    ns.netns_name = pod_id_;
    ns.pin_dir = dir_.Path("ns");
    ns.hostname = "infra-pod";
    auto pinned = CreatePodNamespaces(os_, ns);
    ASSERT_TRUE(pinned.ok()) << pinned.status();
    pinned_ = *pinned;
    auto cg = CreatePodCgroup(os_, cgroups_, "/" + pod_id_);
    ASSERT_TRUE(cg.ok()) << cg.status();
    pod_cgroup_ = *cg;

    runtime_ = std::make_unique<oci::RuntimeClient>(
        oci::RuntimeClientOptions{kRunc, dir_.Path("runc-root"), {}, absl::Seconds(30)});
  }

  void TearDown() override {
    if (runtime_) {
      for (const auto& infra : started_) {
        absl::Status s = StopInfra(*runtime_, infra);
        EXPECT_TRUE(s.ok()) << s;
      }
      (void)runtime_->Delete(pod_id_, /*force=*/true);
    }
    EXPECT_TRUE(RemovePodCgroup(os_, pod_cgroup_).ok());
    EXPECT_TRUE(RemovePodNamespaces(os_, pinned_).ok());
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  InfraSpec Spec() {
    InfraSpec spec;
    spec.pod_id = pod_id_;
    spec.runtime = runtime_.get();
    spec.pause_path = kPause;
    spec.bundle_dir = dir_.Path("pod/infra");
    spec.net_ns = pinned_.net;
    spec.ipc_ns = pinned_.ipc;
    spec.uts_ns = pinned_.uts;
    spec.cgroups_path = NewCgroupfsManager(os_, cgroups_)
                            ->RuntimeCgroupsPath(pod_cgroup_.path, InfraCgroupName(pod_id_));
    return spec;
  }

  absl::StatusOr<InfraProcess> Start(const InfraSpec& spec) {
    auto infra = StartInfra(spec);
    if (infra.ok()) started_.push_back(*infra);
    return infra;
  }

  void ExpectNothingLeft(const InfraProcess& infra, const std::string& cgroups_path) {
    auto list = runtime_->List();
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_THAT(*list, IsEmpty());
    EXPECT_FALSE(PathExists(infra.bundle));
    EXPECT_EQ(ProcState(infra.pid), "") << "infra pid " << infra.pid << " still there";
    EXPECT_FALSE(HasChildren()) << "the infra was not reaped";
    if (!cgroups_path.empty()) {
      for (const auto& h : cgroups_.hierarchies) {
        EXPECT_FALSE(PathExists(JoinPath(h.mount_point, cgroups_path)))
            << h.mount_point << cgroups_path;
      }
    }
  }

  RealOs os_;
  TempDir dir_;
  CgroupSetup cgroups_;
  std::string pod_id_;
  PinnedNamespaces pinned_;
  PodCgroup pod_cgroup_;
  std::unique_ptr<oci::RuntimeClient> runtime_;
  std::vector<InfraProcess> started_;
};

TEST_F(InfraTest, RunsAsPid1OfItsOwnPidNamespaceInsideThePodsNamespaces) {
  InfraSpec spec = Spec();
  auto infra = Start(spec);
  ASSERT_TRUE(infra.ok()) << infra.status();
  EXPECT_EQ(infra->container_id, pod_id_);
  EXPECT_EQ(infra->bundle, spec.bundle_dir);
  EXPECT_EQ(infra->PidNamespacePath(), absl::StrCat("/proc/", infra->pid, "/ns/pid"));
  const pid_t pid = infra->pid;

  // PID 1 in the innermost namespace: the last NSpid field.
  std::vector<std::string> nspid = absl::StrSplit(StatusField(pid, "NSpid"), '\t');
  ASSERT_GE(nspid.size(), 2u);
  EXPECT_EQ(nspid.back(), "1");
  EXPECT_NE(Inode(absl::StrCat("/proc/", pid, "/ns/pid")), Inode("/proc/self/ns/pid"));
  EXPECT_NE(Inode(absl::StrCat("/proc/", pid, "/ns/mnt")), Inode("/proc/self/ns/mnt"));
  // The pod's pinned namespaces, not new ones.
  EXPECT_EQ(Inode(absl::StrCat("/proc/", pid, "/ns/net")), Inode(pinned_.net));
  EXPECT_EQ(Inode(absl::StrCat("/proc/", pid, "/ns/ipc")), Inode(pinned_.ipc));
  EXPECT_EQ(Inode(absl::StrCat("/proc/", pid, "/ns/uts")), Inode(pinned_.uts));

  // Locked down: no capabilities, no_new_privs, a non-negative oom score.
  EXPECT_EQ(StatusField(pid, "CapEff"), "0000000000000000");
  EXPECT_EQ(StatusField(pid, "CapPrm"), "0000000000000000");
  EXPECT_EQ(StatusField(pid, "CapBnd"), "0000000000000000");
  EXPECT_EQ(StatusField(pid, "NoNewPrivs"), "1");
  auto oom = ReadFile(absl::StrCat("/proc/", pid, "/oom_score_adj"));
  ASSERT_TRUE(oom.ok());
  int oom_value = -1;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*oom), &oom_value));
  EXPECT_GE(oom_value, 0);
  // In its cgroup leaf under the pod's cgroup.
  auto cgroup = ReadFile(absl::StrCat("/proc/", pid, "/cgroup"));
  ASSERT_TRUE(cgroup.ok());
  EXPECT_THAT(*cgroup, HasSubstr(spec.cgroups_path));
  // Its root is read-only and the binary it runs is the pause binary.
  auto exe_inode = Inode(absl::StrCat("/proc/", pid, "/exe"));
  EXPECT_EQ(exe_inode, Inode(kPause));
  EXPECT_EQ(StatusField(pid, "Name"), "pause");

  auto status = GetInfraStatus(*runtime_, *infra);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, InfraStatus::kRunning);

  ASSERT_TRUE(StopInfra(*runtime_, *infra).ok());
  ExpectNothingLeft(*infra, spec.cgroups_path);
  auto gone = GetInfraStatus(*runtime_, *infra);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(*gone, InfraStatus::kGone);
  // Idempotent.
  EXPECT_TRUE(StopInfra(*runtime_, *infra).ok());
}

TEST_F(InfraTest, SigtermMakesItExitWithStatusZero) {
  auto infra = Start(Spec());
  ASSERT_TRUE(infra.ok()) << infra.status();
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, infra->pid, 0));
  ASSERT_GE(fd, 0);
  UniqueFd pidfd(fd);

  ASSERT_TRUE(runtime_->Kill(infra->container_id, SIGTERM).ok());
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "pause ignored SIGTERM";
  siginfo_t info{};
  ASSERT_EQ(
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &info, WEXITED), 0)
      << "the infra should be our child (subreaper)";
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_status, 0);

  auto status = GetInfraStatus(*runtime_, *infra);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, InfraStatus::kStopped);
  ASSERT_TRUE(StopInfra(*runtime_, *infra).ok());
  ExpectNothingLeft(*infra, Spec().cgroups_path);
}

TEST_F(InfraTest, ReapsOrphansReparentedToIt) {
  auto infra = Start(Spec());
  ASSERT_TRUE(infra.ok()) << infra.status();
  // A shell in the pod's PID namespace starts a background sleep and exits:
  // the sleep is orphaned and the kernel hands it to the namespace's init.
  RunCmd({Tool("nsenter"), "--target", absl::StrCat(infra->pid), "--pid", "--", "/bin/busybox",
          "sh", "-c", "/bin/busybox sleep 1000 </dev/null >/dev/null 2>&1 &"});
  // The orphan is the forked shell until it has exec'd the sleep.
  std::vector<pid_t> orphans;
  std::string cmdline;
  ASSERT_TRUE(WaitFor([&] {
    orphans = ChildrenOf(infra->pid);
    if (orphans.size() != 1) return false;
    auto text = ReadFile(absl::StrCat("/proc/", orphans[0], "/cmdline"));
    cmdline = text.ok() ? *text : "";
    return absl::StrContains(cmdline, "sleep");
  })) << orphans.size() << " children, cmdline " << cmdline;
  const pid_t orphan = orphans[0];

  ASSERT_EQ(::kill(orphan, SIGKILL), 0);
  // Without reaping it would stay a zombie ("Z") for as long as pause runs.
  EXPECT_TRUE(WaitFor([&] { return ProcState(orphan) == ""; }))
      << "orphan " << orphan << " left in state " << ProcState(orphan);
  auto status = GetInfraStatus(*runtime_, *infra);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, InfraStatus::kRunning);
}

TEST_F(InfraTest, WithoutPinsItUsesTheNodesNamespacesAndTheRuntimesCgroup) {
  InfraSpec spec = Spec();
  spec.net_ns.clear();
  spec.ipc_ns.clear();
  spec.uts_ns.clear();
  spec.cgroups_path.clear();
  auto infra = Start(spec);
  ASSERT_TRUE(infra.ok()) << infra.status();
  for (const char* ns : {"net", "ipc", "uts"}) {
    EXPECT_EQ(Inode(absl::StrCat("/proc/", infra->pid, "/ns/", ns)),
              Inode(absl::StrCat("/proc/self/ns/", ns)))
        << ns;
  }
  EXPECT_NE(Inode(absl::StrCat("/proc/", infra->pid, "/ns/pid")), Inode("/proc/self/ns/pid"));
  ASSERT_TRUE(StopInfra(*runtime_, *infra).ok());
  ExpectNothingLeft(*infra, "");
}

TEST_F(InfraTest, StopInfraIsIdempotentEvenForWhatNeverStarted) {
  InfraProcess never{
      .container_id = pod_id_, .pid = 0, .start_time = 0, .bundle = dir_.Path("never")};
  EXPECT_TRUE(StopInfra(*runtime_, never).ok());
  // A recorded pid that now belongs to someone else (start time differs)
  // is never signalled or waited for.
  InfraProcess stale{
      .container_id = pod_id_, .pid = ::getpid(), .start_time = 1, .bundle = dir_.Path("stale")};
  EXPECT_TRUE(StopInfra(*runtime_, stale).ok());

  auto infra = Start(Spec());
  ASSERT_TRUE(infra.ok()) << infra.status();
  ASSERT_TRUE(StopInfra(*runtime_, *infra).ok());
  ASSERT_TRUE(StopInfra(*runtime_, *infra).ok());
  ExpectNothingLeft(*infra, Spec().cgroups_path);
}

TEST_F(InfraTest, SecondStartIsAlreadyExistsAndKeepsTheFirst) {
  auto infra = Start(Spec());
  ASSERT_TRUE(infra.ok()) << infra.status();
  auto again = Start(Spec());
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  auto status = GetInfraStatus(*runtime_, *infra);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, InfraStatus::kRunning);
  EXPECT_TRUE(PathExists(JoinPath(infra->bundle, "config.json")));
}

TEST_F(InfraTest, FailedStartRemovesEverythingItMade) {
  InfraSpec spec = Spec();
  // A regular file is no namespace: runc fails while setting up.
  ASSERT_TRUE(WriteFileAtomic(dir_.Path("not-a-netns"), "").ok());
  spec.net_ns = dir_.Path("not-a-netns");
  auto infra = Start(spec);
  ASSERT_FALSE(infra.ok());
  EXPECT_FALSE(absl::IsNotFound(infra.status())) << infra.status();
  auto list = runtime_->List();
  ASSERT_TRUE(list.ok());
  EXPECT_THAT(*list, IsEmpty());
  EXPECT_FALSE(PathExists(spec.bundle_dir));
  for (const auto& h : cgroups_.hierarchies) {
    EXPECT_FALSE(PathExists(JoinPath(h.mount_point, spec.cgroups_path))) << h.mount_point;
  }
  // runc's own intermediate process can be orphaned by a failed start and,
  // with criusd a subreaper, lands on criusd like here: its general orphan
  // reaper takes those. Nothing of the infra itself may remain.
  std::vector<std::string> reaped;
  EXPECT_TRUE(WaitFor([&] {
    for (std::string& name : ReapZombieChildren()) reaped.push_back(std::move(name));
    return !HasChildren();
  })) << "a child of this process outlived the failed start";
  for (const std::string& name : reaped) EXPECT_THAT(name, ::testing::StartsWith("runc:"));
}

TEST_F(InfraTest, MissingPauseBinaryIsFailedPreconditionBeforeAnythingIsMade) {
  InfraSpec spec = Spec();
  spec.pause_path = dir_.Path("no-pause");
  auto infra = Start(spec);
  EXPECT_TRUE(absl::IsFailedPrecondition(infra.status())) << infra.status();
  EXPECT_FALSE(PathExists(spec.bundle_dir));
  spec.pause_path = "relative/pause";
  EXPECT_TRUE(absl::IsInvalidArgument(Start(spec).status()));
}

TEST(InfraCgroupName, IsTheFirst12OfThePodId) {
  EXPECT_EQ(InfraCgroupName("0123456789abcdef"), "infra-0123456789ab");
  EXPECT_EQ(InfraCgroupName("abc"), "infra-abc");
}

}  // namespace
}  // namespace crius::sandbox
