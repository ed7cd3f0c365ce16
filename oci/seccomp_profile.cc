#include "oci/seccomp_profile.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::oci {
namespace {

using nlohmann::json;

// Syscalls any container may make: the common allow list of the
// containerd/Docker default profile (a list of facts about which calls are
// harmless inside namespaces), minus io_uring. Names of other architectures
// are harmless here: the profile covers the 32-bit ABIs of this machine too.
// clang-format off
constexpr const char* kAllowed[] = {
    "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl",
    "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
    "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "get_robust_list",
    "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
    "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
    "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
    "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup",
    "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
    "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr",
    "lstat", "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "nanosleep", "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
    "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
    "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
    "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
    "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
    "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg",
    "sendto", "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid", "setsockopt", "setuid",
    "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
    "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair",
    "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
    "writev",
};
// clang-format on

// Syscalls that only make sense with a capability; allowed when the
// container's bounding set holds it.
struct CapabilityGated {
  const char* capability;
  std::vector<const char*> syscalls;
};
const std::vector<CapabilityGated>& GatedSyscalls() {
  static const auto* gated = new std::vector<CapabilityGated>{
      {"CAP_DAC_READ_SEARCH", {"open_by_handle_at"}},
      {"CAP_SYS_ADMIN",
       {"bpf",
        "clone",
        "clone3",
        "fanotify_init",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "lookup_dcookie",
        "mount",
        "mount_setattr",
        "move_mount",
        "name_to_handle_at",
        "open_tree",
        "perf_event_open",
        "quotactl",
        "quotactl_fd",
        "setdomainname",
        "sethostname",
        "setns",
        "syslog",
        "umount",
        "umount2",
        "unshare"}},
      {"CAP_SYS_BOOT", {"reboot"}},
      {"CAP_SYS_CHROOT", {"chroot"}},
      {"CAP_SYS_MODULE", {"delete_module", "init_module", "finit_module"}},
      {"CAP_SYS_PACCT", {"acct"}},
      {"CAP_SYS_PTRACE",
       {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
        "ptrace"}},
      {"CAP_SYS_RAWIO", {"iopl", "ioperm"}},
      {"CAP_SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
      {"CAP_SYS_TTY_CONFIG", {"vhangup"}},
      {"CAP_SYSLOG", {"syslog"}},
      {"CAP_BPF", {"bpf"}},
      {"CAP_PERFMON", {"perf_event_open"}},
  };
  return *gated;
}

// personality(2) values a container may set: the default (PER_LINUX),
// PER_LINUX32 (for 32-bit userlands), UNAME26 variants of both, and the
// 0xffffffff query. Everything else could re-enable legacy behaviours such
// as READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE.
constexpr uint64_t kPersonalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

// The namespace bits of clone(2)'s flags.
constexpr uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

struct KernelVersion {
  int major = 0, minor = 0;
};

KernelVersion RunningKernel() {
  static const KernelVersion version = [] {
    KernelVersion v;
    struct utsname u;
    if (::uname(&u) == 0) std::sscanf(u.release, "%d.%d", &v.major, &v.minor);
    return v;
  }();
  return version;
}

bool KernelAtLeast(int major, int minor) {
  KernelVersion v = RunningKernel();
  return v.major > major || (v.major == major && v.minor >= minor);
}

std::string Machine() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  return u.machine;
}

// The seccomp architecture of this machine and the ABIs its processes may
// also use (a 64-bit x86 kernel runs 32-bit and x32 binaries).
std::vector<std::string> NativeArchitectures() {
  std::string m = Machine();
  if (m == "x86_64") return {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  if (m == "aarch64") return {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
  if (m == "s390x") return {"SCMP_ARCH_S390X", "SCMP_ARCH_S390"};
  if (m == "ppc64le") return {"SCMP_ARCH_PPC64LE"};
  if (m == "riscv64") return {"SCMP_ARCH_RISCV64"};
  return {};
}

// Docker profiles name architectures in "includes"/"excludes" the Go way.
std::string NativeGoArch() {
  std::string m = Machine();
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "i686" || m == "i386") return "386";
  return m;
}

bool Contains(const std::vector<std::string>& set, std::string_view item) {
  return std::find(set.begin(), set.end(), item) != set.end();
}

json AllowRule(std::vector<std::string> names, json args = json::array()) {
  json rule{{"names", std::move(names)}, {"action", "SCMP_ACT_ALLOW"}};
  if (!args.empty()) rule["args"] = std::move(args);
  return rule;
}

std::vector<std::string> KnownOnly(const std::vector<std::string>& names, bool warn) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (SyscallKnown(name)) {
      out.push_back(name);
    } else if (warn) {
      CRIUS_LOG(kWarn) << "seccomp profile: syscall \"" << name
                       << "\" is unknown to libseccomp on this machine; rule dropped";
    }
  }
  return out;
}

constexpr const char* kActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};
constexpr const char* kOperators[] = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                      "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                      "SCMP_CMP_MASKED_EQ"};

template <size_t N>
bool OneOf(const char* const (&list)[N], const std::string& value) {
  return std::any_of(std::begin(list), std::end(list), [&](const char* v) { return value == v; });
}

absl::Status CheckAction(const json& value, std::string_view where) {
  if (!value.is_string() || !OneOf(kActions, value.get<std::string>())) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(where), ": unknown seccomp action ", value.dump()));
  }
  return absl::OkStatus();
}

// Parses "4.8" (or "5.10.0") as a kernel version.
bool KernelAtLeastString(const std::string& text) {
  KernelVersion want;
  if (std::sscanf(text.c_str(), "%d.%d", &want.major, &want.minor) < 1) return false;
  return KernelAtLeast(want.major, want.minor);
}

// Docker's conditional rules: "includes" must all hold, any "excludes" that
// holds skips the rule.
bool RuleApplies(const json& rule, const std::vector<std::string>& caps) {
  std::string arch = NativeGoArch();
  if (rule.contains("includes") && rule["includes"].is_object()) {
    const json& inc = rule["includes"];
    if (inc.contains("caps")) {
      for (const auto& c : inc["caps"]) {
        if (!c.is_string() || !Contains(caps, c.get<std::string>())) return false;
      }
    }
    if (inc.contains("arches") && inc["arches"].is_array() && !inc["arches"].empty()) {
      bool found = false;
      for (const auto& a : inc["arches"]) found = found || (a.is_string() && a == arch);
      if (!found) return false;
    }
    if (inc.contains("minKernel") && inc["minKernel"].is_string() &&
        !KernelAtLeastString(inc["minKernel"].get<std::string>())) {
      return false;
    }
  }
  if (rule.contains("excludes") && rule["excludes"].is_object()) {
    const json& exc = rule["excludes"];
    if (exc.contains("caps")) {
      for (const auto& c : exc["caps"]) {
        if (c.is_string() && Contains(caps, c.get<std::string>())) return false;
      }
    }
    if (exc.contains("arches")) {
      for (const auto& a : exc["arches"]) {
        if (a.is_string() && a == arch) return false;
      }
    }
    if (exc.contains("minKernel") && exc["minKernel"].is_string() &&
        KernelAtLeastString(exc["minKernel"].get<std::string>())) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<json> ConvertArgs(const json& args, std::string_view where) {
  json out = json::array();
  if (args.is_null()) return out;
  if (!args.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(where), ": args is not a list"));
  }
  for (const auto& a : args) {
    if (!a.is_object() || !a.contains("index") || !a["index"].is_number_unsigned() ||
        !a.contains("op") || !a["op"].is_string() ||
        !OneOf(kOperators, a["op"].get<std::string>())) {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(where), ": bad argument rule ", a.dump()));
    }
    json arg{{"index", a["index"]}, {"op", a["op"]}, {"value", a.value("value", uint64_t{0})}};
    if (a.contains("valueTwo")) arg["valueTwo"] = a["valueTwo"];
    out.push_back(std::move(arg));
  }
  return out;
}

absl::StatusOr<json> ConvertProfile(const json& in, const std::vector<std::string>& caps) {
  if (!in.is_object() || !in.contains("defaultAction")) {
    return absl::InvalidArgumentError("seccomp profile has no defaultAction");
  }
  RETURN_IF_ERROR(CheckAction(in["defaultAction"], "defaultAction"));
  json out{{"defaultAction", in["defaultAction"]}};
  if (in.contains("defaultErrnoRet")) out["defaultErrnoRet"] = in["defaultErrnoRet"];

  std::vector<std::string> arches;
  if (in.contains("archMap") && in["archMap"].is_array() && !in["archMap"].empty()) {
    std::vector<std::string> native = NativeArchitectures();
    for (const auto& entry : in["archMap"]) {
      std::string arch = entry.value("architecture", "");
      if (native.empty() || arch != native.front()) continue;
      arches.push_back(arch);
      if (entry.contains("subArchitectures") && entry["subArchitectures"].is_array()) {
        for (const auto& sub : entry["subArchitectures"]) {
          if (sub.is_string()) arches.push_back(sub.get<std::string>());
        }
      }
    }
  } else if (in.contains("architectures") && in["architectures"].is_array()) {
    for (const auto& a : in["architectures"]) {
      if (a.is_string()) arches.push_back(a.get<std::string>());
    }
  }
  out["architectures"] = arches;
  for (const char* key : {"flags", "listenerPath", "listenerMetadata"}) {
    if (in.contains(key)) out[key] = in[key];
  }

  json syscalls = json::array();
  const json empty = json::array();
  const json& rules = in.contains("syscalls") ? in["syscalls"] : empty;
  if (!rules.is_array())
    return absl::InvalidArgumentError("seccomp profile: syscalls is not a list");
  for (size_t i = 0; i < rules.size(); ++i) {
    const json& rule = rules[i];
    std::string where = absl::StrCat("syscalls[", i, "]");
    if (!rule.is_object()) return absl::InvalidArgumentError(where + " is not an object");
    if (!RuleApplies(rule, caps)) continue;
    std::vector<std::string> names;
    if (rule.contains("names") && rule["names"].is_array()) {
      for (const auto& n : rule["names"]) {
        if (n.is_string()) names.push_back(n.get<std::string>());
      }
    }
    if (rule.contains("name") && rule["name"].is_string()) {
      names.push_back(rule["name"].get<std::string>());
    }
    if (!rule.contains("action")) return absl::InvalidArgumentError(where + " has no action");
    RETURN_IF_ERROR(CheckAction(rule["action"], where));
    names = KnownOnly(names, /*warn=*/true);
    if (names.empty()) continue;
    json converted{{"names", names}, {"action", rule["action"]}};
    if (rule.contains("errnoRet")) converted["errnoRet"] = rule["errnoRet"];
    ASSIGN_OR_RETURN(json args, ConvertArgs(rule.contains("args") ? rule["args"] : json(), where));
    if (!args.empty()) converted["args"] = std::move(args);
    syscalls.push_back(std::move(converted));
  }
  out["syscalls"] = std::move(syscalls);
  return out;
}

// The deprecated string form, still sent by older kubelets; reading it is
// the point, so the deprecation warning is silenced here only.
std::string LegacyProfilePath(const runtime::v1::LinuxContainerSecurityContext& security) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return security.seccomp_profile_path();
#pragma GCC diagnostic pop
}

}  // namespace

bool SyscallKnown(std::string_view name) {
  std::string n(name);
  return ::seccomp_syscall_resolve_name(n.c_str()) != __NR_SCMP_ERROR;
}

absl::StatusOr<SeccompChoice> ChooseSeccomp(
    const runtime::v1::LinuxContainerSecurityContext& security, const std::string& profile_root) {
  SeccompChoice choice;
  if (security.has_seccomp()) {
    const auto& p = security.seccomp();
    switch (p.profile_type()) {
      case runtime::v1::SecurityProfile::RuntimeDefault:
        choice.mode = SeccompMode::kRuntimeDefault;
        return choice;
      case runtime::v1::SecurityProfile::Unconfined:
        return choice;
      case runtime::v1::SecurityProfile::Localhost:
        if (p.localhost_ref().empty() || p.localhost_ref().front() != '/' ||
            absl::StrContains(p.localhost_ref(), "/../") ||
            absl::EndsWith(p.localhost_ref(), "/..")) {
          return absl::InvalidArgumentError(
              absl::StrCat("seccomp.localhost_ref must be an absolute path "
                           "without \"..\", got \"",
                           p.localhost_ref(), "\""));
        }
        choice.mode = SeccompMode::kLocalhost;
        choice.profile_path = p.localhost_ref();
        return choice;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("seccomp.profile_type ", p.profile_type(), " is unknown"));
    }
  }
  const std::string legacy = LegacyProfilePath(security);
  if (legacy.empty() || legacy == "unconfined") return choice;
  if (legacy == "runtime/default" || legacy == "docker/default") {
    choice.mode = SeccompMode::kRuntimeDefault;
    return choice;
  }
  if (absl::StartsWith(legacy, "localhost/")) {
    std::string ref = legacy.substr(std::string_view("localhost/").size());
    bool dotdot = false;
    for (absl::string_view part : absl::StrSplit(ref, '/')) dotdot = dotdot || part == "..";
    if (ref.empty() || dotdot) {
      return absl::InvalidArgumentError(
          absl::StrCat("seccomp_profile_path \"", legacy, "\" must name a file without \"..\""));
    }
    choice.mode = SeccompMode::kLocalhost;
    // kubelet used to send "localhost/" + an absolute path; a bare relative
    // name is taken relative to kubelet's seccomp directory.
    choice.profile_path = ref.front() == '/' ? ref : JoinPath(profile_root, ref);
    return choice;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("seccomp_profile_path \"", legacy, "\" is not a known profile"));
}

json RuntimeDefaultSeccomp(const std::vector<std::string>& capabilities) {
  json syscalls = json::array();
  syscalls.push_back(
      AllowRule(KnownOnly(std::vector<std::string>(std::begin(kAllowed), std::end(kAllowed)),
                          /*warn=*/false)));
  for (uint64_t persona : kPersonalities) {
    syscalls.push_back(AllowRule(
        {"personality"}, json::array({{{"index", 0}, {"value", persona}, {"op", "SCMP_CMP_EQ"}}})));
  }
  // Before 4.8 a ptrace'd process could use ptrace to skip the seccomp
  // check of its tracee's syscalls; later kernels re-check after the tracer.
  if (KernelAtLeast(4, 8)) syscalls.push_back(AllowRule({"ptrace"}));

  std::string machine = Machine();
  if (machine == "x86_64")
    syscalls.push_back(AllowRule(KnownOnly({"arch_prctl", "modify_ldt"}, false)));
  if (machine == "aarch64") {
    syscalls.push_back(
        AllowRule(KnownOnly({"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                             "breakpoint", "cacheflush", "set_tls"},
                            false)));
  }

  bool admin = Contains(capabilities, "CAP_SYS_ADMIN");
  for (const auto& gated : GatedSyscalls()) {
    if (!Contains(capabilities, gated.capability)) continue;
    auto names =
        KnownOnly(std::vector<std::string>(gated.syscalls.begin(), gated.syscalls.end()), false);
    if (!names.empty()) syscalls.push_back(AllowRule(std::move(names)));
  }
  if (!admin) {
    // clone's flags are its first argument, except on s390 where the
    // argument order differs.
    int flags_index = absl::StartsWith(machine, "s390") ? 1 : 0;
    syscalls.push_back(AllowRule({"clone"}, json::array({{{"index", flags_index},
                                                          {"value", kCloneNamespaceFlags},
                                                          {"valueTwo", 0},
                                                          {"op", "SCMP_CMP_MASKED_EQ"}}})));
    syscalls.push_back(
        json{{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  }

  return json{{"defaultAction", "SCMP_ACT_ERRNO"},
              {"defaultErrnoRet", EPERM},
              {"architectures", NativeArchitectures()},
              {"syscalls", std::move(syscalls)}};
}

absl::StatusOr<json> ParseSeccompProfile(std::string_view text,
                                         const std::vector<std::string>& capabilities) {
  json in;
  try {
    in = json::parse(text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("seccomp profile is not JSON: ", e.what()));
  }
  try {
    return ConvertProfile(in, capabilities);
  } catch (const json::exception& e) {
    // Wrongly typed fields (a string where a number belongs...).
    return absl::InvalidArgumentError(absl::StrCat("seccomp profile: ", e.what()));
  }
}

absl::StatusOr<json> LoadSeccompProfile(const std::string& path,
                                        const std::vector<std::string>& capabilities) {
  auto text = ReadFile(path, size_t{4} << 20);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat("seccomp profile ", path));
  auto profile = ParseSeccompProfile(*text, capabilities);
  if (!profile.ok()) return Annotate(profile.status(), path);
  return profile;
}

}  // namespace crius::oci
