#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::sandbox {
namespace {

// Options of a v1 cgroup mount that are not controllers.
bool IsMountOption(const std::string& opt) {
  static const std::set<std::string> kOptions = {
      "rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "none", "all"};
  if (kOptions.count(opt) > 0) return true;
  // name=X names a hierarchy; every other key=value (release_agent=...) is
  // an option.
  return opt.find('=') != std::string::npos && !absl::StartsWith(opt, "name=");
}

std::vector<std::string> Segments(std::string_view path) {
  return absl::StrSplit(AbslView(path), '/', absl::SkipEmpty());
}

std::string Trimmed(std::string s) {
  absl::StripAsciiWhitespace(&s);
  return s;
}

// On a pure v2 host a child cgroup only gets the controllers its parent
// lists in cgroup.subtree_control, so every ancestor of the pod must enable
// them for the pod's limits to work.
absl::Status EnableControllers(Os& os, const std::string& dir) {
  ASSIGN_OR_RETURN(std::string available, ReadFile(JoinPath(dir, "cgroup.controllers")));
  ASSIGN_OR_RETURN(std::string enabled, ReadFile(JoinPath(dir, "cgroup.subtree_control")));
  std::vector<std::string> on = absl::StrSplit(enabled, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  for (absl::string_view c : absl::StrSplit(available, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (std::find(on.begin(), on.end(), c) != on.end()) continue;
    RETURN_IF_ERROR(
        Annotate(WriteCgroupFile(os, JoinPath(dir, "cgroup.subtree_control"), absl::StrCat("+", c)),
                 absl::StrCat("enable cgroup controller ", c, " in ", dir)));
  }
  return absl::OkStatus();
}

// A new v1 cpuset cgroup starts with no cpus and no mems, and the kernel
// refuses to put a process into it; give it its parent's.
absl::Status InheritCpuset(Os& os, const std::string& parent, const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    absl::StatusOr<std::string> own = ReadFile(JoinPath(dir, file));
    if (absl::IsNotFound(own.status())) continue;  // mounted with noprefix
    if (!own.ok()) return own.status();
    if (!Trimmed(*own).empty()) continue;
    ASSIGN_OR_RETURN(std::string from_parent, ReadFile(JoinPath(parent, file)));
    std::string value = Trimmed(from_parent);
    if (value.empty()) continue;
    RETURN_IF_ERROR(WriteCgroupFile(os, JoinPath(dir, file), value));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ChildDirs(const std::string& dir) {
  std::vector<std::string> children;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(absl::StrCat("opendir ", dir));
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (e->d_type == DT_DIR && name != "." && name != "..") children.push_back(name);
  }
  ::closedir(d);
  return children;
}

absl::Status RmdirCgroup(Os& os, const std::string& dir) {
  absl::Status s = os.Rmdir(dir);
  if (s.ok() || absl::IsNotFound(s)) return absl::OkStatus();
  if (absl::IsUnavailable(s)) {  // EBUSY
    return absl::FailedPreconditionError(
        absl::StrCat("cgroup ", dir, " still has processes: ", s.message()));
  }
  return s;
}

// Removes `dir` after its (empty) descendant cgroups, deepest first. Those
// are container cgroups a runtime failed to remove; a cgroup with
// processes in it stops the removal with FailedPrecondition.
absl::Status RemoveCgroupTree(Os& os, const std::string& dir, int depth = 0) {
  absl::StatusOr<std::vector<std::string>> children = ChildDirs(dir);
  if (absl::IsNotFound(children.status())) return absl::OkStatus();
  if (!children.ok()) return children.status();
  if (depth > 32) return absl::FailedPreconditionError(absl::StrCat("cgroup ", dir, " too deep"));
  for (const auto& child : *children) {
    RETURN_IF_ERROR(RemoveCgroupTree(os, JoinPath(dir, child), depth + 1));
  }
  return RmdirCgroup(os, dir);
}

absl::Status CollectPids(const std::string& dir, std::set<pid_t>* pids, int depth = 0) {
  ASSIGN_OR_RETURN(std::string procs, ReadFile(JoinPath(dir, "cgroup.procs")));
  for (absl::string_view line : absl::StrSplit(procs, '\n', absl::SkipEmpty())) {
    pid_t pid;
    if (absl::SimpleAtoi(line, &pid)) pids->insert(pid);
  }
  if (depth > 32) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<std::string> children, ChildDirs(dir));
  for (const auto& child : children) {
    absl::Status s = CollectPids(JoinPath(dir, child), pids, depth + 1);
    // A child cgroup removed while we walk is simply gone.
    if (!s.ok() && !absl::IsNotFound(s)) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteCgroupFile(Os& os, const std::string& path, std::string_view value) {
  ASSIGN_OR_RETURN(UniqueFd fd, os.Open(path, O_WRONLY, 0));
  ssize_t n = ::write(fd.get(), value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO,
                       absl::StrCat("write \"", AbslView(value), "\" to ", path));
  }
  return absl::OkStatus();
}

bool HasController(const CgroupHierarchy& h, std::string_view name) {
  return std::find(h.controllers.begin(), h.controllers.end(), name) != h.controllers.end();
}

std::string_view CgroupLayoutName(CgroupLayout layout) {
  switch (layout) {
    case CgroupLayout::kV1: return "v1";
    case CgroupLayout::kV2: return "v2";
    case CgroupLayout::kHybrid: return "hybrid";
  }
  return "unknown";
}

absl::StatusOr<CgroupSetup> DetectCgroups(const std::vector<MountInfo>& mounts) {
  CgroupSetup setup;
  std::set<std::string> seen_v1;
  bool have_v1 = false, have_v2 = false;
  for (const auto& m : mounts) {
    if (m.root != "/") continue;
    if (m.fstype == "cgroup2") {
      if (have_v2) continue;
      have_v2 = true;
      setup.hierarchies.push_back({m.mount_point, true, {}});
    } else if (m.fstype == "cgroup") {
      std::vector<std::string> controllers;
      for (auto& opt : SplitOptions(m.super_options)) {
        if (!IsMountOption(opt)) controllers.push_back(opt);
      }
      std::sort(controllers.begin(), controllers.end());
      if (controllers.empty()) continue;
      // The same hierarchy mounted twice is one hierarchy.
      if (!seen_v1.insert(absl::StrJoin(controllers, ",")).second) continue;
      have_v1 = true;
      setup.hierarchies.push_back({m.mount_point, false, std::move(controllers)});
    }
  }
  if (!have_v1 && !have_v2) return absl::FailedPreconditionError("no cgroup filesystem is mounted");
  setup.layout = have_v1 && have_v2 ? CgroupLayout::kHybrid
                 : have_v1          ? CgroupLayout::kV1
                                    : CgroupLayout::kV2;
  return setup;
}

absl::StatusOr<CgroupSetup> DetectCgroups() {
  ASSIGN_OR_RETURN(std::vector<MountInfo> mounts, ReadMountInfo());
  return DetectCgroups(mounts);
}

absl::Status ValidateCgroupPath(std::string_view path) {
  static constexpr std::string_view kSliceUnderCgroupfs =
      "a systemd slice, and criusd uses the cgroupfs cgroup manager (runtime.cgroup_manager)";
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("cgroup parent \"", AbslView(path), "\": ", AbslView(why)));
  };
  std::vector<std::string> segs = Segments(path);
  if (!segs.empty() && absl::EndsWith(segs.back(), ".slice")) return bad(kSliceUnderCgroupfs);
  if (path.empty() || path[0] != '/') return bad("not an absolute path");
  if (segs.empty()) return bad("the root cgroup cannot be a pod's cgroup");
  if (path.find("//") != std::string_view::npos) return bad("empty path segment");
  for (const auto& seg : segs) {
    if (seg == "." || seg == "..") return bad("\".\" or \"..\" in path");
    if (absl::EndsWith(seg, ".slice")) {
      return bad(kSliceUnderCgroupfs);
    }
    for (char c : seg) {
      if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) return bad("control character");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PodCgroup> CreatePodCgroup(Os& os, const CgroupSetup& setup,
                                          const std::string& path) {
  RETURN_IF_ERROR(ValidateCgroupPath(path));
  PodCgroup result{path, {}, {}};
  auto fail = [&](const absl::Status& s) {
    absl::Status undo = RemovePodCgroup(os, result);
    if (!undo.ok()) {
      CRIUS_LOG(kWarn) << "rolling back pod cgroup " << path << ": " << undo;
    }
    return Annotate(s, absl::StrCat("create pod cgroup ", path));
  };
  std::vector<std::string> segs = Segments(path);
  for (const auto& h : setup.hierarchies) {
    bool enable = h.v2 && setup.layout == CgroupLayout::kV2;
    bool cpuset = !h.v2 && HasController(h, "cpuset");
    std::string dir = h.mount_point;
    for (const auto& seg : segs) {
      if (enable) {
        absl::Status s = EnableControllers(os, dir);
        if (!s.ok()) return fail(s);
      }
      std::string parent = dir;
      dir = JoinPath(dir, seg);
      absl::Status s = os.Mkdir(dir, 0755);
      if (absl::IsAlreadyExists(s)) continue;
      if (!s.ok()) return fail(s);
      result.created.push_back(dir);
      if (cpuset) {
        s = InheritCpuset(os, parent, dir);
        if (!s.ok()) return fail(s);
      }
    }
  }
  return result;
}

absl::Status RemovePodCgroup(Os& os, const PodCgroup& cgroup) {
  absl::Status first;
  // Creation order lists every parent before its children, so reverse order
  // removes each directory before its parent.
  for (auto it = cgroup.created.rbegin(); it != cgroup.created.rend(); ++it) {
    // Only the pod's own directory is emptied of leftover container cgroups.
    // A parent this pod happened to create may hold other pods by now: it
    // goes only if it is empty, and staying is not an error.
    const bool own = absl::EndsWith(*it, cgroup.path);
    absl::Status s = own ? RemoveCgroupTree(os, *it) : os.Rmdir(*it);
    if (!own && !s.ok()) continue;
    if (!s.ok() && first.ok()) first = Annotate(s, absl::StrCat("remove pod cgroup ", cgroup.path));
  }
  return first;
}

absl::StatusOr<std::vector<pid_t>> PodCgroupPids(const CgroupSetup& setup,
                                                 const std::string& path) {
  RETURN_IF_ERROR(ValidateCgroupPath(path));
  std::set<pid_t> pids;
  bool found = false;
  for (const auto& h : setup.hierarchies) {
    absl::Status s = CollectPids(JoinPath(h.mount_point, path), &pids);
    if (absl::IsNotFound(s)) continue;
    RETURN_IF_ERROR(s);
    found = true;
  }
  if (!found) return absl::NotFoundError(absl::StrCat("cgroup ", path, " not found"));
  return std::vector<pid_t>(pids.begin(), pids.end());
}

}  // namespace crius::sandbox
