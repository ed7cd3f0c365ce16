// RunExecSession against the real runc as root, in a busybox container:
// stdout/stderr/stdin wired through without a terminal, a terminal with
// resize, exit codes, runtime errors, and cancellation killing the process
// and leaving no temporary file, fd or process behind.

#include "oci/exec_session.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "oci/runtime_client.h"
#include "oci/spec.h"
#include "sandbox/cgroup.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/sandbox/sandbox_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crius::oci {
namespace {

using ::crius::testing::TempDir;
using ::testing::HasSubstr;
using namespace ::crius::sandbox::testing; // NOLINT

constexpr char kRunc[] = "/usr/bin/runc";
constexpr char kBusybox[] = "/bin/busybox";

struct TestPipe {
  UniqueFd read, write;
  TestPipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

// Everything readable from `fd` until EOF.
std::string ReadToEof(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0)
    out.append(buf, size_t(n));
  return out;
}

// Polls `done` until it holds or `limit` passes.
bool WaitFor(const std::function<bool()> &done,
             absl::Duration limit = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

int OpenFdCount() {
  int count = 0;
  DIR *dir = ::opendir("/proc/self/fd");
  if (dir == nullptr)
    return -1;
  while (::readdir(dir) != nullptr)
    ++count;
  ::closedir(dir);
  return count;
}

class ExecSessionTest : public ::testing::Test {
protected:
  void SetUp() override {
    CRIUS_REQUIRE_ROOT();
    if (!PathExists(kRunc) || !PathExists(kBusybox))
      GTEST_SKIP() << "needs runc and busybox";
    auto setup = sandbox::DetectCgroups();
    ASSERT_TRUE(setup.ok()) << setup.status();
    cgroups_ = *setup;
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    // A client gone mid-write must not kill the test (criusd ignores it too).
    ::signal(SIGPIPE, SIG_IGN);
    id_ = UniqueName("crius-exec-t");
    cgroup_ = "/" + id_;
    runtime_ = {kRunc, dir_.Path("runc-root"), {}, absl::Seconds(30)};
    const std::string bundle = dir_.Path("bundle");
    ASSERT_TRUE(MkdirAll(JoinPath(bundle, "rootfs/bin")).ok());
    ASSERT_TRUE(MkdirAll(dir_.Path("work")).ok());
    auto busybox = ReadFile(kBusybox);
    ASSERT_TRUE(busybox.ok()) << busybox.status();
    ASSERT_TRUE(
        WriteFileAtomic(JoinPath(bundle, "rootfs/bin/busybox"), *busybox, 0755)
            .ok());
    Spec spec = DefaultSpec();
    spec.process.args = {"/bin/busybox", "sleep", "1000"};
    spec.root.readonly = true;
    spec.linux_spec.cgroups_path = cgroup_;
    ASSERT_TRUE(WriteSpec(bundle, spec).ok());
    client_ = std::make_unique<RuntimeClient>(runtime_);
    ASSERT_TRUE(
        client_->Run(id_, bundle, dir_.Path("ctr.pid"), /*detach=*/true).ok());
    auto state = client_->State(id_);
    ASSERT_TRUE(state.ok()) << state.status();
    init_pid_ = state->pid;
    fds_before_ = OpenFdCount();
  }

  void TearDown() override {
    if (client_)
      (void)client_->Delete(id_, /*force=*/true);
    if (init_pid_ > 0) {
      EXPECT_TRUE(WaitFor([&] {
        pid_t r = ::waitpid(init_pid_, nullptr, WNOHANG);
        return r == init_pid_ || (r < 0 && errno == ECHILD);
      }));
    }
    for (const auto &h : cgroups_.hierarchies)
      ::rmdir(JoinPath(h.mount_point, cgroup_).c_str());
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  ExecSessionRequest Request(std::vector<std::string> args, bool tty = false) {
    ExecSessionRequest req;
    req.id = id_;
    req.process = {{"args", args},
                   {"cwd", "/"},
                   {"env", {"PATH=/bin", "TERM=xterm"}},
                   {"user", {{"uid", 0}, {"gid", 0}}}};
    req.tty = tty;
    req.work_dir = dir_.Path("work");
    return req;
  }

  // Processes in the container's cgroup (the init and any exec).
  std::vector<std::string> ContainerProcs() {
    for (const auto &h : cgroups_.hierarchies) {
      auto procs = ReadFile(JoinPath(h.mount_point, cgroup_, "cgroup.procs"));
      if (procs.ok())
        return absl::StrSplit(*procs, '\n', absl::SkipEmpty());
    }
    return {};
  }

  // Nothing of the session is left: temp files, fds, processes.
  void ExpectNothingLeft() {
    EXPECT_TRUE(ListDir(dir_.Path("work")).empty());
    EXPECT_EQ(OpenFdCount(), fds_before_);
    EXPECT_TRUE(WaitFor([&] { return ContainerProcs().size() == 1; }))
        << "processes in the container: " << ContainerProcs().size();
  }

  static std::vector<std::string> ListDir(const std::string &path) {
    std::vector<std::string> names;
    DIR *dir = ::opendir(path.c_str());
    if (dir == nullptr)
      return names;
    while (auto *e = ::readdir(dir)) {
      std::string n = e->d_name;
      if (n != "." && n != "..")
        names.push_back(n);
    }
    ::closedir(dir);
    return names;
  }

  TempDir dir_;
  sandbox::CgroupSetup cgroups_;
  std::string id_, cgroup_;
  RuntimeClientOptions runtime_;
  std::unique_ptr<RuntimeClient> client_;
  pid_t init_pid_ = 0;
  int fds_before_ = 0;
};

TEST_F(ExecSessionTest, WithoutTtyStdoutStderrAndExitCodeComeThrough) {
  TestPipe out, err;
  ExecSessionRequest req = Request(
      {"/bin/busybox", "sh", "-c", "echo hello; echo oops >&2; exit 3"});
  req.stdout_fd = std::move(out.write);
  req.stderr_fd = std::move(err.write);
  auto code = RunExecSession(runtime_, std::move(req));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_EQ(ReadToEof(out.read.get()), "hello\n");
  EXPECT_EQ(ReadToEof(err.read.get()), "oops\n");
  out.read.reset();
  err.read.reset();
  ExpectNothingLeft();
}

TEST_F(ExecSessionTest, StdinReachesTheProcessUntilTheClientClosesIt) {
  TestPipe in, out;
  ExecSessionRequest req =
      Request({"/bin/busybox", "sh", "-c", "cat; echo done"});
  req.stdin_fd = std::move(in.read);
  req.stdout_fd = std::move(out.write);
  ASSERT_TRUE(WriteAll(in.write.get(), "line one\nline two\n", "stdin").ok());
  in.write.reset();
  auto code = RunExecSession(runtime_, std::move(req));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(ReadToEof(out.read.get()), "line one\nline two\ndone\n");
  out.read.reset();
  ExpectNothingLeft();
}

TEST_F(ExecSessionTest, TtyGivesATerminalThatFollowsResizes) {
  TestPipe in, out, resize;
  ExecSessionRequest req = Request(
      {"/bin/busybox", "sh", "-c",
       "tty; while read x; do [ \"$x\" = q ] && exit 5; stty size; done"},
      /*tty=*/true);
  req.stdin_fd = std::move(in.read);
  req.stdout_fd = std::move(out.write);
  req.resize_fd = resize.read.get();
  auto session = std::async(std::launch::async, [&] {
    return RunExecSession(runtime_, std::move(req));
  });
  // Asks for the size until the resize has reached the container's
  // terminal (runc applies it asynchronously on SIGWINCH).
  ASSERT_TRUE(WriteWindowSize(resize.write.get(), {120, 40}).ok());
  std::string seen;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(seen, "40 120") && absl::Now() < deadline) {
    ASSERT_TRUE(WriteAll(in.write.get(), "s\r", "stdin").ok());
    pollfd p = {out.read.get(), POLLIN, 0};
    while (::poll(&p, 1, 200) > 0) {
      char buf[1024];
      ssize_t n = ::read(out.read.get(), buf, sizeof(buf));
      if (n <= 0)
        break;
      seen.append(buf, size_t(n));
    }
  }
  EXPECT_THAT(seen, HasSubstr("/dev/pts/"));
  EXPECT_THAT(seen, HasSubstr("40 120"));
  ASSERT_TRUE(WriteAll(in.write.get(), "q\r", "stdin").ok());
  auto code = session.get();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 5);
  ReadToEof(out.read.get()); // EOF: the session closed its end
  in.write.reset();
  out.read.reset();
  resize.read.reset();
  resize.write.reset();
  ExpectNothingLeft();
}

TEST_F(ExecSessionTest, CancellationKillsTheProcessInsideTheContainer) {
  TestPipe out;
  UniqueFd cancel(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(cancel);
  ExecSessionRequest req =
      Request({"/bin/busybox", "sh", "-c", "echo started; exec sleep 1000"});
  req.stdout_fd = std::move(out.write);
  req.cancel_fd = cancel.get();
  auto session = std::async(std::launch::async, [&] {
    return RunExecSession(runtime_, std::move(req));
  });
  char buf[64];
  ssize_t n = ::read(out.read.get(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, size_t(n)), "started\n");
  EXPECT_EQ(ContainerProcs().size(), 2u);
  uint64_t one = 1;
  ASSERT_EQ(::write(cancel.get(), &one, sizeof(one)), ssize_t(sizeof(one)));
  auto code = session.get();
  EXPECT_TRUE(absl::IsCancelled(code.status())) << code.status();
  EXPECT_EQ(ReadToEof(out.read.get()), "");
  out.read.reset();
  cancel.reset();
  ExpectNothingLeft();
}

TEST_F(ExecSessionTest, RuntimeErrorsAndUnknownContainers) {
  auto missing = RunExecSession(runtime_, Request({"/no/such/binary"}));
  EXPECT_TRUE(absl::IsInternal(missing.status())) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("/no/such/binary"));
  ExecSessionRequest other = Request({"/bin/busybox", "true"});
  other.id = id_ + "-none";
  EXPECT_TRUE(
      absl::IsNotFound(RunExecSession(runtime_, std::move(other)).status()));
  ExpectNothingLeft();
}

} // namespace
} // namespace crius::oci
