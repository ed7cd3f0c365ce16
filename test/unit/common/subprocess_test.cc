#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius {
namespace {

using ::crius::testing::TempDir;
using ::testing::HasSubstr;

SubprocessOptions Sleeper() {
  SubprocessOptions o;
  o.argv = {"/bin/sleep", "30"};
  return o;
}

// True once `pid` is no longer our child, i.e. it has been reaped. Unlike
// kill(pid, 0) this cannot be fooled by a recycled pid.
bool Reaped(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == -1 &&
         errno == ECHILD;
}

// Field 6 of /proc/<pid>/stat is the session id; the fields are counted after
// the ")" that ends the command name, which may itself contain spaces.
pid_t SessionOf(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  std::vector<std::string> f = absl::StrSplit(stat->substr(stat->rfind(')') + 2), ' ');
  int sid = -1;
  return f.size() > 3 && absl::SimpleAtoi(f[3], &sid) ? sid : -1;
}

TEST(SubprocessTest, StartSignalWait) {
  absl::StatusOr<Subprocess> p = Subprocess::Start(Sleeper());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_GT(p->pid(), 0);
  EXPECT_TRUE(p->Running());
  ASSERT_TRUE(p->Signal(SIGTERM).ok());
  absl::StatusOr<int> status = p->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
  EXPECT_EQ(DescribeWaitStatus(*status), "killed by signal 15 (SIGTERM)");
  EXPECT_FALSE(p->Running());
  EXPECT_TRUE(Reaped(p->pid()));
  EXPECT_EQ(*p->Wait(), *status) << "a second Wait returns the same status";
  EXPECT_EQ(p->Signal(SIGTERM).code(), absl::StatusCode::kFailedPrecondition)
      << "no signal may go to a reaped (possibly reused) pid";
}

TEST(SubprocessTest, WaitReturnsTheExitCode) {
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c", "exit 7"};
  absl::StatusOr<Subprocess> p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> status = p->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 7);
  EXPECT_EQ(DescribeWaitStatus(*status), "exited with code 7");
}

TEST(SubprocessTest, WaitTimesOutAndLeavesTheChildRunning) {
  absl::StatusOr<Subprocess> p = Subprocess::Start(Sleeper());
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> status = p->Wait(absl::Milliseconds(50));
  EXPECT_EQ(status.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(p->Running());
  EXPECT_EQ(p->Wait(absl::ZeroDuration()).status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SubprocessTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    absl::StatusOr<Subprocess> p = Subprocess::Start(Sleeper());
    ASSERT_TRUE(p.ok()) << p.status();
    pid = p->pid();
    EXPECT_FALSE(Reaped(pid));
  }
  EXPECT_TRUE(Reaped(pid));
}

TEST(SubprocessTest, MovesTransferOwnership) {
  absl::StatusOr<Subprocess> a = Subprocess::Start(Sleeper());
  absl::StatusOr<Subprocess> b = Subprocess::Start(Sleeper());
  ASSERT_TRUE(a.ok() && b.ok());
  pid_t pid_a = a->pid();
  pid_t pid_b = b->pid();
  Subprocess owner(std::move(*a));
  EXPECT_EQ(owner.pid(), pid_a);
  EXPECT_EQ(a->pid(), -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  owner = std::move(*b);    // the child owned before is killed and reaped
  EXPECT_TRUE(Reaped(pid_a));
  EXPECT_EQ(owner.pid(), pid_b);
  EXPECT_TRUE(owner.Running());
}

TEST(SubprocessTest, MissingBinaryIsNotFoundAndLeavesNoChild) {
  SubprocessOptions o;
  o.argv = {"/nonexistent/criusd"};
  absl::StatusOr<Subprocess> p = Subprocess::Start(o);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("execve /nonexistent/criusd"));
  siginfo_t info{};
  EXPECT_EQ(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT), -1);
}

TEST(SubprocessTest, RedirectsOutputToFilesByAppending) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("out.log"), "earlier\n").ok());
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"};
  o.stdout_path = dir.Path("out.log");
  o.stderr_path = "/dev/null";
  absl::StatusOr<Subprocess> p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->Wait(absl::Seconds(10)).ok());
  EXPECT_EQ(*ReadFile(dir.Path("out.log")), "earlier\nto-stdout\n");
}

TEST(SubprocessTest, PassesExtraDescriptorsFromThree) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c", "echo sync >&3"};
  o.extra_fds = {write_end.get()};
  absl::StatusOr<Subprocess> p = Subprocess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  write_end.reset();  // so the read below sees EOF once the child is done
  ASSERT_TRUE(p->Wait(absl::Seconds(10)).ok());
  char buf[16] = {};
  EXPECT_EQ(::read(read_end.get(), buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "sync\n");
}

TEST(SubprocessTest, NewSessionMakesTheChildASessionLeader) {
  SubprocessOptions o = Sleeper();
  o.new_session = true;
  absl::StatusOr<Subprocess> leader = Subprocess::Start(o);
  absl::StatusOr<Subprocess> plain = Subprocess::Start(Sleeper());
  ASSERT_TRUE(leader.ok() && plain.ok());
  // The session id is only certain once the child has exec'd; both had by
  // the time Start returned, which waits for execve.
  EXPECT_EQ(SessionOf(leader->pid()), leader->pid());
  EXPECT_EQ(SessionOf(plain->pid()), ::getsid(0));
}

TEST(DescribeWaitStatusTest, NamesSignalsAndCoreDumps) {
  EXPECT_EQ(DescribeWaitStatus(0), "exited with code 0");
  EXPECT_EQ(DescribeWaitStatus(SIGKILL), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(DescribeWaitStatus(SIGSEGV | 0x80), "killed by signal 11 (SIGSEGV) (core dumped)");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
}

}  // namespace
}  // namespace crius
