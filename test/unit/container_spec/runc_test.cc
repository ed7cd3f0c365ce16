// The built spec against the real runc, as root: a busybox rootfs run with
// `runc run` under the RuntimeDefault seccomp profile and Unconfined, with a
// dropped capability, and as a user named in the image's /etc/passwd. Each
// test uses its own container id, runc root and cgroup, and removes them.

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/exec.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oci/container_spec.h"
#include "test/unit/common/temp_dir.h"

namespace crius::oci {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace v1 = runtime::v1;

constexpr char kRunc[] = "/usr/bin/runc";
constexpr char kBusybox[] = "/bin/busybox";

std::string Unique(const char* prefix) {
  static std::atomic<int> counter{0};
  unsigned random = 0;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (::read(fd, &random, sizeof(random)) != sizeof(random)) random = 0;
    ::close(fd);
  }
  return absl::StrFormat("%s-%d-%08x-%d", prefix, ::getpid(), random, counter++);
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The capability mask in a /proc/<pid>/status line such as "CapEff:\t...".
uint64_t CapMask(const std::string& status, const std::string& field) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, field + ":")) {
      uint64_t mask = 0;
      EXPECT_TRUE(absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &mask)) << line;
      return mask;
    }
  }
  ADD_FAILURE() << field << " not in output:\n" << status;
  return 0;
}

constexpr int kCapNetRaw = 13;
constexpr int kCapChown = 0;

class RuncSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (runc)";
    if (!Exists(kRunc) || !Exists(kBusybox)) GTEST_SKIP() << "needs runc and busybox";
    id_ = Unique("crius-spec");
    cgroup_parent_ = "/" + Unique("crius-spec-pod");
    root_ = dir_.Path("runc-root");
    bundle_ = dir_.Path("bundle");
    rootfs_ = dir_.Path("rootfs");
    ASSERT_TRUE(MkdirAll(bundle_).ok());
    ASSERT_TRUE(MkdirAll(JoinPath(rootfs_, "bin")).ok());
    ASSERT_TRUE(MkdirAll(JoinPath(rootfs_, "etc")).ok());
    auto busybox = ReadFile(kBusybox);
    ASSERT_TRUE(busybox.ok()) << busybox.status();
    ASSERT_TRUE(WriteFileAtomic(JoinPath(rootfs_, "bin/busybox"), *busybox, 0755).ok());
    for (const char* applet : {"sh", "unshare", "cat", "grep", "id", "true"}) {
      ASSERT_EQ(::symlink("busybox", JoinPath(rootfs_, "bin", applet).c_str()), 0) << applet;
    }
    ASSERT_TRUE(WriteFileAtomic(JoinPath(rootfs_, "etc/passwd"),
                                "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
                    .ok());
    ASSERT_TRUE(
        WriteFileAtomic(JoinPath(rootfs_, "etc/group"), "root:x:0:\napp:x:1000:\nwheel:x:10:app\n")
            .ok());

    config_.mutable_metadata()->set_name("probe");
    // This node may not let us lower oom_score_adj (no CAP_SYS_RESOURCE):
    // ask for exactly what this process has.
    auto adj = ReadFile("/proc/self/oom_score_adj");
    int oom = 0;
    if (adj.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*adj), &oom);
    config_.mutable_linux()->mutable_resources()->set_oom_score_adj(oom);
    in_.oom_score_adj_min = oom;
    in_.container_id = id_;
    in_.config = &config_;
    in_.image_config_json = R"({"config": {"Env": ["PATH=/bin"]}})";
    in_.image_name = "busybox";
    in_.rootfs = rootfs_;
    in_.pod.sandbox_id = "spec-test";
    in_.pod.cgroups_path = JoinPath(cgroup_parent_, "crius-" + id_);
  }

  void TearDown() override {
    if (id_.empty()) return;
    ExecOptions del;
    del.argv = {kRunc, "--root", root_, "delete", "-f", id_};
    (void)Exec(del);
    // runc removes the container's cgroup; the parent it made is ours.
    DIR* dir = ::opendir("/sys/fs/cgroup");
    if (dir == nullptr) return;
    std::vector<std::string> hierarchies = {"/sys/fs/cgroup"};
    while (struct dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') hierarchies.push_back(JoinPath("/sys/fs/cgroup", e->d_name));
    }
    ::closedir(dir);
    for (const auto& h : hierarchies) {
      ::rmdir(JoinPath(h, cgroup_parent_, "crius-" + id_).c_str());
      ::rmdir(JoinPath(h, cgroup_parent_).c_str());
      EXPECT_FALSE(Exists(JoinPath(h, cgroup_parent_))) << "cgroup left in " << h;
    }
  }

  void Command(const std::string& script) {
    config_.clear_command();
    config_.add_command("/bin/sh");
    config_.add_command("-c");
    config_.add_command(script);
  }
  v1::LinuxContainerSecurityContext* security() {
    return config_.mutable_linux()->mutable_security_context();
  }

  // Builds the spec, runs it to completion in the foreground and returns
  // what it printed.
  std::string Run() {
    auto spec = BuildContainerSpec(in_);
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) return "";
    EXPECT_TRUE(WriteSpec(bundle_, *spec).ok());
    ExecOptions run;
    run.argv = {kRunc, "--root", root_, "run", "--bundle", bundle_, id_};
    run.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    auto result = Exec(run);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return "";
    EXPECT_EQ(result->exit_code, 0)
        << "stdout: " << result->stdout_data << "\nstderr: " << result->stderr_data;
    return result->stdout_data;
  }

  testing::TempDir dir_;
  std::string id_, cgroup_parent_, root_, bundle_, rootfs_;
  v1::ContainerConfig config_;
  ContainerSpecInput in_;
};

// busybox's unshare applet calls unshare(CLONE_NEWUSER): the default
// profile must refuse it (no CAP_SYS_ADMIN), and nothing else stops it here.
// The Seccomp line of /proc/self/status shows whether a filter is on (2).
constexpr char kUserNsProbe[] = "grep '^Seccomp:' /proc/self/status; unshare -U true; echo rc=$?";

TEST_F(RuncSpecTest, RuntimeDefaultSeccompBlocksUserNamespaces) {
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  Command(kUserNsProbe);
  std::string out = Run();
  EXPECT_THAT(out, HasSubstr("Seccomp:\t2\n"));
  EXPECT_THAT(out, HasSubstr("rc="));
  EXPECT_THAT(out, Not(HasSubstr("rc=0"))) << out;
}

TEST_F(RuncSpecTest, UnconfinedAllowsUserNamespaces) {
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::Unconfined);
  Command(kUserNsProbe);
  std::string out = Run();
  EXPECT_THAT(out, HasSubstr("Seccomp:\t0\n"));
  EXPECT_THAT(out, HasSubstr("rc=0"));
}

TEST_F(RuncSpecTest, RuntimeDefaultStillRunsOrdinaryPrograms) {
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  // Pipes, forks, file reads and a subshell: the everyday syscalls.
  Command("cat /etc/passwd | grep -c : ; (echo sub) ; echo done");
  EXPECT_EQ(Run(), "2\nsub\ndone\n");
}

TEST_F(RuncSpecTest, DroppedCapabilityIsNotEffective) {
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  Command("grep Cap /proc/self/status");
  std::string with_defaults = Run();
  EXPECT_TRUE(CapMask(with_defaults, "CapEff") & (uint64_t{1} << kCapNetRaw)) << with_defaults;

  security()->mutable_capabilities()->add_drop_capabilities("NET_RAW");
  std::string dropped = Run();
  EXPECT_FALSE(CapMask(dropped, "CapEff") & (uint64_t{1} << kCapNetRaw)) << dropped;
  EXPECT_FALSE(CapMask(dropped, "CapBnd") & (uint64_t{1} << kCapNetRaw)) << dropped;
  EXPECT_TRUE(CapMask(dropped, "CapEff") & (uint64_t{1} << kCapChown)) << dropped;
  EXPECT_EQ(CapMask(dropped, "CapInh"), 0u) << dropped;
}

// Privileged: every capability, the host's devices, no seccomp even when
// RuntimeDefault is asked for, and a writable /sys.
TEST_F(RuncSpecTest, PrivilegedGetsEverything) {
  security()->set_privileged(true);
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  Command(
      "grep -E '^(Seccomp|CapEff):' /proc/self/status; test -c /dev/null "
      "&& echo null-ok;"
      " grep -q ' /sys sysfs rw' /proc/self/mounts && echo sys-rw; unshare "
      "-U true; echo rc=$?");
  std::string out = Run();
  EXPECT_THAT(out, HasSubstr("Seccomp:\t0\n"));
  EXPECT_THAT(out, HasSubstr("null-ok"));
  EXPECT_THAT(out, HasSubstr("sys-rw"));
  EXPECT_THAT(out, HasSubstr("rc=0"));
  uint64_t eff = CapMask(out, "CapEff");
  EXPECT_TRUE(eff & (uint64_t{1} << 21)) << "CAP_SYS_ADMIN: " << out;
}

TEST_F(RuncSpecTest, RunsAsTheImagesNamedUser) {
  security()->set_run_as_username("app");
  security()->add_supplemental_groups(4242);
  Command("id -u; id -g; id -G");
  EXPECT_EQ(Run(), "1000\n1000\n1000 10 4242\n");
}

}  // namespace
}  // namespace crius::oci
