#include "oci/spec.h"

#include <algorithm>

#include "common/files.h"
#include "common/status.h"

namespace crius::oci {
namespace {

using nlohmann::json;

// Keys of `extra` replace generated ones: the escape hatch is meant to win.
void MergeExtra(json& target, const json& extra) {
  if (!extra.is_object()) return;
  for (const auto& [key, value] : extra.items()) target[key] = value;
}

json CapabilitiesJson(const Capabilities& c) {
  return json{{"bounding", c.bounding},
              {"effective", c.effective},
              {"inheritable", c.inheritable},
              {"permitted", c.permitted},
              {"ambient", c.ambient}};
}

json ProcessJson(const Process& p) {
  json user{{"uid", p.user.uid}, {"gid", p.user.gid}};
  if (!p.user.additional_gids.empty()) user["additionalGids"] = p.user.additional_gids;
  if (p.user.umask) user["umask"] = *p.user.umask;

  json out{{"terminal", p.terminal},
           {"user", std::move(user)},
           {"args", p.args},
           {"env", p.env},
           {"cwd", p.cwd},
           {"capabilities", CapabilitiesJson(p.capabilities)},
           {"noNewPrivileges", p.no_new_privileges}};
  if (!p.rlimits.empty()) {
    json rlimits = json::array();
    for (const auto& r : p.rlimits) {
      rlimits.push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
    }
    out["rlimits"] = std::move(rlimits);
  }
  if (p.oom_score_adj) out["oomScoreAdj"] = *p.oom_score_adj;
  MergeExtra(out, p.extra);
  return out;
}

json LinuxJson(const Linux& l) {
  json namespaces = json::array();
  for (const auto& ns : l.namespaces) {
    json entry{{"type", ns.type}};
    if (!ns.path.empty()) entry["path"] = ns.path;
    namespaces.push_back(std::move(entry));
  }
  json out{{"namespaces", std::move(namespaces)},
           {"resources", l.resources.is_null() ? json::object() : l.resources},
           {"maskedPaths", l.masked_paths},
           {"readonlyPaths", l.readonly_paths}};
  if (!l.cgroups_path.empty()) out["cgroupsPath"] = l.cgroups_path;
  if (!l.sysctl.empty()) out["sysctl"] = l.sysctl;
  if (l.seccomp) out["seccomp"] = *l.seccomp;
  MergeExtra(out, l.extra);
  return out;
}

}  // namespace

Capabilities Capabilities::Of(const std::vector<std::string>& caps) {
  Capabilities c;
  c.bounding = caps;
  c.effective = caps;
  c.permitted = caps;
  return c;
}

void Linux::SetNamespace(std::string_view type, std::string_view path) {
  for (auto& ns : namespaces) {
    if (ns.type == type) {
      ns.path = std::string(path);
      return;
    }
  }
  namespaces.push_back({std::string(type), std::string(path)});
}

void Linux::RemoveNamespace(std::string_view type) {
  std::erase_if(namespaces, [&](const Namespace& ns) { return ns.type == type; });
}

const Namespace* Linux::FindNamespace(std::string_view type) const {
  for (const auto& ns : namespaces) {
    if (ns.type == type) return &ns;
  }
  return nullptr;
}

std::vector<Mount> DefaultMounts() {
  return {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
  };
}

Mount CgroupMount() {
  return {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}};
}

std::vector<std::string> DefaultMaskedPaths() {
  return {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
          "/sys/firmware",       "/proc/scsi"};
}

std::vector<std::string> DefaultReadonlyPaths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

Spec DefaultSpec() {
  Spec spec;
  spec.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  spec.process.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
  spec.mounts = DefaultMounts();
  spec.linux_spec.masked_paths = DefaultMaskedPaths();
  spec.linux_spec.readonly_paths = DefaultReadonlyPaths();
  for (const char* type :
       {kPidNamespace, kNetworkNamespace, kIpcNamespace, kUtsNamespace, kMountNamespace}) {
    spec.linux_spec.SetNamespace(type);
  }
  return spec;
}

json ToJson(const Spec& spec) {
  json mounts = json::array();
  for (const auto& m : spec.mounts) {
    json entry{{"destination", m.destination}, {"type", m.type}, {"source", m.source}};
    if (!m.options.empty()) entry["options"] = m.options;
    mounts.push_back(std::move(entry));
  }
  json out{{"ociVersion", kOciVersion},
           {"process", ProcessJson(spec.process)},
           {"root", {{"path", spec.root.path}, {"readonly", spec.root.readonly}}},
           {"mounts", std::move(mounts)},
           {"linux", LinuxJson(spec.linux_spec)}};
  if (!spec.hostname.empty()) out["hostname"] = spec.hostname;
  if (!spec.annotations.empty()) out["annotations"] = spec.annotations;
  MergeExtra(out, spec.extra);
  return out;
}

std::string ToJsonString(const Spec& spec) { return ToJson(spec).dump(2) + "\n"; }

absl::Status WriteSpec(const std::string& bundle_dir, const Spec& spec) {
  std::string text;
  try {
    text = ToJsonString(spec);
  } catch (const nlohmann::json::exception& e) {
    // dump() throws on strings that are not valid UTF-8.
    return absl::InvalidArgumentError(std::string("OCI spec is not valid JSON: ") + e.what());
  }
  // Bundles live in the volatile state dir (/run): a machine crash takes the
  // container with it, so only a criusd crash needs surviving (no fsync).
  return Annotate(WriteFileAtomic(JoinPath(bundle_dir, "config.json"), text, 0600,
                                  Durability::kProcessCrash),
                  "write OCI spec");
}

}  // namespace crius::oci
