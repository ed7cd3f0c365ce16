#include "common/exec.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
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
using ::testing::StartsWith;

// True when this process has no child at all, running or zombie. WNOWAIT
// keeps the check free of side effects.
bool NoChildrenLeft() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

// Kills and reaps every child of this process, so a failing test cannot
// leave an adopted grandchild behind.
void KillAllChildren() {
  std::string tid = absl::StrCat(::gettid());
  absl::StatusOr<std::string> list = ReadFile(absl::StrCat("/proc/self/task/", tid, "/children"));
  if (!list.ok()) return;
  for (absl::string_view word : absl::StrSplit(*list, ' ', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(word, &pid)) continue;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

ExecOptions Sh(const std::string& script) {
  ExecOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.timeout = absl::Seconds(30);
  return o;
}

TEST(ExecTest, CapturesStdoutAndStderrSeparately) {
  absl::StatusOr<ExecResult> r = Exec(Sh("echo out; echo err >&2; echo more"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->signal, 0);
  EXPECT_EQ(r->stdout_data, "out\nmore\n");
  EXPECT_EQ(r->stderr_data, "err\n");
  EXPECT_FALSE(r->stdout_truncated);
  EXPECT_FALSE(r->stderr_truncated);
}

TEST(ExecTest, PassesStdin) {
  ExecOptions o;
  o.argv = {"/bin/cat"};
  o.stdin_data = "{\"cniVersion\":\"1.0.0\"}";
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, o.stdin_data);
}

TEST(ExecTest, RoundTripsLargeStdinWhileReadingOutput) {
  // cat echoes as it reads, so this only finishes if stdin is fed while
  // stdout is drained, in one loop.
  ExecOptions o;
  o.argv = {"/bin/cat"};
  o.stdin_data.resize(5 << 20);
  for (size_t i = 0; i < o.stdin_data.size(); ++i) o.stdin_data[i] = static_cast<char>(i * 7);
  o.max_output = 8 << 20;
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->stdout_data == o.stdin_data) << "stdout differs from stdin";
}

TEST(ExecTest, EnvironmentIsExactlyWhatWasGiven) {
  ::setenv("CRIUS_TEST_LEAK", "1", 1);
  ExecOptions o;
  o.argv = {"/usr/bin/env"};
  o.env = {"A=1"};
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "A=1\n");
  o.env.clear();
  EXPECT_EQ(Exec(o)->stdout_data, "");
}

TEST(ExecTest, ReportsNonZeroExitCode) {
  absl::StatusOr<ExecResult> r = Exec(Sh("exit 3"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->signal, 0);
}

TEST(ExecTest, ReportsTheKillingSignal) {
  absl::StatusOr<ExecResult> r = Exec(Sh("kill -TERM $$"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(ExecTest, RunsInTheGivenDirectory) {
  TempDir dir;
  ExecOptions o;
  o.argv = {"/bin/pwd"};
  o.cwd = dir.path();
  EXPECT_EQ(Exec(o)->stdout_data, dir.path() + "\n");
  o.cwd = dir.Path("missing");
  absl::StatusOr<ExecResult> r = Exec(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("chdir"));
}

TEST(ExecTest, MissingBinaryIsNotFound) {
  ExecOptions o;
  o.argv = {"/nonexistent/crius-plugin", "ADD"};
  absl::StatusOr<ExecResult> r = Exec(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/crius-plugin"));
  EXPECT_TRUE(NoChildrenLeft());
}

TEST(ExecTest, NonExecutableIsPermissionDenied) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("plugin"), "#!/bin/sh\n", 0644).ok());
  ExecOptions o;
  o.argv = {dir.Path("plugin")};
  EXPECT_EQ(Exec(o).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ExecTest, RejectsBadOptions) {
  ExecOptions o;
  EXPECT_EQ(Exec(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.argv = {"sh"};
  EXPECT_EQ(Exec(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.argv = {"/bin/true"};
  o.env = {"NO_EQUALS_SIGN"};
  EXPECT_EQ(Exec(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.env = {};
  o.argv = {"/bin/echo", std::string("a\0b", 3)};
  EXPECT_EQ(Exec(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExecTest, DeadlineKillsAndReapsTheChild) {
  ExecOptions o;
  o.argv = {"/bin/sleep", "30"};
  o.timeout = absl::Milliseconds(200);
  absl::StatusOr<ExecResult> r = Exec(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("/bin/sleep 30"));
  EXPECT_THAT(r.status().message(), HasSubstr("killed after 200ms"));
  EXPECT_TRUE(NoChildrenLeft()) << "the killed child must be reaped";
}

TEST(ExecTest, FloodedOutputIsCappedAndDrained) {
  ExecOptions o = Sh("head -c 50000000 /dev/zero; head -c 50000000 /dev/zero >&2; echo done >&2");
  o.max_output = 1 << 20;
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.size(), 1u << 20);
  EXPECT_EQ(r->stderr_data.size(), 1u << 20);
  EXPECT_TRUE(r->stdout_truncated);
  EXPECT_TRUE(r->stderr_truncated);
}

bool SigpipePending() {
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

TEST(ExecTest, ChildIgnoringStdinDoesNotDeadlock) {
  // The child fills its stdout without ever reading stdin; writing 10 MiB of
  // stdin before reading would block forever.
  ExecOptions o = Sh("head -c 1000000 /dev/zero");
  o.stdin_data.assign(10 << 20, 'i');
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_data.size(), 1000000u);
}

TEST(ExecTest, ChildClosingStdinEarlyIsNoSigpipe) {
  // /bin/true exits without reading; our writes then hit EPIPE. Reaching the
  // end of this test at all means SIGPIPE did not kill the process.
  ExecOptions o;
  o.argv = {"/bin/true"};
  o.stdin_data.assign(10 << 20, 'i');
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<ExecResult> r = Exec(o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 0);
  }
  EXPECT_FALSE(SigpipePending());
}

TEST(ExecTest, ChildSeesOnlyStdio) {
  // A descriptor without O_CLOEXEC must still not reach the child.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 0);
  absl::Cleanup close_leaky = [leaky] { ::close(leaky); };
  ExecOptions o;
  o.argv = {"/bin/ls", "/proc/self/fd"};
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  // 3 is the directory ls itself opened to list.
  EXPECT_EQ(r->stdout_data, "0\n1\n2\n3\n");
}

TEST(ExecTest, ChildStartsWithDefaultSignalState) {
  struct sigaction ign {
  }, old_usr2{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR2, &ign, &old_usr2), 0);
  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask), 0);
  absl::Cleanup restore = [&] {
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGUSR2, &old_usr2, nullptr);
  };
  ExecOptions o;
  o.argv = {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"};
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(ExecTest, DoesNotWaitForGrandchildrenHoldingThePipes) {
  // A background grandchild keeps stdout open long after the child exits;
  // waiting for EOF would hit the deadline. This process becomes the
  // grandchild's reaper so the test can kill and reap it, leaving nothing.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  absl::Cleanup unset = [] {
    KillAllChildren();
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  };
  ExecOptions o = Sh("sleep 1000 & echo $!");
  absl::StatusOr<ExecResult> r = Exec(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r->stdout_data), &grandchild));
  EXPECT_EQ(::kill(grandchild, 0), 0) << "the grandchild is still running";
}

TEST(ExecTest, ConcurrentExecsKeepTheirOwnPipes) {
  constexpr int kThreads = 8;
  std::vector<std::string> outputs(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([i, &outputs] {
      ExecOptions o;
      o.argv = {"/bin/cat"};
      o.stdin_data = std::string(100000 + i, static_cast<char>('a' + i));
      absl::StatusOr<ExecResult> r = Exec(o);
      outputs[i] = r.ok() ? r->stdout_data : r.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(outputs[i], std::string(100000 + i, static_cast<char>('a' + i))) << i;
  }
  EXPECT_TRUE(NoChildrenLeft());
}

TEST(ExecCheckedTest, NonZeroExitCarriesArgvCodeAndStderr) {
  absl::StatusOr<ExecResult> r = ExecChecked(Sh("echo noise; echo 'bad things' >&2; exit 4"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(r.status().message()), StartsWith("/bin/sh -c \"echo noise;"));
  EXPECT_THAT(r.status().message(), HasSubstr("exited with code 4"));
  EXPECT_THAT(r.status().message(), HasSubstr("stderr: bad things"));
}

TEST(ExecCheckedTest, FallsBackToStdoutWhenStderrIsEmpty) {
  // CNI plugins report errors as JSON on stdout.
  absl::StatusOr<ExecResult> r = ExecChecked(Sh("echo '{\"code\":7}'; exit 1"));
  EXPECT_THAT(r.status().message(), HasSubstr("stdout: {\"code\":7}"));
}

TEST(ExecCheckedTest, BoundsTheStderrExcerpt) {
  absl::StatusOr<ExecResult> r =
      ExecChecked(Sh("head -c 100000 /dev/zero | tr '\\0' x >&2; "
                     "echo THE-END >&2; exit 1"));
  EXPECT_LT(r.status().message().size(), 4000u);
  EXPECT_THAT(r.status().message(), HasSubstr("THE-END"));
}

TEST(ExecCheckedTest, SignalIsUnknownWithTheSignalName) {
  absl::StatusOr<ExecResult> r = ExecChecked(Sh("kill -KILL $$"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(r.status().message(), HasSubstr("killed by signal 9 (SIGKILL)"));
}

TEST(ExecCheckedTest, SuccessReturnsTheResult) {
  absl::StatusOr<ExecResult> r = ExecChecked(Sh("echo fine"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data, "fine\n");
}

TEST(FindExecutableTest, SearchesDirectoriesInOrder) {
  EXPECT_EQ(*FindExecutable("sh", {"/nonexistent", "/usr/bin", "/bin"}), "/usr/bin/sh");
  absl::StatusOr<std::string> r = FindExecutable("crius-no-such-tool", {"/usr/bin"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("crius-no-such-tool"));
}

TEST(FindExecutableTest, HandlesPathsAndSkipsRelativeDirectories) {
  EXPECT_EQ(*FindExecutable("/bin/sh", {}), "/bin/sh");
  EXPECT_EQ(FindExecutable("bin/sh", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FindExecutable("/etc/passwd", {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindExecutable("sh", {"usr/bin", ""}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindExecutable("bin", {"/usr"}).status().code(), absl::StatusCode::kNotFound)
      << "a directory is not an executable";
}

TEST(DescribeArgvTest, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(DescribeArgv({"/usr/bin/runc", "--root", "/run/runc", "delete", "abc"}),
            "/usr/bin/runc --root /run/runc delete abc");
  EXPECT_EQ(DescribeArgv({"/bin/sh", "-c", "echo hi", ""}), "/bin/sh -c \"echo hi\" \"\"");
  std::vector<std::string> many(1000, "argument");
  EXPECT_LT(DescribeArgv(many).size(), 1200u);
  EXPECT_THAT(DescribeArgv(many), HasSubstr("more)"));
}

}  // namespace
}  // namespace crius
