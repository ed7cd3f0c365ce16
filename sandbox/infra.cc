#include "sandbox/infra.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/proc_stat.h"
#include "common/log.h"
#include "common/rollback.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "oci/spec.h"

namespace crius::sandbox {
namespace {

constexpr char kPauseInContainer[] = "/pause";
constexpr char kPidFile[] = "infra.pid";
// How long StopInfra waits for the SIGKILLed infra to be torn down before
// it lets the runtime's delete deal with it.
constexpr absl::Duration kExitWait = absl::Seconds(10);

absl::Status CheckPause(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("pause binary path \"", path, "\" is not absolute"));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pause binary ", path, ": ", ErrnoStatus("stat").message()));
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pause binary ", path, " is not an executable file"));
  }
  return absl::OkStatus();
}

oci::Spec InfraOciSpec(const InfraSpec& spec) {
  oci::Spec s = oci::DefaultSpec();
  s.process.args = {kPauseInContainer};
  s.process.env = {};
  s.process.capabilities = {};  // none, in every set
  s.process.no_new_privileges = true;
  s.process.oom_score_adj = spec.oom_score_adj;
  s.root = {"rootfs", /*readonly=*/true};
  s.mounts.push_back(
      {kPauseInContainer, "bind", spec.pause_path, {"bind", "ro", "nosuid", "nodev"}});
  s.annotations["io.crius.infra.pod-id"] = spec.pod_id;

  oci::Linux& l = s.linux_spec;
  l.namespaces.clear();
  l.SetNamespace(oci::kPidNamespace);
  l.SetNamespace(oci::kMountNamespace);
  // Not listing a type means the runtime's own (the node's) is used.
  if (!spec.net_ns.empty()) l.SetNamespace(oci::kNetworkNamespace, spec.net_ns);
  if (!spec.ipc_ns.empty()) l.SetNamespace(oci::kIpcNamespace, spec.ipc_ns);
  if (!spec.uts_ns.empty()) l.SetNamespace(oci::kUtsNamespace, spec.uts_ns);
  l.cgroups_path = spec.cgroups_path;
  return s;
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64));
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) {
    return absl::InternalError(absl::StrCat("pid file ", path, " holds \"", text, "\""));
  }
  return static_cast<pid_t>(pid);
}

// A pidfd for `infra.pid`, only if that pid is still the infra (checked
// after opening, so the descriptor cannot refer to a later process).
UniqueFd OpenInfraPidfd(const InfraProcess& infra) {
  if (infra.pid <= 0) return UniqueFd();
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, infra.pid, 0));
  if (fd < 0) return UniqueFd();
  UniqueFd pidfd(fd);
  absl::StatusOr<ProcStat> proc = ReadProcStat(infra.pid);
  if (!proc.ok() || proc->start_time != infra.start_time) return UniqueFd();
  return pidfd;
}

// When criusd is a child subreaper, the detached infra became its child:
// without this wait it would stay a zombie.
void WaitAndReap(const UniqueFd& pidfd, const std::string& id) {
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kExitWait)));
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    CRIUS_LOG(kWarn) << "infra " << id << " still alive " << kExitWait << " after SIGKILL";
    return;
  }
  siginfo_t info{};
  // ECHILD: it is not our child (no subreaper); its parent reaps it.
  (void)::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &info,
                 WEXITED | WNOHANG);
}

}  // namespace

std::string InfraProcess::PidNamespacePath() const {
  return absl::StrCat("/proc/", pid, "/ns/pid");
}

std::string InfraCgroupName(std::string_view pod_id) {
  return absl::StrCat("infra-", AbslView(pod_id.substr(0, 12)));
}

absl::StatusOr<InfraProcess> StartInfra(const InfraSpec& spec) {
  if (spec.runtime == nullptr) return absl::InvalidArgumentError("infra: no runtime client");
  RETURN_IF_ERROR(Annotate(oci::ValidateContainerId(spec.pod_id), "infra"));
  if (spec.bundle_dir.empty() || spec.bundle_dir.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("infra bundle dir \"", spec.bundle_dir, "\" is not absolute"));
  }
  RETURN_IF_ERROR(CheckPause(spec.pause_path));
  oci::RuntimeClient& runtime = *spec.runtime;
  const std::string& id = spec.pod_id;

  // A stat of the runtime's state dir instead of a `runc state` on the
  // common path (each runc run costs milliseconds on the pod's start).
  if (runtime.MayExist(id)) {
    absl::StatusOr<oci::ContainerState> existing = runtime.State(id);
    if (existing.ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat("infra of pod ", id, " already exists (", existing->status, ")"));
    }
    if (!absl::IsNotFound(existing.status())) {
      return Annotate(existing.status(), absl::StrCat("infra of pod ", id));
    }
  }
  // What is left of an interrupted start the runtime never registered.
  RETURN_IF_ERROR(Annotate(RemoveAll(spec.bundle_dir), "remove stale infra bundle"));

  Rollback rb(absl::StrCat("start infra of pod ", id));
  const std::string rootfs = JoinPath(spec.bundle_dir, "rootfs");
  RETURN_IF_ERROR(Annotate(MkdirAll(rootfs, 0755), "infra bundle"));
  rb.Push("remove infra bundle", [&] { return RemoveAll(spec.bundle_dir); });
  // The bind mount's target: the runtime would make it, but the root is
  // read-only and being explicit costs nothing.
  RETURN_IF_ERROR(Annotate(
      WriteFileAtomic(JoinPath(rootfs, kPauseInContainer), "", 0444, Durability::kProcessCrash),
      "infra mount point"));
  RETURN_IF_ERROR(oci::WriteSpec(spec.bundle_dir, InfraOciSpec(spec)));

  const std::string pid_file = JoinPath(spec.bundle_dir, kPidFile);
  // A failed run can still leave runtime state (and a cgroup) behind.
  rb.Push("delete infra container", [&] {
    absl::Status s = runtime.Delete(id, /*force=*/true);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  });
  RETURN_IF_ERROR(Annotate(runtime.Run(id, spec.bundle_dir, pid_file, /*detach=*/true).status(),
                           absl::StrCat("run infra of pod ", id)));

  InfraProcess infra{.container_id = id, .bundle = spec.bundle_dir};
  ASSIGN_OR_RETURN(infra.pid, ReadPidFile(pid_file));
  // The pid must still be the infra when its start time is taken. Its
  // command line settles that without another runtime call: a pid reused by
  // an unrelated process would not be running /pause, and the start time
  // read before the check belongs to the process the check saw.
  // `runc run -d` may return just before its init has exec'd /pause (the
  // command line reads as runc's, or empty while the exec is under way).
  absl::StatusOr<ProcStat> start = ReadProcStat(infra.pid);
  absl::StatusOr<std::string> cmdline;
  auto is_pause = [&] {
    return cmdline.ok() && std::string_view(cmdline->c_str()) == std::string_view(kPauseInContainer);
  };
  for (absl::Time deadline = absl::Now() + absl::Seconds(5);;) {
    cmdline = ReadFile(absl::StrCat("/proc/", infra.pid, "/cmdline"), 4096);
    if (!cmdline.ok() || is_pause() || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (!start.ok() || !is_pause()) {
    return absl::InternalError(absl::StrCat(
        "infra of pod ", id, " (pid ", infra.pid, ") is gone right after it started",
        !start.ok() ? absl::StrCat(": ", start.status().message())
        : cmdline.ok() ? absl::StrCat(": it runs \"", absl::CHexEscape(*cmdline), "\"")
                       : absl::StrCat(": ", cmdline.status().message())));
  }
  infra.start_time = start->start_time;
  rb.Commit();
  return infra;
}

absl::Status StopInfra(oci::RuntimeClient& runtime, const InfraProcess& infra) {
  const std::string& id = infra.container_id;
  absl::Status first;
  auto note = [&](absl::Status s, std::string_view what) {
    if (!s.ok() && first.ok()) first = Annotate(s, absl::StrCat(AbslView(what), " infra ", id));
  };

  UniqueFd pidfd = OpenInfraPidfd(infra);
  absl::Status killed = runtime.Kill(id, SIGKILL);
  // Missing or already stopped is what Stop wants anyway.
  if (!absl::IsNotFound(killed) && !absl::IsFailedPrecondition(killed)) note(killed, "kill");
  if (pidfd.get() >= 0) {
    // The runtime may have lost its state (a wiped state dir) while the
    // process lives on: the pidfd names exactly that process, so signal it
    // directly rather than leave it holding the pod's namespaces.
    if (absl::IsNotFound(killed)) {
      (void)::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    }
    WaitAndReap(pidfd, id);
  }

  absl::Status deleted = runtime.Delete(id, /*force=*/true);
  if (!absl::IsNotFound(deleted)) note(deleted, "delete");
  if (!infra.bundle.empty()) note(RemoveAll(infra.bundle), "remove bundle of");
  return first;
}

absl::StatusOr<InfraStatus> GetInfraStatus(oci::RuntimeClient& runtime, const InfraProcess& infra) {
  absl::StatusOr<oci::ContainerState> state = runtime.State(infra.container_id);
  if (absl::IsNotFound(state.status())) return InfraStatus::kGone;
  if (!state.ok()) return state.status();
  if (state->status != oci::kStatusRunning || state->pid != infra.pid) return InfraStatus::kStopped;
  absl::StatusOr<ProcStat> proc = ReadProcStat(infra.pid);
  if (!proc.ok() || proc->start_time != infra.start_time) return InfraStatus::kStopped;
  return InfraStatus::kRunning;
}

}  // namespace crius::sandbox
