// A container's security and resource configuration as the workload sees
// it, through the real daemon (runc, conmon, overlay rootfs, cgroups):
// memory limits and the OOM killer, cgroup limits and their updates, the
// user and groups a process runs as, a read-only rootfs, capabilities,
// seccomp, masked and read-only /proc paths, and volume mount propagation.
// Every check looks from inside the container (its /proc, its cgroup files,
// its `id`), or from the node for what must cross the mount boundary.

#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "test/e2e/container_util.h"

namespace crius::testing {
namespace {

namespace v1 = runtime::v1;

// Users and groups of the test image, replacing busybox's: alice belongs to
// devs and ops, bob to devs; audio has no members.
constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "alice:x:1500:1500:alice:/home/app:/bin/sh\n"
    "bob:x:1600:1600:bob:/home/app:/bin/sh\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "alice:x:1500:\n"
    "bob:x:1600:\n"
    "devs:x:2001:alice,bob\n"
    "ops:x:2002:alice\n"
    "audio:x:2003:\n";

// Capability bit numbers (linux/capability.h).
constexpr int kCapChown = 0;
constexpr int kCapNetRaw = 13;
constexpr int kCapSysAdmin = 21;
// The 14 capabilities a container gets by default (containerd's and
// Docker's set): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
// SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.
constexpr uint64_t kDefaultCaps = (1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) |
                                  (1ull << 5) | (1ull << 6) | (1ull << 7) | (1ull << 8) |
                                  (1ull << 10) | (1ull << 13) | (1ull << 18) | (1ull << 27) |
                                  (1ull << 29) | (1ull << 31);

// Whether criusd drives a pure cgroup v2 host (the container then has a
// cgroup namespace and sees its own cgroup at /sys/fs/cgroup).
bool HostIsCgroupV2() {
  struct stat st;
  return ::stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
}

// The text of a CRI log (both streams, in order): each entry is
// "<time> <stream> <P|F> <text>"; F ends a line, P continues it.
std::string LogText(const std::string& log) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (f.size() < 3) continue;
    if (f.size() == 4) out.append(f[3].data(), f[3].size());
    if (f[2] == "F") out.push_back('\n');
  }
  return out;
}

// The value after "key=" on its own line of `text`; "<missing>" if absent.
std::string Field(const std::string& text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, "=")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "<missing>";
}

// A capability set from /proc/self/status ("CapEff:\t00000000a80425fb").
uint64_t CapSet(const std::string& status, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, ":")) continue;
    uint64_t bits = 0;
    if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &bits)) return bits;
  }
  ADD_FAILURE() << "no " << name << " in " << status;
  return ~uint64_t{0};
}

std::set<int64_t> Ids(absl::string_view text) {
  std::set<int64_t> out;
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    int64_t v = 0;
    if (absl::SimpleAtoi(word, &v)) out.insert(v);
  }
  return out;
}

// The /proc/self/mountinfo line of the mount at `target`, split into
// fields; empty when nothing is mounted there.
std::vector<std::string> MountInfo(const std::string& mountinfo, absl::string_view target) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() > 4 && f[4] == target) found = std::move(f);  // the last one is on top
  }
  return found;
}

// The optional propagation tags of a mountinfo line ("shared:3 master:1").
std::string PropagationTags(const std::vector<std::string>& fields) {
  std::string tags;
  for (size_t i = 6; i < fields.size() && fields[i] != "-"; ++i) {
    absl::StrAppend(&tags, tags.empty() ? "" : " ", fields[i]);
  }
  return tags;
}

class ConfigE2E : public ContainerE2E {
 protected:
  void EditImage(ImageBuilder& b) override {
    b.AddLayer({TarEntry::File("etc/passwd", kPasswd), TarEntry::File("etc/group", kGroup)});
    if (!ImageUser().empty()) b.User(ImageUser());
  }
  virtual std::string ImageUser() const { return ""; }

  // Creates and starts `cmd`, waits until it exits and returns its status;
  // its output (both streams) lands in *output.
  v1::ContainerStatus RunToExit(const std::string& name, std::vector<std::string> cmd,
                                const std::function<void(v1::ContainerConfig&)>& edit,
                                std::string* output) {
    auto id = Create(name, std::move(cmd), edit);
    EXPECT_TRUE(id.ok()) << name << ": " << id.status() << d_.Log();
    if (!id.ok()) return {};
    auto started = Start(*id);
    EXPECT_TRUE(started.ok()) << name << ": " << started << d_.Log();
    if (!started.ok()) return {};
    v1::ContainerStatus st = WaitFor(*id, v1::CONTAINER_EXITED);
    if (output != nullptr) *output = LogText(ReadLog(name));
    return st;
  }

  // Creates and starts a container that sleeps, and waits until it runs.
  std::string RunSleeper(const std::string& name,
                         const std::function<void(v1::ContainerConfig&)>& edit = nullptr) {
    auto id = Create(name, {"/bin/sleep", "1000"}, edit);
    EXPECT_TRUE(id.ok()) << name << ": " << id.status() << d_.Log();
    if (!id.ok()) return "";
    auto started = Start(*id);
    EXPECT_TRUE(started.ok()) << name << ": " << started << d_.Log();
    if (!started.ok()) return "";
    WaitFor(*id, v1::CONTAINER_RUNNING);
    return *id;
  }

  // ExecSync of a shell script; its stdout, with stderr after it.
  std::string Sh(const std::string& id, const std::string& script) {
    auto r = Exec(id, {"/bin/sh", "-c", script}, 20);
    return r.stdout() + r.stderr();
  }
};

// ---------------------------------------------------------------- memory

TEST_F(ConfigE2E, AContainerOverItsMemoryLimitEndsOomKilled) {
  auto limit = [](v1::ContainerConfig& c) {
    auto* r = c.mutable_linux()->mutable_resources();
    r->set_memory_limit_in_bytes(16 << 20);
    r->set_memory_swap_limit_in_bytes(16 << 20);
  };
  // dd reads into one buffer of bs bytes: 64 MiB must be resident at once.
  std::string out;
  v1::ContainerStatus st = RunToExit(
      "hog", {"/bin/sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=1"}, limit, &out);
  EXPECT_EQ(st.reason(), "OOMKilled") << st.DebugString() << out;
  EXPECT_EQ(st.exit_code(), 137) << "SIGKILL from the OOM killer";

  // The same limit with a buffer that fits: the limit alone is not fatal.
  st = RunToExit("fits", {"/bin/sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=4M count=1"},
                 limit, &out);
  EXPECT_EQ(st.reason(), "Completed") << st.DebugString() << out;
  EXPECT_EQ(st.exit_code(), 0) << out;
}

// ---------------------------------------------------------------- cgroups

// The container's own cgroup limits, as it reads them: memory=<bytes or
// max> cpu=<quota> <period> weight=<cpu.weight or cpu.shares> pids=<max>,
// and swap: on v2 swap=<memory.swap.max>, on v1 memsw=<memory+swap limit>
// ("none" without swap accounting).
constexpr char kReadLimits[] =
    "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then"
    "  echo memory=$(cat /sys/fs/cgroup/memory.max);"
    "  echo cpu=$(cat /sys/fs/cgroup/cpu.max);"
    "  echo weight=$(cat /sys/fs/cgroup/cpu.weight);"
    "  echo pids=$(cat /sys/fs/cgroup/pids.max);"
    "  echo swap=$(cat /sys/fs/cgroup/memory.swap.max 2>/dev/null || echo none);"
    "else"
    "  echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes);"
    "  echo cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat "
    "/sys/fs/cgroup/cpu/cpu.cfs_period_us);"
    "  echo weight=$(cat /sys/fs/cgroup/cpu/cpu.shares);"
    "  echo pids=$(cat /sys/fs/cgroup/pids/pids.max);"
    "  echo memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo "
    "none);"
    "fi";

// cpu.shares as runc writes it on v2 (cpu.weight, 1..10000).
int64_t SharesToWeight(int64_t shares) { return 1 + ((shares - 2) * 9999) / 262142; }

TEST_F(ConfigE2E, CgroupLimitsAreWhatTheContainerSeesAndUpdatesChangeThem) {
  const bool v2 = HostIsCgroupV2();
  auto id = RunSleeper("limited", [](v1::ContainerConfig& c) {
    auto* r = c.mutable_linux()->mutable_resources();
    r->set_memory_limit_in_bytes(64 << 20);
    r->set_cpu_period(100000);
    r->set_cpu_quota(50000);
    r->set_cpu_shares(512);
  });
  ASSERT_FALSE(id.empty());
  std::string limits = Sh(id, kReadLimits);
  EXPECT_EQ(Field(limits, "memory"), std::to_string(64 << 20)) << limits;
  EXPECT_EQ(Field(limits, "cpu"), "50000 100000") << limits;
  EXPECT_EQ(Field(limits, "weight"), std::to_string(v2 ? SharesToWeight(512) : 512)) << limits;
  // The CRI has no per-container pids limit: the container's own pids
  // cgroup is unlimited (the pod's or kubelet's limit sits above it).
  EXPECT_EQ(Field(limits, "pids"), "max") << limits;

  v1::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  auto* r = update.mutable_linux();
  r->set_memory_limit_in_bytes(128 << 20);
  r->set_cpu_period(100000);
  r->set_cpu_quota(20000);
  r->set_cpu_shares(256);
  auto updated = d_.client().UpdateContainerResources(update);
  ASSERT_TRUE(updated.ok()) << updated.status() << d_.Log();
  limits = Sh(id, kReadLimits);
  EXPECT_EQ(Field(limits, "memory"), std::to_string(128 << 20)) << limits;
  EXPECT_EQ(Field(limits, "cpu"), "20000 100000") << limits;
  EXPECT_EQ(Field(limits, "weight"), std::to_string(v2 ? SharesToWeight(256) : 256)) << limits;

  auto st = Status(id);
  ASSERT_TRUE(st.ok()) << st.status();
  const auto& reported = st->resources().linux();
  EXPECT_EQ(reported.memory_limit_in_bytes(), 128 << 20) << st->DebugString();
  EXPECT_EQ(reported.cpu_quota(), 20000) << st->DebugString();
  EXPECT_EQ(reported.cpu_period(), 100000) << st->DebugString();
  EXPECT_EQ(reported.cpu_shares(), 256) << st->DebugString();

  // No swap was asked for: where the node accounts swap, memory+swap
  // follows memory, so the container still gets none.
  if (!v2 && Field(limits, "memsw") != "none") {
    EXPECT_EQ(Field(limits, "memsw"), std::to_string(128 << 20)) << limits;
  }
  if (v2 && Field(limits, "swap") != "none") {
    EXPECT_EQ(Field(limits, "swap"), "0") << limits;
  }

  // Lowering memory with a memory+swap limit above it grants that much
  // swap, and the status reports it.
  r->set_memory_limit_in_bytes(32 << 20);
  r->set_memory_swap_limit_in_bytes(48 << 20);
  updated = d_.client().UpdateContainerResources(update);
  ASSERT_TRUE(updated.ok()) << updated.status() << d_.Log();
  limits = Sh(id, kReadLimits);
  EXPECT_EQ(Field(limits, "memory"), std::to_string(32 << 20)) << limits;
  if (!v2 && Field(limits, "memsw") != "none") {
    EXPECT_EQ(Field(limits, "memsw"), std::to_string(48 << 20)) << limits;
  }
  if (v2 && Field(limits, "swap") != "none") {
    EXPECT_EQ(Field(limits, "swap"), std::to_string(16 << 20)) << limits;
  }
  st = Status(id);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->resources().linux().memory_limit_in_bytes(), 32 << 20) << st->DebugString();
  EXPECT_EQ(st->resources().linux().memory_swap_limit_in_bytes(), 48 << 20) << st->DebugString();
}

TEST_F(ConfigE2E, AnUpdatedMemoryLimitStillOomKills) {
  auto id = RunSleeper("grows", [](v1::ContainerConfig& c) {
    c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(256 << 20);
  });
  ASSERT_FALSE(id.empty());
  v1::UpdateContainerResourcesRequest update;
  update.set_container_id(id);
  update.mutable_linux()->set_memory_limit_in_bytes(16 << 20);
  auto updated = d_.client().UpdateContainerResources(update);
  ASSERT_TRUE(updated.ok()) << updated.status() << d_.Log();
  auto r = Exec(id, {"/bin/sh", "-c", "exec dd if=/dev/zero of=/dev/null bs=64M count=1"}, 20);
  EXPECT_EQ(r.exit_code(), 137) << "killed at the new, lower limit: " << r.stderr();
}

// ---------------------------------------------------------------- users

// What `id` says, one value per line: uid, gid, then every group.
constexpr char kId[] = "echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G)";

struct Who {
  int64_t uid, gid;
  std::set<int64_t> groups;
};

void ExpectIdentity(const std::string& out, const Who& want, const std::string& what) {
  EXPECT_EQ(Field(out, "uid"), std::to_string(want.uid)) << what << "\n" << out;
  EXPECT_EQ(Field(out, "gid"), std::to_string(want.gid)) << what << "\n" << out;
  EXPECT_EQ(Ids(Field(out, "groups")), want.groups) << what << "\n" << out;
}

// Image User "alice": a name resolved in the image's /etc/passwd.
class NamedImageUserE2E : public ConfigE2E {
 protected:
  std::string ImageUser() const override { return "alice"; }
};

TEST_F(NamedImageUserE2E, TheImageUserByNameWithGroupsFromEtcGroup) {
  std::string out;
  auto st = RunToExit("image-user", {"/bin/sh", "-c", kId}, nullptr, &out);
  EXPECT_EQ(st.exit_code(), 0) << out;
  ExpectIdentity(out, {1500, 1500, {1500, 2001, 2002}}, "image User alice");
}

TEST_F(NamedImageUserE2E, TheRequestsUserOverridesTheImages) {
  std::string out;
  RunToExit(
      "by-uid", {"/bin/sh", "-c", kId},
      [](v1::ContainerConfig& c) {
        c.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1600);
      },
      &out);
  ExpectIdentity(out, {1600, 1600, {1600, 2001}}, "run_as_user 1600 (bob in /etc/passwd)");

  RunToExit(
      "by-name", {"/bin/sh", "-c", kId},
      [](v1::ContainerConfig& c) {
        c.mutable_linux()->mutable_security_context()->set_run_as_username("bob");
      },
      &out);
  ExpectIdentity(out, {1600, 1600, {1600, 2001}}, "run_as_username bob");

  RunToExit(
      "with-group", {"/bin/sh", "-c", kId},
      [](v1::ContainerConfig& c) {
        auto* s = c.mutable_linux()->mutable_security_context();
        s->mutable_run_as_user()->set_value(1600);
        s->mutable_run_as_group()->set_value(2003);
        s->add_supplemental_groups(3000);
        s->add_supplemental_groups(2002);
      },
      &out);
  ExpectIdentity(out, {1600, 2003, {2003, 2001, 3000, 2002}},
                 "run_as_user 1600, run_as_group 2003, supplemental 3000 and 2002");

  RunToExit(
      "unknown-uid", {"/bin/sh", "-c", kId},
      [](v1::ContainerConfig& c) {
        c.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(4242);
      },
      &out);
  ExpectIdentity(out, {4242, 0, {0}}, "run_as_user 4242, not in /etc/passwd");

  RunToExit(
      "root", {"/bin/sh", "-c", kId},
      [](v1::ContainerConfig& c) {
        c.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(0);
      },
      &out);
  ExpectIdentity(out, {0, 0, {0}}, "run_as_user 0 overrides the image's alice");

  // A name the image does not know is refused at create.
  auto bad = Create("nobody-here", {"/bin/true"}, [](v1::ContainerConfig& c) {
    c.mutable_linux()->mutable_security_context()->set_run_as_username("mallory");
  });
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

TEST_F(NamedImageUserE2E, ExecRunsAsTheContainersUser) {
  auto id = RunSleeper("exec-user");
  ASSERT_FALSE(id.empty());
  ExpectIdentity(Sh(id, kId), {1500, 1500, {1500, 2001, 2002}}, "exec in an alice container");
}

// Image User "1600:2002": numeric uid and gid; bob's /etc/group
// memberships still apply.
class NumericImageUserE2E : public ConfigE2E {
 protected:
  std::string ImageUser() const override { return "1600:2002"; }
};

TEST_F(NumericImageUserE2E, TheImageUserAsUidColonGid) {
  std::string out;
  auto st = RunToExit("uid-gid", {"/bin/sh", "-c", kId}, nullptr, &out);
  EXPECT_EQ(st.exit_code(), 0) << out;
  ExpectIdentity(out, {1600, 2002, {2002, 2001}}, "image User 1600:2002");
}

// ---------------------------------------------------------------- rootfs

TEST_F(ConfigE2E, AReadOnlyRootfsRefusesWritesButItsVolumesDoNot) {
  TempDir host("crius-cfg-vol-");
  ASSERT_EQ(::mkdir(host.Sub("rw").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(host.Sub("ro").c_str(), 0755), 0);
  WriteTestFile(host.Sub("ro/present"), "from the node\n");
  auto volumes = [&](v1::ContainerConfig& c) {
    auto* rw = c.add_mounts();
    rw->set_host_path(host.Sub("rw"));
    rw->set_container_path("/data");
    auto* ro = c.add_mounts();
    ro->set_host_path(host.Sub("ro"));
    ro->set_container_path("/config");
    ro->set_readonly(true);
  };
  const char* script =
      "touch /x 2>&1; echo root=$?;"
      "touch /tmp/x 2>&1; echo tmp=$?;"
      "echo written > /data/out 2>&1; echo data=$?;"
      "touch /config/x 2>&1; echo config=$?;"
      "cat /config/present;"
      "touch /dev/shm/x 2>&1; echo shm=$?";
  std::string out;
  RunToExit(
      "ro-root", {"/bin/sh", "-c", script},
      [&](v1::ContainerConfig& c) {
        volumes(c);
        c.mutable_linux()->mutable_security_context()->set_readonly_rootfs(true);
      },
      &out);
  EXPECT_NE(Field(out, "root"), "0") << out;
  EXPECT_NE(Field(out, "tmp"), "0") << "no tmpfs is added at /tmp\n" << out;
  EXPECT_TRUE(absl::StrContains(out, "Read-only file system")) << out;
  EXPECT_EQ(Field(out, "data"), "0") << out;
  EXPECT_EQ(Field(out, "config"), "1") << "a readonly volume\n" << out;
  EXPECT_TRUE(absl::StrContains(out, "from the node")) << out;
  EXPECT_EQ(Field(out, "shm"), "0") << out;
  auto written = ReadFile(host.Sub("rw/out"));
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, "written\n");

  // The same container with a writable rootfs: the rootfs refusal above
  // came from readonly_rootfs, not from the image or the runtime.
  RunToExit("rw-root", {"/bin/sh", "-c", script}, volumes, &out);
  EXPECT_EQ(Field(out, "root"), "0") << out;
  EXPECT_EQ(Field(out, "tmp"), "0") << out;
  EXPECT_EQ(Field(out, "config"), "1") << out;
}

// ---------------------------------------------------------------- capabilities

TEST_F(ConfigE2E, CapabilitiesAreDroppedAndAdded) {
  auto run = [&](const std::string& name, const std::function<void(v1::Capability&)>& caps,
                 std::string* out) {
    RunToExit(
        name,
        {"/bin/sh", "-c",
         "grep ^Cap /proc/self/status; touch /tmp/f;"
         " /bin/busybox chown 1234:1234 /tmp/f 2>&1; echo chown=$?"},
        [&](v1::ContainerConfig& c) {
          if (caps) caps(*c.mutable_linux()->mutable_security_context()->mutable_capabilities());
        },
        out);
  };
  std::string out;
  run("default-caps", nullptr, &out);
  EXPECT_EQ(CapSet(out, "CapEff"), kDefaultCaps) << out;
  EXPECT_EQ(CapSet(out, "CapBnd"), kDefaultCaps) << out;
  EXPECT_EQ(Field(out, "chown"), "0") << out;

  run(
      "dropped",
      [](v1::Capability& c) {
        c.add_drop_capabilities("CHOWN");
        c.add_drop_capabilities("NET_RAW");
      },
      &out);
  const uint64_t dropped = kDefaultCaps & ~(1ull << kCapChown) & ~(1ull << kCapNetRaw);
  EXPECT_EQ(CapSet(out, "CapEff"), dropped) << out;
  EXPECT_EQ(CapSet(out, "CapBnd"), dropped) << out;
  EXPECT_EQ(Field(out, "chown"), "1") << "root without CAP_CHOWN\n" << out;

  run(
      "added", [](v1::Capability& c) { c.add_add_capabilities("CAP_SYS_ADMIN"); }, &out);
  EXPECT_EQ(CapSet(out, "CapEff"), kDefaultCaps | (1ull << kCapSysAdmin)) << out;
  EXPECT_EQ(CapSet(out, "CapBnd"), kDefaultCaps | (1ull << kCapSysAdmin)) << out;

  run(
      "none", [](v1::Capability& c) { c.add_drop_capabilities("ALL"); }, &out);
  EXPECT_EQ(CapSet(out, "CapEff"), 0u) << out;
  EXPECT_EQ(CapSet(out, "CapBnd"), 0u) << out;
  EXPECT_EQ(CapSet(out, "CapPrm"), 0u) << out;
  EXPECT_EQ(Field(out, "chown"), "1") << out;

  // Drop ALL then add one back: the Kubernetes least-privilege pattern.
  run(
      "only-chown",
      [](v1::Capability& c) {
        c.add_drop_capabilities("ALL");
        c.add_add_capabilities("chown");
      },
      &out);
  EXPECT_EQ(CapSet(out, "CapEff"), 1ull << kCapChown) << out;
  EXPECT_EQ(Field(out, "chown"), "0") << out;
}

// ---------------------------------------------------------------- seccomp

TEST_F(ConfigE2E, RuntimeDefaultSeccompBlocksWhatUnconfinedAllows) {
  // unshare(CLONE_NEWUSER) needs no capability, so only a filter stops it;
  // the default profile allows unshare only with CAP_SYS_ADMIN.
  const char* script =
      "grep ^Seccomp: /proc/self/status;"
      "/bin/busybox unshare -U /bin/true 2>&1; echo unshare=$?";
  auto profile = [](v1::SecurityProfile::ProfileType type) {
    return [type](v1::ContainerConfig& c) {
      c.mutable_linux()->mutable_security_context()->mutable_seccomp()->set_profile_type(type);
    };
  };
  std::string out;
  RunToExit("confined", {"/bin/sh", "-c", script}, profile(v1::SecurityProfile::RuntimeDefault),
            &out);
  EXPECT_EQ(Field(absl::StrReplaceAll(out, {{":", "="}}), "Seccomp"), "2") << "a filter\n" << out;
  EXPECT_NE(Field(out, "unshare"), "0") << out;
  EXPECT_TRUE(absl::StrContains(out, "Operation not permitted")) << out;

  RunToExit("unconfined", {"/bin/sh", "-c", script}, profile(v1::SecurityProfile::Unconfined),
            &out);
  EXPECT_EQ(Field(absl::StrReplaceAll(out, {{":", "="}}), "Seccomp"), "0") << out;
  EXPECT_EQ(Field(out, "unshare"), "0") << "the same call succeeds without the filter\n" << out;

  // The deprecated string field still selects the default profile.
  RunToExit(
      "legacy", {"/bin/sh", "-c", script},
      [](v1::ContainerConfig& c) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        c.mutable_linux()->mutable_security_context()->set_seccomp_profile_path("runtime/default");
#pragma GCC diagnostic pop
      },
      &out);
  EXPECT_EQ(Field(absl::StrReplaceAll(out, {{":", "="}}), "Seccomp"), "2") << out;
  EXPECT_NE(Field(out, "unshare"), "0") << out;
}

// ---------------------------------------------------------------- /proc

TEST_F(ConfigE2E, ProcPathsAreMaskedAndReadOnlyUnlessPrivileged) {
  // Which of the default masked paths this kernel has (/proc/kcore, for
  // one, is absent without CONFIG_PROC_KCORE): masking is only visible on
  // paths that exist.
  struct stat st;
  std::vector<std::string> files, dirs;
  for (const char* p : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}) {
    if (::stat(p, &st) == 0 && S_ISREG(st.st_mode)) files.push_back(p);
  }
  for (const char* p : {"/proc/acpi", "/sys/firmware", "/proc/scsi"}) {
    if (::stat(p, &st) == 0 && S_ISDIR(st.st_mode)) dirs.push_back(p);
  }
  ASSERT_FALSE(files.empty()) << "no maskable /proc file on this kernel";
  std::string script = "cat /proc/self/mountinfo;";
  for (const auto& f : files) {
    absl::StrAppend(&script, "echo ", f, "=$(stat -L -c %F:%t:%T ", f, ") $(head -c 64 ", f,
                    " | wc -c);");
  }
  for (const auto& d : dirs) absl::StrAppend(&script, "echo ", d, "=$(ls -A ", d, " | wc -l);");
  // Opening for writing without writing anything changes nothing even
  // where it is allowed.
  absl::StrAppend(&script, "{ : > /proc/sys/kernel/hostname; } 2>&1; echo sysctl_open=$?");

  std::string out;
  RunToExit("default-proc", {"/bin/sh", "-c", script}, nullptr, &out);
  for (const auto& f : files) {
    EXPECT_EQ(Field(out, f), "character special file:1:3 0")
        << f << ": /dev/null over it, nothing to read\n"
        << out;
    EXPECT_FALSE(MountInfo(out, f).empty()) << f << "\n" << out;
  }
  for (const auto& d : dirs) {
    EXPECT_EQ(Field(out, d), "0") << d << ": an empty tmpfs over it\n" << out;
    EXPECT_FALSE(MountInfo(out, d).empty()) << d << "\n" << out;
  }
  EXPECT_NE(Field(out, "sysctl_open"), "0") << out;
  EXPECT_TRUE(absl::StrContains(out, "Read-only file system")) << out;
  auto sys = MountInfo(out, "/proc/sys");
  ASSERT_GT(sys.size(), 5u) << "/proc/sys is a mount of its own\n" << out;
  EXPECT_TRUE(absl::StartsWith(sys[5], "ro")) << absl::StrJoin(sys, " ");

  RunToExit(
      "privileged-proc", {"/bin/sh", "-c", script},
      [](v1::ContainerConfig& c) {
        c.mutable_linux()->mutable_security_context()->set_privileged(true);
      },
      &out);
  for (const auto& f : files) {
    // The kernel's own file ("regular empty file": proc files report size 0).
    EXPECT_TRUE(absl::StartsWith(Field(out, f), "regular ")) << f << "\n" << out;
    EXPECT_TRUE(MountInfo(out, f).empty()) << f << "\n" << out;
  }
  for (const auto& d : dirs) EXPECT_TRUE(MountInfo(out, d).empty()) << d << "\n" << out;
  EXPECT_EQ(Field(out, "sysctl_open"), "0") << out;
  EXPECT_TRUE(MountInfo(out, "/proc/sys").empty()) << out;
}

// ---------------------------------------------------------------- propagation

// A tmpfs of the test's own, shared (the node's / is private here, and
// kubelet requires a shared source for HostToContainer and Bidirectional),
// with "src" inside it holding a file. Everything mounted below it on the
// node is detached with it, even when the test fails.
class PropagationE2E : public ConfigE2E {
 protected:
  void SetUp() override {
    ConfigE2E::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(::mkdir(vol_.c_str(), 0755), 0) << std::strerror(errno);
    ASSERT_EQ(::mount("tmpfs", vol_.c_str(), "tmpfs", 0, "size=16m"), 0) << std::strerror(errno);
    mounted_ = true;
    ASSERT_EQ(::mount(nullptr, vol_.c_str(), nullptr, MS_SHARED, nullptr), 0)
        << std::strerror(errno);
    ASSERT_EQ(::mkdir((vol_ + "/src").c_str(), 0755), 0);
    WriteTestFile(vol_ + "/src/hello", "hello from the node\n");
  }
  void TearDown() override {
    // The containers first, so nothing holds the mounts; then the node side.
    ConfigE2E::TearDown();
    if (mounted_) {
      EXPECT_EQ(::umount2(vol_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
  }

  // A container with src mounted at /mnt/vol with `propagation`.
  std::string RunWithVolume(const std::string& name, v1::MountPropagation propagation,
                            bool privileged) {
    return RunSleeper(name, [&](v1::ContainerConfig& c) {
      auto* m = c.add_mounts();
      m->set_host_path(vol_ + "/src");
      m->set_container_path("/mnt/vol");
      m->set_propagation(propagation);
      c.mutable_linux()->mutable_security_context()->set_privileged(privileged);
    });
  }

  // Mounts a tmpfs on the node at src/<dir> holding a marker file.
  void MountOnNode(const std::string& dir) {
    std::string path = vol_ + "/src/" + dir;
    ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << std::strerror(errno);
    ASSERT_EQ(::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
    WriteTestFile(path + "/marker", "mounted on the node\n");
  }

  // Mounts a tmpfs inside the container at /mnt/vol/<dir> holding a marker.
  void MountInContainer(const std::string& id, const std::string& dir) {
    std::string out =
        Sh(id, absl::StrCat("mkdir -p /mnt/vol/", dir, " && mount -t tmpfs tmpfs /mnt/vol/", dir,
                            " && echo mounted in the container > /mnt/vol/", dir,
                            "/marker && echo ok"));
    ASSERT_TRUE(absl::StrContains(out, "ok")) << out;
  }

  bool NodeSees(const std::string& relative) {
    struct stat st;
    return ::stat((vol_ + "/src/" + relative).c_str(), &st) == 0;
  }

  TempDir base_{"crius-cfg-prop-"};
  std::string vol_ = base_.Sub("vol");
  bool mounted_ = false;
};

TEST_F(PropagationE2E, PrivateSeesTheFilesButNoLaterMountsEitherWay) {
  auto id = RunWithVolume("private", v1::PROPAGATION_PRIVATE, /*privileged=*/true);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Sh(id, "cat /mnt/vol/hello"), "hello from the node\n");
  std::string info = Sh(id, "cat /proc/self/mountinfo");
  auto m = MountInfo(info, "/mnt/vol");
  ASSERT_FALSE(m.empty()) << info;
  EXPECT_EQ(PropagationTags(m), "") << absl::StrJoin(m, " ");

  ASSERT_NO_FATAL_FAILURE(MountOnNode("late"));
  EXPECT_EQ(Sh(id, "cat /mnt/vol/late/marker 2>/dev/null || echo absent"), "absent\n");
  ASSERT_NO_FATAL_FAILURE(MountInContainer(id, "inner"));
  EXPECT_FALSE(NodeSees("inner/marker"));
}

TEST_F(PropagationE2E, HostToContainerReceivesMountsMadeOnTheNode) {
  auto id = RunWithVolume("rslave", v1::PROPAGATION_HOST_TO_CONTAINER, /*privileged=*/false);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Sh(id, "cat /mnt/vol/hello"), "hello from the node\n");
  std::string info = Sh(id, "cat /proc/self/mountinfo");
  auto m = MountInfo(info, "/mnt/vol");
  ASSERT_FALSE(m.empty()) << info;
  EXPECT_TRUE(absl::StartsWith(PropagationTags(m), "master:")) << absl::StrJoin(m, " ");
  EXPECT_FALSE(absl::StrContains(PropagationTags(m), "shared:")) << absl::StrJoin(m, " ");

  ASSERT_NO_FATAL_FAILURE(MountOnNode("late"));
  EXPECT_EQ(Sh(id, "cat /mnt/vol/late/marker"), "mounted on the node\n");
}

TEST_F(PropagationE2E, BidirectionalSharesMountsBothWays) {
  auto id = RunWithVolume("rshared", v1::PROPAGATION_BIDIRECTIONAL, /*privileged=*/true);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Sh(id, "cat /mnt/vol/hello"), "hello from the node\n");
  std::string info = Sh(id, "cat /proc/self/mountinfo");
  auto m = MountInfo(info, "/mnt/vol");
  ASSERT_FALSE(m.empty()) << info;
  EXPECT_TRUE(absl::StartsWith(PropagationTags(m), "shared:")) << absl::StrJoin(m, " ");

  ASSERT_NO_FATAL_FAILURE(MountOnNode("late"));
  EXPECT_EQ(Sh(id, "cat /mnt/vol/late/marker"), "mounted on the node\n");
  ASSERT_NO_FATAL_FAILURE(MountInContainer(id, "inner"));
  EXPECT_TRUE(NodeSees("inner/marker")) << "a mount made in the container reaches the node";
}

}  // namespace
}  // namespace crius::testing
