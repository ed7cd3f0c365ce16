// CreateContainer and StartContainer under injected faults, against a real
// criusd, conmon, runc and overlayfs: runc refusing create, runc creating
// the container and then failing anyway, runc start failing, conmon
// missing, a mount the runtime cannot make, a missing image or mount
// source, a create slower than the caller's deadline and a daemon killed in
// the middle of a create. Each failure must reach the caller with its cause
// and leave nothing on the node: no overlay mount, rootfs or bundle dir, no
// record, no runtime state, no container cgroup or process, no conmon, and
// the name free for kubelet's retry, which must give a working container.
//
// The pod's runtime handler ("fault", the default here) is a shell script in
// the test's temp dir that runs the real runc except for the fault the test
// selects through a mode file; it logs every call, so the test learns the
// id of a container whose create never returned one. Its conmon is a
// symlink to the real one, so a test can take it away. Needs root.

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/exec.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "oci/monitor.h"
#include "test/e2e/container_util.h"

namespace crius::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRunc[] = "/usr/sbin/runc";
constexpr char kConmon[] = "/usr/bin/conmon";
constexpr char kCreateError[] = "crius-fault: injected create failure";
constexpr char kAfterCreateError[] = "crius-fault: created, then failed";
constexpr char kStartError[] = "crius-fault: injected start failure";

std::string Hex(size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(digits[rd() % 16]);
  return out;
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      int v = 0;
      size_t j = 1;
      for (; j <= 3 && i + j < s.size() && s[i + j] >= '0' && s[i + j] <= '7'; ++j) {
        v = v * 8 + (s[i + j] - '0');
      }
      if (j == 4) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

struct MountEntry {
  std::string root, mount_point, fstype;
};

std::vector<MountEntry> Mounts() {
  std::vector<MountEntry> out;
  auto text = ReadFile("/proc/self/mountinfo");
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || dash + 1 == f.end()) continue;
    out.push_back({Unescape(f[3]), Unescape(f[4]), std::string(*(dash + 1))});
  }
  return out;
}

// Every cgroup hierarchy's mount point (v1 controllers and the v2 mount).
std::vector<std::string> CgroupHierarchies() {
  std::vector<std::string> out;
  for (const auto& m : Mounts()) {
    if ((m.fstype == "cgroup" || m.fstype == "cgroup2") && m.root == "/" &&
        std::find(out.begin(), out.end(), m.mount_point) == out.end()) {
      out.push_back(m.mount_point);
    }
  }
  return out;
}

// argv of a live process, "" when it is gone.
std::vector<std::string> CmdlineOf(const std::string& pid) {
  auto text = ReadFile("/proc/" + pid + "/cmdline", 1 << 16);
  if (!text.ok()) return {};
  return absl::StrSplit(*text, '\0', absl::SkipEmpty());
}

bool IsPid(const std::string& name) {
  int pid = 0;
  return absl::SimpleAtoi(name, &pid) && pid > 0;
}

class ContainerFault : public ContainerE2E {
 protected:
  std::string ctl_dir() const { return d_.dir() + "/fault"; }
  std::string wrapper() const { return ctl_dir() + "/runc"; }
  std::string conmon_link() const { return ctl_dir() + "/bin/conmon"; }
  std::string runc_root() const { return d_.dir() + "/fault-runc-root"; }
  std::string pod_cgroup() const { return pod_config_.linux().cgroup_parent(); }

  void BeforeDaemonStart() override {
    ASSERT_TRUE(MkdirAll(ctl_dir() + "/bin").ok());
    ASSERT_EQ(::symlink(kConmon, conmon_link().c_str()), 0);
    // `create`: conmon runs `runc --root=.. --log=.. create --bundle ..
    // --pid-file .. <id>`; runc's stderr is conmon's pipe, which conmon
    // reports back on a failed create.
    const std::string script = absl::StrCat(
        "#!/bin/sh\n", "ctl='", ctl_dir(), "'\n", "printf '%s\\n' \"$*\" >> \"$ctl/calls\"\n",
        "mode=$(cat \"$ctl/mode\" 2>/dev/null)\n", "case \" $* \" in\n", "*' create '*)\n",
        "  case \"$mode\" in\n", "  create-fail) echo '", kCreateError, "' >&2; exit 1 ;;\n",
        "  create-then-fail)\n", "    ", kRunc, " \"$@\" || exit $?\n",
        "    : > \"$ctl/created\"\n", "    echo '", kAfterCreateError, "' >&2; exit 1 ;;\n",
        "  create-slow) sleep 3 ;;\n", "  create-hang)\n",
        "    echo $$ > \"$ctl/hang.pid.tmp\" && mv \"$ctl/hang.pid.tmp\" \"$ctl/hang.pid\"\n",
        "    exec sleep 600 ;;\n", "  esac ;;\n", "*' start '*)\n",
        "  if [ \"$mode\" = start-fail ]; then echo '", kStartError, "' >&2; exit 1; fi ;;\n",
        "esac\n", "exec ", kRunc, " \"$@\"\n");
    ASSERT_TRUE(WriteFileAtomic(wrapper(), script, 0755).ok());
    SetMode("pass");
    absl::StrAppend(&d_.config_yaml,
                    "runtime:\n"
                    "  default_handler: fault\n"
                    "  handlers:\n"
                    "    fault:\n"
                    "      path: ",
                    wrapper(), "\n", "      root: ", runc_root(), "\n",
                    "      monitor_path: ", conmon_link(), "\n");
  }

  // Containers go under a pod cgroup of the test's own, so the check for
  // leaked container cgroups sees no one else's.
  void EditPod(runtime::v1::PodSandboxConfig& pod) override {
    pod.mutable_linux()->set_cgroup_parent(
        absl::StrCat(cgroup_root_, "/pod", pod.metadata().uid()));
  }

  void TearDown() override {
    ContainerE2E::TearDown();
    Sweep();
  }

  void SetMode(const std::string& mode) {
    ASSERT_TRUE(WriteFileAtomic(ctl_dir() + "/mode", mode + "\n").ok());
  }

  // The argument lists the runtime wrapper saw, in order.
  std::vector<std::string> Calls() const {
    auto text = ReadFile(ctl_dir() + "/calls");
    if (!text.ok()) return {};
    return absl::StrSplit(*text, '\n', absl::SkipEmpty());
  }
  // The ids of every `create` the runtime was asked for.
  std::vector<std::string> CreatedIds() const {
    std::vector<std::string> ids;
    for (const std::string& call : Calls()) {
      std::vector<std::string> args = absl::StrSplit(call, ' ', absl::SkipEmpty());
      if (std::find(args.begin(), args.end(), "create") != args.end()) ids.push_back(args.back());
    }
    return ids;
  }

  // conmon processes of this daemon (their argv names our temp dir).
  std::vector<std::string> ConmonPids() const {
    std::vector<std::string> out;
    for (const std::string& pid : DirEntries("/proc")) {
      if (!IsPid(pid)) continue;
      auto argv = CmdlineOf(pid);
      if (argv.empty() || std::filesystem::path(argv[0]).filename() != "conmon") continue;
      for (const auto& a : argv) {
        if (absl::StrContains(a, d_.dir())) {
          out.push_back(pid + " " + absl::StrJoin(argv, " "));
          break;
        }
      }
    }
    return out;
  }

  // Everything container-related on the node that does not belong to one of
  // `keep` (ids of containers the test still has), described.
  std::vector<std::string> Leftovers(const std::set<std::string>& keep = {}) {
    std::vector<std::string> out;
    // The pod's infra process (a shared PID namespace, the CRI default)
    // runs under the pod's id through the same handler.
    auto kept = [&keep, this](absl::string_view s) {
      if (!pod_id_.empty() && (absl::StrContains(s, pod_id_) ||
                               absl::StrContains(s, "crius-infra-" + pod_id_.substr(0, 12)))) {
        return true;
      }
      for (const auto& id : keep) {
        if (absl::StrContains(s, id) || s == oci::AttachKey(id)) return true;
      }
      return false;
    };
    auto scan = [&](const std::string& dir, const std::string& what,
                    const std::set<std::string>& ignore = {}) {
      for (const auto& name : DirEntries(dir)) {
        if (!ignore.contains(name) && !kept(name)) out.push_back(what + " " + dir + "/" + name);
      }
    };
    scan(d_.state_dir() + "/containers", "bundle");
    scan(d_.root_dir() + "/overlay", "rootfs dir", {"l", ".empty"});
    scan(d_.root_dir() + "/containers", "container record");
    scan(d_.state_dir() + "/exits", "exit file");
    scan(d_.state_dir() + "/attach", "attach link");
    scan(runc_root(), "runc state");
    ExecOptions list;
    list.argv = {kRunc, "--root", runc_root(), "list", "-q"};
    list.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    auto listed = ::crius::Exec(list);
    if (listed.ok()) {
      for (absl::string_view id : absl::StrSplit(listed->stdout_data, '\n', absl::SkipEmpty())) {
        if (!kept(id)) out.push_back(absl::StrCat("`runc list` shows ", id));
      }
    }
    for (const auto& m : Mounts()) {
      if (m.fstype == "overlay" && absl::StartsWith(m.mount_point, d_.dir() + "/") &&
          !kept(m.mount_point)) {
        out.push_back("overlay mount " + m.mount_point);
      }
    }
    if (!pod_cgroup().empty()) {
      for (const auto& h : CgroupHierarchies()) {
        for (const auto& name : DirEntries(h + pod_cgroup())) {
          if (absl::StartsWith(name, "crius-") && !kept(name)) {
            out.push_back("container cgroup " + h + pod_cgroup() + "/" + name);
          }
        }
      }
      // A container process (runc init included) in a container cgroup.
      for (const std::string& pid : DirEntries("/proc")) {
        if (!IsPid(pid)) continue;
        auto cg = ReadFile("/proc/" + pid + "/cgroup", 1 << 16);
        if (!cg.ok()) continue;
        for (absl::string_view line : absl::StrSplit(*cg, '\n', absl::SkipEmpty())) {
          if (absl::StrContains(line, pod_cgroup() + "/crius-") && !kept(line)) {
            // A zombie holds nothing: it waits for its parent, here PID 1
            // once runc's init was orphaned, and PID 1 reaps slowly here.
            auto stat = ReadFile("/proc/" + pid + "/stat", 4096);
            if (!stat.ok()) break;
            const size_t paren = stat->rfind(')');
            if (paren != std::string::npos && stat->compare(paren, 3, ") Z") == 0) break;
            out.push_back(absl::StrCat("process ", pid, " in ", line, ": ", *stat));
            break;
          }
        }
      }
    }
    for (const auto& c : ConmonPids()) {
      if (!kept(c)) out.push_back("conmon " + c);
    }
    if (d_.Running()) {
      auto resp = d_.client().ListContainers({});
      EXPECT_TRUE(resp.ok()) << resp.status();
      if (resp.ok()) {
        for (const auto& c : resp->containers()) {
          if (!keep.contains(c.id())) out.push_back("ListContainers shows " + c.id());
        }
      }
    }
    return out;
  }

  // kubelet's retry under the same name once the fault is gone: a container
  // that starts, runs and answers exec, and is the only one left.
  std::string ExpectWorkingRetry(const std::string& name) {
    SetMode("pass");
    auto id = Create(name, {"/bin/sleep", "1000"});
    EXPECT_TRUE(id.ok()) << "retry of " << name << ": " << id.status() << d_.Log();
    if (!id.ok()) return "";
    EXPECT_TRUE(Start(*id).ok()) << d_.Log();
    WaitFor(*id, runtime::v1::CONTAINER_RUNNING);
    EXPECT_EQ(Exec(*id, {"/bin/echo", "alive"}).stdout(), "alive\n");
    EXPECT_THAT(Leftovers({*id}), IsEmpty());
    return *id;
  }

  absl::Status RemoveContainer(const std::string& id) {
    runtime::v1::RemoveContainerRequest rm;
    rm.set_container_id(id);
    return d_.client().RemoveContainer(rm).status();
  }

  // Last resort after the pod is gone, so a failing test leaves nothing
  // either: runtime state, conmons of this daemon, mounts under the temp
  // dir and the test's cgroups. Anything found here is a leak.
  void Sweep() {
    std::vector<std::string> found;
    for (const auto& id : DirEntries(runc_root())) {
      found.push_back("runc container " + id);
      ExecOptions del;
      del.argv = {kRunc, "--root", runc_root(), "delete", "--force", id};
      del.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
      (void)::crius::Exec(del);
    }
    for (const auto& c : ConmonPids()) {
      found.push_back("conmon " + c);
      int pid = 0;
      if (absl::SimpleAtoi(c.substr(0, c.find(' ')), &pid)) ::kill(pid, SIGKILL);
    }
    std::vector<std::string> mounts;
    for (const auto& m : Mounts()) {
      if (absl::StartsWith(m.mount_point, d_.dir() + "/")) mounts.push_back(m.mount_point);
    }
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
      found.push_back("mount " + *it);
      (void)::umount2(it->c_str(), MNT_DETACH);
    }
    for (const auto& h : CgroupHierarchies()) {
      const std::string top = h + cgroup_root_;
      if (!Exists(top)) continue;
      std::vector<std::string> dirs = {top};
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(top, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path().string());
      }
      std::sort(dirs.begin(), dirs.end(),
                [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
      for (const auto& d : dirs) {
        found.push_back("cgroup " + d);
        (void)::rmdir(d.c_str());
      }
    }
    EXPECT_THAT(found, IsEmpty()) << "left after the pod was removed";
  }

  const std::string cgroup_root_ = "/crius-fault-" + Hex(10);
};

// runc refuses the container: the caller gets runc's own words, and every
// step of the create (bundle, rootfs mount, runtime state) is undone.
TEST_F(ContainerFault, RuntimeCreateFailureReachesTheCallerAndLeavesNothing) {
  SetMode("create-fail");
  auto id = Create("web", {"/bin/sleep", "1000"});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInternal) << id.status();
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(kCreateError));
  ASSERT_EQ(CreatedIds().size(), 1u) << "the runtime was never asked to create";
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// runc made the container (state, cgroup, init waiting in its exec fifo),
// then the runtime exited non-zero anyway: the rollback must delete what
// runc holds, not only what crius made.
TEST_F(ContainerFault, CreateThatRuncCompletedButReportedFailedIsDeleted) {
  SetMode("create-then-fail");
  auto id = Create("web", {"/bin/sleep", "1000"});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInternal) << id.status();
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(kAfterCreateError));
  ASSERT_TRUE(Exists(ctl_dir() + "/created")) << "runc never created the container";
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// runc start fails: a clear error, a container EXITED with StartError, and a
// RemoveContainer that takes everything down (conmon still waits on it).
TEST_F(ContainerFault, StartFailureIsReportedAndRemoveLeavesNothing) {
  SetMode("start-fail");
  auto id = Create("web", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  absl::Status started = Start(*id);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.code(), absl::StatusCode::kInternal) << started;
  EXPECT_THAT(std::string(started.message()), HasSubstr(kStartError));
  auto st = Status(*id);
  ASSERT_TRUE(st.ok()) << st.status();
  // Reported as containerd does, so kubelet shows why and restarts it.
  EXPECT_EQ(st->state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(st->exit_code(), 128);
  EXPECT_EQ(st->reason(), "StartError");
  EXPECT_THAT(st->message(), HasSubstr(kStartError));
  EXPECT_GT(st->finished_at(), 0);
  EXPECT_EQ(Start(*id).code(), absl::StatusCode::kFailedPrecondition) << "not startable again";

  ASSERT_TRUE(RemoveContainer(*id).ok()) << d_.Log();
  EXPECT_EQ(Status(*id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// The monitor binary is gone: the error names it; nothing was started.
TEST_F(ContainerFault, MissingConmonIsAClearErrorAndLeavesNothing) {
  ASSERT_EQ(::unlink(conmon_link().c_str()), 0);
  auto id = Create("web", {"/bin/sleep", "1000"});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition) << id.status();
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(conmon_link())) << id.status();
  EXPECT_THAT(CreatedIds(), IsEmpty());
  EXPECT_THAT(Leftovers(), IsEmpty());
  ASSERT_EQ(::symlink(kConmon, conmon_link().c_str()), 0);
  ExpectWorkingRetry("web");
}

// A command runc cannot find fails inside runc (after it made the cgroup
// and namespaces): runc's own message reaches the caller.
TEST_F(ContainerFault, MissingExecutableFailsWithRuncsMessageAndLeavesNothing) {
  auto id = Create("web", {"/no/such/binary"});
  absl::Status failed = id.ok() ? Start(*id) : id.status();
  ASSERT_FALSE(failed.ok()) << "a container without its executable started";
  EXPECT_THAT(std::string(failed.message()), HasSubstr("/no/such/binary"));
  if (id.ok()) {
    ASSERT_TRUE(RemoveContainer(*id).ok()) << d_.Log();
  }
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// A mount crius accepts but the kernel refuses (a file over a directory):
// runc fails mid-create and says why.
TEST_F(ContainerFault, MountTheRuntimeCannotMakeFailsWithItsErrorAndLeavesNothing) {
  const std::string file = d_.dir() + "/a-file";
  ASSERT_TRUE(WriteFileAtomic(file, "x").ok());
  auto id = Create("web", {"/bin/sleep", "1000"}, [&](runtime::v1::ContainerConfig& c) {
    auto* m = c.add_mounts();
    m->set_host_path(file);
    m->set_container_path("/bin");
  });
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInternal) << id.status();
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("/bin"));
  EXPECT_EQ(CreatedIds().size(), 1u);
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// Requests refused before the runtime runs: a mount source that does not
// exist (kubelet creates every host path it passes; CRI-O refuses too) and a
// relative container path. The rootfs was already mounted when the spec was
// built, so the rollback is exercised.
TEST_F(ContainerFault, BadMountsAreInvalidArgumentAndLeaveNothing) {
  const std::string missing = d_.dir() + "/no-such-dir";
  auto id = Create("web", {"/bin/sleep", "1000"}, [&](runtime::v1::ContainerConfig& c) {
    auto* m = c.add_mounts();
    m->set_host_path(missing);
    m->set_container_path("/data");
  });
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << id.status();
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(missing));
  EXPECT_FALSE(Exists(missing)) << "the daemon created the missing host path";
  EXPECT_THAT(Leftovers(), IsEmpty());

  for (const std::string target : {"data", "../data", "/"}) {
    auto rel = Create("web", {"/bin/sleep", "1000"}, [&](runtime::v1::ContainerConfig& c) {
      auto* m = c.add_mounts();
      m->set_host_path(d_.dir());
      m->set_container_path(target);
    });
    ASSERT_FALSE(rel.ok()) << target;
    EXPECT_EQ(rel.status().code(), absl::StatusCode::kInvalidArgument)
        << target << ": " << rel.status();
    EXPECT_THAT(std::string(rel.status().message()), HasSubstr("container_path")) << target;
  }
  EXPECT_THAT(CreatedIds(), IsEmpty());
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

TEST_F(ContainerFault, MissingImageIsNotFoundAndLeavesNothing) {
  const std::string absent = registry_->host() + "/e2e/absent:v1";
  auto id = Create("web", {"/bin/sleep", "1000"},
                   [&](runtime::v1::ContainerConfig& c) { c.mutable_image()->set_image(absent); });
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kNotFound) << id.status();
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(absent));
  EXPECT_THAT(CreatedIds(), IsEmpty());
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// kubelet gives up on a slow create and retries with the same name: the
// retry waits for the first attempt and gets its container, never a second.
TEST_F(ContainerFault, CreateOutlivingTheCallersDeadlineIsHandedToTheRetry) {
  SetMode("create-slow");
  runtime::v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id_);
  *req.mutable_sandbox_config() = pod_config_;
  req.mutable_config()->mutable_metadata()->set_name("slow");
  req.mutable_config()->mutable_image()->set_image(image_);
  req.mutable_config()->add_command("/bin/sleep");
  req.mutable_config()->add_command("1000");
  auto first = d_.client().CreateContainer(req, absl::Seconds(1));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded) << first.status();
  auto retry = d_.client().CreateContainer(req);
  ASSERT_TRUE(retry.ok()) << retry.status() << d_.Log();
  const std::string id = retry->container_id();
  EXPECT_EQ(CreatedIds(), std::vector<std::string>{id}) << "the runtime created more than once";
  SetMode("pass");
  ASSERT_TRUE(Start(id).ok()) << d_.Log();
  WaitFor(id, runtime::v1::CONTAINER_RUNNING);
  EXPECT_THAT(Leftovers({id}), IsEmpty());
}

// criusd dies while runc create hangs: no reply, no record. The restarted
// daemon must still undo the half-made container, and the name is free.
TEST_F(ContainerFault, DaemonKilledDuringCreateLeavesNothingAfterRestart) {
  SetMode("create-hang");
  runtime::v1::CreateContainerRequest req;
  req.set_pod_sandbox_id(pod_id_);
  *req.mutable_sandbox_config() = pod_config_;
  req.mutable_config()->mutable_metadata()->set_name("web");
  req.mutable_config()->mutable_image()->set_image(image_);
  req.mutable_config()->add_command("/bin/sleep");
  req.mutable_config()->add_command("1000");
  EXPECT_FALSE(d_.client().CreateContainer(req, absl::Milliseconds(500)).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!Exists(ctl_dir() + "/hang.pid") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(Exists(ctl_dir() + "/hang.pid")) << "the runtime never reached its hang" << d_.Log();
  ASSERT_TRUE(d_.Kill().ok());
  auto pid_text = ReadFile(ctl_dir() + "/hang.pid");
  ASSERT_TRUE(pid_text.ok());
  const std::string hang_pid(absl::StripAsciiWhitespace(*pid_text));
  auto hanging = [&] {
    auto argv = CmdlineOf(hang_pid);
    return argv.size() == 2 && argv[1] == "600";
  };
  ASSERT_TRUE(hanging()) << "the hanging runtime create died with the daemon";
  SetMode("pass");

  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  // Recovery killed the conmon still waiting on the create, and with it the
  // runtime (the sleep is our script's, so it may be ended here if not).
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (hanging() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
  if (hanging()) {
    ADD_FAILURE() << "the hanging runtime create outlived recovery";
    int pid = 0;
    if (absl::SimpleAtoi(hang_pid, &pid)) ::kill(pid, SIGKILL);
  }
  EXPECT_THAT(Leftovers(), IsEmpty());
  ExpectWorkingRetry("web");
}

// The process a pid file in a bundle names (conmon.pid, container.pid).
oci::ProcessIdentity ProcessFromPidFile(const std::string& path) {
  auto text = ReadFile(path, 64);
  EXPECT_TRUE(text.ok()) << path << ": " << text.status();
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid)) return {};
  auto who = oci::IdentifyProcess(pid);
  EXPECT_TRUE(who.ok()) << path << ": " << who.status();
  return who.ok() ? *who : oci::ProcessIdentity{};
}

class ConmonKilledFault : public ContainerFault {
 protected:
  // A running container and its conmon and container processes.
  void RunContainer() {
    auto id = Create("web", {"/bin/sleep", "1000"});
    ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
    id_ = *id;
    ASSERT_TRUE(Start(id_).ok()) << d_.Log();
    WaitFor(id_, runtime::v1::CONTAINER_RUNNING);
    const std::string bundle = d_.state_dir() + "/containers/" + id_;
    conmon_ = ProcessFromPidFile(bundle + "/conmon.pid");
    container_ = ProcessFromPidFile(bundle + "/container.pid");
    ASSERT_NE(conmon_.pid, 0);
    ASSERT_NE(container_.pid, 0);
    auto argv = CmdlineOf(std::to_string(conmon_.pid));
    ASSERT_FALSE(argv.empty());
    ASSERT_EQ(std::filesystem::path(argv[0]).filename(), "conmon");
  }
  void KillConmon() { ASSERT_EQ(::kill(conmon_.pid, SIGKILL), 0); }

  // The container ends EXITED with the cause, its process gone; Stop and
  // Remove work and leave nothing; the name serves kubelet's retry.
  void ExpectExitedAndRemovable() {
    runtime::v1::ContainerStatus st = WaitFor(id_, runtime::v1::CONTAINER_EXITED);
    EXPECT_EQ(st.exit_code(), 137);
    EXPECT_EQ(st.reason(), "ConmonDied");
    EXPECT_THAT(st.message(), HasSubstr("conmon"));
    EXPECT_TRUE(oci::WaitForProcessExit(container_, absl::Seconds(10)).ok())
        << "the container still runs without its conmon";
    runtime::v1::StopContainerRequest stop;
    stop.set_container_id(id_);
    stop.set_timeout(10);
    EXPECT_TRUE(d_.client().StopContainer(stop).ok()) << d_.Log();
    ASSERT_TRUE(RemoveContainer(id_).ok()) << d_.Log();
    EXPECT_THAT(Leftovers(), IsEmpty());
    ExpectWorkingRetry("web");
  }

  std::string id_;
  oci::ProcessIdentity conmon_, container_;
};

// conmon SIGKILLed while its container runs: nobody holds the container's
// output or will write its exit code. criusd notices conmon's death, kills
// the container and records it EXITED (137, reason ConmonDied) instead of
// showing it RUNNING forever.
TEST_F(ConmonKilledFault, WhileTheContainerRunsTheContainerEndsExited) {
  RunContainer();
  KillConmon();
  ExpectExitedAndRemovable();
}

// The same while criusd is down: recovery finds the conmon gone and the
// runtime's container still running.
TEST_F(ConmonKilledFault, WhileTheDaemonIsDownRecoveryEndsTheContainer) {
  RunContainer();
  ASSERT_TRUE(d_.Kill().ok());
  KillConmon();
  ASSERT_TRUE(oci::WaitForProcessExit(conmon_, absl::Seconds(10)).ok());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  ExpectExitedAndRemovable();
}

}  // namespace
}  // namespace crius::testing
