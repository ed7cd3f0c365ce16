// RunAttachSession against the real conmon and runc, as root: a container
// created with stdin and stdin_once, attached to through conmon's socket;
// its stdout and stderr arrive on their own fds, the client's stdin reaches
// it, closing stdin closes the container's, and the session ends when the
// container exits. Ids, dirs and cgroups are the test's own and removed.

#include "oci/attach_session.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <future>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/exec.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "oci/monitor.h"
#include "test/unit/monitor/monitor_test_util.h"

namespace crius::oci {
namespace {

const std::vector<std::string> kEnv = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};

struct TestPipe {
  UniqueFd read, write;
  TestPipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read.reset(fds[0]);
    write.reset(fds[1]);
  }
};

std::string ReadToEof(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  return out;
}

class AttachSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc, cgroups)";
    auto conmon = FindExecutable("conmon", {"/usr/bin", "/usr/sbin"});
    auto runc = FindExecutable("runc", {"/usr/bin", "/usr/sbin"});
    if (!conmon.ok() || !runc.ok() || ::access("/bin/busybox", X_OK) != 0) {
      GTEST_SKIP() << "needs conmon, runc and busybox-static";
    }
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ::signal(SIGPIPE, SIG_IGN);
    runc_ = *runc;
    config_.conmon_path = *conmon;
    config_.runtime_path = runc_;
    config_.runtime_root = JoinPath(dir_.path(), "runc");
    config_.exit_dir = JoinPath(dir_.path(), "exits");
    config_.socket_dir = JoinPath(dir_.path(), "s");
    id_ = absl::StrCat("att-", ::getpid(), "-", reinterpret_cast<uintptr_t>(this) % 100000);
    cgroup_ = "crius-atttest-" + id_;
    bundle_ = JoinPath(dir_.path(), id_);
    ASSERT_TRUE(MkdirAll(JoinPath(bundle_, "rootfs/bin")).ok());
    Run({"/bin/cp", "/bin/busybox", JoinPath(bundle_, "rootfs/bin/busybox")});
    Run({runc_, "spec", "--bundle", bundle_});
    auto spec = nlohmann::json::parse(ReadFile(JoinPath(bundle_, "config.json")).value_or("{}"));
    spec["process"]["terminal"] = false;
    spec["process"]["args"] = {"/bin/busybox", "sh", "-c", "/bin/busybox cat; echo bye >&2"};
    spec["root"]["readonly"] = true;
    spec["linux"]["cgroupsPath"] = "/" + cgroup_;
    ASSERT_TRUE(WriteFileAtomic(JoinPath(bundle_, "config.json"), spec.dump()).ok());
  }

  void TearDown() override {
    if (runc_.empty()) return;
    Run({runc_, "--root", config_.runtime_root, "delete", "--force", id_}, /*check=*/false);
    if (conmon_.pid > 0) {
      if (IsProcessAlive(conmon_)) ::kill(conmon_.pid, SIGKILL);
      EXPECT_TRUE(WaitForProcessExit(conmon_, absl::Seconds(10)).ok());
      ReapIfChild(conmon_.pid);
    }
    for (const char* h : {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory",
                          "pids", "systemd", "unified", ""}) {
      ::rmdir(JoinPath("/sys/fs/cgroup", h, cgroup_).c_str());
    }
    (void)Monitor(config_).RemoveContainerFiles(id_);
  }

  void Run(std::vector<std::string> argv, bool check = true) {
    ExecOptions o;
    o.argv = std::move(argv);
    o.env = kEnv;
    o.timeout = absl::Seconds(30);
    auto r = Exec(o);
    if (check) {
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
    }
  }

  testing::TempDir dir_;
  MonitorConfig config_;
  std::string runc_, id_, cgroup_, bundle_;
  ProcessIdentity conmon_;
};

TEST_F(AttachSessionTest, RelaysBothStreamsAndStdinOnceClosesTheContainersStdin) {
  Monitor monitor(config_);
  CreateRequest create;
  create.id = id_;
  create.name = id_;
  create.bundle = bundle_;
  create.open_stdin = true;
  create.stdin_once = true;
  create.timeout = absl::Seconds(30);
  auto created = monitor.Create(create);
  ASSERT_TRUE(created.ok()) << created.status();
  conmon_ = created->conmon;
  Run({runc_, "--root", config_.runtime_root, "start", id_});

  TestPipe in, out, err;
  AttachSessionRequest req;
  req.socket_path = monitor.AttachSocketPath(id_);
  req.stdin_fd = std::move(in.read);
  req.stdout_fd = std::move(out.write);
  req.stderr_fd = std::move(err.write);
  auto session = std::async(std::launch::async, [&] { return RunAttachSession(std::move(req)); });
  ASSERT_TRUE(WriteAll(in.write.get(), "hello attach\n", "stdin").ok());
  // cat echoes the line: the attach is connected and stdin flows.
  std::string first;
  char buf[64];
  while (first.find('\n') == std::string::npos) {
    ssize_t n = ::read(out.read.get(), buf, sizeof(buf));
    ASSERT_GT(n, 0) << "stdout ended early";
    first.append(buf, size_t(n));
  }
  EXPECT_EQ(first, "hello attach\n");
  // Closing stdin closes the container's (stdin_once): cat ends, the
  // container writes to stderr and exits, and the session ends with it.
  in.write.reset();
  absl::Status s = session.get();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(ReadToEof(out.read.get()), "");
  EXPECT_EQ(ReadToEof(err.read.get()), "bye\n");
  EXPECT_TRUE(WaitForProcessExit(conmon_, absl::Seconds(20)).ok());
}

TEST_F(AttachSessionTest, NoMonitorIsFailedPrecondition) {
  AttachSessionRequest req;
  req.socket_path = Monitor(config_).AttachSocketPath(id_);
  absl::Status s = RunAttachSession(std::move(req));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
}

}  // namespace
}  // namespace crius::oci
