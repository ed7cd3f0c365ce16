#include "sandbox/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "sandbox/ns_helper.h"
#include "sandbox/pod_files.h"

namespace crius::sandbox {
namespace {

absl::Status ValidateSpec(const NamespaceSpec& spec) {
  if (spec.net) {
    const std::string& n = spec.netns_name;
    if (n.empty() || n == "." || n == ".." || n.find('/') != std::string::npos ||
        n.find('\0') != std::string::npos || n.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("network namespace name \"", n, "\" is not a plain file name"));
    }
    if (spec.netns_dir.empty() || spec.netns_dir[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("netns dir \"", spec.netns_dir, "\" is not absolute"));
    }
  }
  if ((spec.ipc || spec.uts) && (spec.pin_dir.empty() || spec.pin_dir[0] != '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("namespace pin dir \"", spec.pin_dir, "\" is not absolute"));
  }
  if (spec.uts && !spec.hostname.empty()) RETURN_IF_ERROR(ValidateHostname(spec.hostname));
  return ValidateSysctls(spec.sysctls, OwnNamespaces{spec.net, spec.ipc, spec.uts});
}

bool IsNotMounted(const absl::Status& s) {
  // EINVAL: not a mount point (already unmounted); ENOENT: no such path.
  return absl::IsInvalidArgument(s) || absl::IsNotFound(s);
}

// Undoes one pin: unmount (lazily if something still uses the mount), then
// unlink. Both steps accept "already gone".
absl::Status Unpin(Os& os, const std::string& path) {
  absl::Status s = os.Unmount(path, 0);
  if (!s.ok() && !IsNotMounted(s)) {
    absl::Status lazy = os.Unmount(path, MNT_DETACH);
    if (!lazy.ok() && !IsNotMounted(lazy)) return Annotate(lazy, "unpin namespace");
  }
  s = os.Unlink(path);
  if (!s.ok() && !absl::IsNotFound(s)) return Annotate(s, "remove namespace pin");
  return absl::OkStatus();
}

struct PinStep {
  const char* ns;  // file name under /proc/<pid>/ns
  std::string target;
  std::string* result;
};

struct MadePin {
  std::string path;
  bool mounted = false;
};

// Removes, newest first, what PinNamespaces made before it failed. A pin
// whose mount failed is only a file, so it is just unlinked.
void UnwindPins(Os& os, const std::vector<MadePin>& made) {
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    absl::Status s = it->mounted ? Unpin(os, it->path) : os.Unlink(it->path);
    if (!s.ok()) {
      CRIUS_LOG(kWarn) << "rolling back namespace pin " << it->path << ": " << s;
    }
  }
}

NsHelperPlan MakePlan(const NamespaceSpec& spec) {
  NsHelperPlan plan;
  if (spec.net) plan.unshare_flags |= CLONE_NEWNET;
  if (spec.ipc) plan.unshare_flags |= CLONE_NEWIPC;
  if (spec.uts) plan.unshare_flags |= CLONE_NEWUTS;
  plan.set_hostname = spec.uts && !spec.hostname.empty();
  plan.hostname = spec.hostname;
  // A new network namespace starts with "lo" down; nothing inside the pod
  // could even talk to itself over 127.0.0.1 until it is up.
  plan.loopback_up = spec.net;
  for (const auto& [name, value] : spec.sysctls) {
    // Already validated, so the path is known to be well formed.
    std::string rel = SysctlRelativePath(name).value_or("");
    plan.sysctls.push_back({name, JoinPath("/proc/sys", rel), value});
  }
  return plan;
}

}  // namespace

absl::Status EnsureSharedNetnsDir(Os& os, const std::string& dir) {
  // Two pods created at once must not both find the directory unshared and
  // both stack a bind mount on it.
  ABSL_CONST_INIT static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock lock(&mu);
  absl::Status s = os.Mkdir(dir, 0755);
  if (!s.ok() && !absl::IsAlreadyExists(s)) return Annotate(s, "create netns dir");
  s = os.Mount("", dir, "", MS_SHARED | MS_REC, "");
  if (s.ok()) return s;
  if (!absl::IsInvalidArgument(s)) return Annotate(s, "make netns dir shared");
  // EINVAL: not a mount point yet. Bind it onto itself so it becomes one.
  RETURN_IF_ERROR(Annotate(os.Mount(dir, dir, "", MS_BIND | MS_REC, ""), "bind netns dir"));
  return Annotate(os.Mount("", dir, "", MS_SHARED | MS_REC, ""), "make netns dir shared");
}

absl::StatusOr<PinnedNamespaces> PinNamespaces(Os& os, const NamespaceSpec& spec,
                                               const std::string& ns_source_dir) {
  PinnedNamespaces pinned;
  std::vector<PinStep> steps;
  if (spec.net) steps.push_back({"net", JoinPath(spec.netns_dir, spec.netns_name), &pinned.net});
  if (spec.ipc) steps.push_back({"ipc", JoinPath(spec.pin_dir, "ipc"), &pinned.ipc});
  if (spec.uts) steps.push_back({"uts", JoinPath(spec.pin_dir, "uts"), &pinned.uts});

  std::vector<MadePin> made;
  for (const PinStep& step : steps) {
    std::string what = absl::StrCat("pin ", step.ns, " namespace at ", step.target);
    // O_EXCL: an existing pin belongs to another pod (or to an earlier
    // attempt that must be removed first); never mount over it.
    absl::StatusOr<UniqueFd> fd = os.Open(step.target, O_RDONLY | O_CREAT | O_EXCL, 0);
    if (!fd.ok()) {
      UnwindPins(os, made);
      return Annotate(fd.status(), what);
    }
    made.push_back({step.target, false});
    absl::Status s = os.Mount(JoinPath(ns_source_dir, step.ns), step.target, "", MS_BIND, "");
    if (!s.ok()) {
      UnwindPins(os, made);
      return Annotate(s, what);
    }
    made.back().mounted = true;
    *step.result = step.target;
  }
  if (spec.ipc || spec.uts) pinned.pin_dir = spec.pin_dir;
  return pinned;
}

absl::StatusOr<PinnedNamespaces> CreatePodNamespaces(Os& os, const NamespaceSpec& spec) {
  RETURN_IF_ERROR(Annotate(ValidateSpec(spec), "pod namespaces"));
  if (!spec.net && !spec.ipc && !spec.uts) return PinnedNamespaces{};
  if (spec.net) RETURN_IF_ERROR(EnsureSharedNetnsDir(os, spec.netns_dir));

  bool made_pin_dir = false;
  if (spec.ipc || spec.uts) {
    absl::Status s = os.Mkdir(spec.pin_dir, 0700);
    if (!s.ok() && !absl::IsAlreadyExists(s)) return Annotate(s, "create namespace pin dir");
    made_pin_dir = s.ok();
  }
  auto fail = [&](const absl::Status& s) {
    if (made_pin_dir) {
      absl::Status r = os.Rmdir(spec.pin_dir);
      if (!r.ok()) {
        CRIUS_LOG(kWarn) << "rolling back namespace pin dir: " << r;
      }
    }
    return Annotate(s, "pod namespaces");
  };

  NsHelperPlan plan = MakePlan(spec);
  absl::StatusOr<NsHelper> helper = NsHelper::Start(plan);
  if (!helper.ok()) return fail(helper.status());
  absl::StatusOr<PinnedNamespaces> pinned = PinNamespaces(os, spec, helper->NsDir());
  // The pins (or the failure) no longer need the helper: its namespaces
  // live on through the bind mounts alone.
  helper->Finish();
  if (!pinned.ok()) return fail(pinned.status());
  return pinned;
}

absl::Status RemovePodNamespaces(Os& os, const PinnedNamespaces& pinned) {
  absl::Status first;
  for (const std::string* pin : {&pinned.net, &pinned.ipc, &pinned.uts}) {
    if (pin->empty()) continue;
    absl::Status s = Unpin(os, *pin);
    if (!s.ok() && first.ok()) first = s;
  }
  if (!pinned.pin_dir.empty()) {
    absl::Status s = os.Rmdir(pinned.pin_dir);
    if (!s.ok() && !absl::IsNotFound(s) && first.ok()) {
      first = Annotate(s, "remove namespace pin dir");
    }
  }
  return first;
}

}  // namespace crius::sandbox
