#include "oci/container_spec.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "oci/capabilities.h"
#include "oci/seccomp_profile.h"
#include "oci/user.h"

namespace crius::oci {
namespace {

using nlohmann::json;
namespace v1 = runtime::v1;

// Masked on top of the runtime's list: Intel RAPL energy counters leak what
// other workloads on the node compute (CVE-2020-8694); containerd masks it.
constexpr char kPowercapPath[] = "/sys/devices/virtual/powercap";
constexpr char kTerminationLogPath[] = "/dev/termination-log";

// The fields of an image config (the "config" object) a container uses.
struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;
  std::string working_dir, user, stop_signal;
};

std::vector<std::string> StringList(const json& parent, const char* key) {
  std::vector<std::string> out;
  if (!parent.contains(key) || !parent[key].is_array()) return out;
  for (const auto& v : parent[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string StringField(const json& parent, const char* key) {
  if (!parent.contains(key) || !parent[key].is_string()) return "";
  return parent[key].get<std::string>();
}

absl::StatusOr<ImageConfig> ParseImageConfig(std::string_view text) {
  ImageConfig out;
  if (absl::StripAsciiWhitespace(AbslView(text)).empty()) return out;
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return absl::FailedPreconditionError(absl::StrCat("image config is not JSON: ", e.what()));
  }
  if (!doc.is_object()) return absl::FailedPreconditionError("image config is not a JSON object");
  // Null when the image has no runtime config at all (a data-only image).
  if (!doc.contains("config") || !doc["config"].is_object()) return out;
  const json& c = doc["config"];
  out.entrypoint = StringList(c, "Entrypoint");
  out.cmd = StringList(c, "Cmd");
  out.env = StringList(c, "Env");
  out.working_dir = StringField(c, "WorkingDir");
  out.user = StringField(c, "User");
  out.stop_signal = StringField(c, "StopSignal");
  return out;
}

std::string_view EnvKey(std::string_view entry) {
  return entry.substr(0, std::min(entry.find('='), entry.size()));
}

// "/a//b/./c/" -> "/a/b/c"; nullopt for relative paths and any "..": a
// mount target must say plainly where it goes.
std::optional<std::string> CleanAbsolute(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(AbslView(path), '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") return std::nullopt;
    parts.emplace_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

size_t Depth(const std::string& destination) {
  return static_cast<size_t>(std::count(destination.begin(), destination.end(), '/')) -
         (destination == "/" ? 1 : 0);
}

Mount BindMount(const std::string& destination, const std::string& source, bool readonly,
                const char* propagation = "rprivate") {
  return {destination, "bind", source, {"rbind", propagation, readonly ? "ro" : "rw"}};
}

// Replaces the mount at m.destination or appends it.
void SetMount(std::vector<Mount>& mounts, Mount m) {
  for (auto& existing : mounts) {
    if (existing.destination == m.destination) {
      existing = std::move(m);
      return;
    }
  }
  mounts.push_back(std::move(m));
}

Mount* FindMount(std::vector<Mount>& mounts, std::string_view destination) {
  for (auto& m : mounts) {
    if (m.destination == destination) return &m;
  }
  return nullptr;
}

void MakeWritable(Mount* m) {
  if (m == nullptr) return;
  std::erase(m->options, "ro");
  m->options.push_back("rw");
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The deprecated string form, still sent by older kubelets; reading it is
// the point, so the deprecation warning is silenced here only.
std::string LegacyAppArmorProfile(const v1::LinuxContainerSecurityContext& security) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  return security.apparmor_profile();
#pragma GCC diagnostic pop
}

const v1::LinuxContainerSecurityContext& SecurityOf(const v1::ContainerConfig& config) {
  return config.linux().security_context();
}

std::string PodHostname(const ContainerSpecInput& in) {
  if (!in.pod.hostname.empty()) return in.pod.hostname;
  if (in.sandbox != nullptr && !in.sandbox->hostname().empty()) return in.sandbox->hostname();
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) == 0) return name;
  return "";
}

absl::Status BuildProcess(const ContainerSpecInput& in, const ImageConfig& image, Spec& spec) {
  const v1::ContainerConfig& config = *in.config;
  const auto& security = SecurityOf(config);
  Process& p = spec.process;

  ASSIGN_OR_RETURN(p.args, ContainerArgs({config.command().begin(), config.command().end()},
                                         {config.args().begin(), config.args().end()},
                                         image.entrypoint, image.cmd));

  p.env = {kDefaultPath, absl::StrCat("HOSTNAME=", PodHostname(in))};
  MergeEnv(p.env, image.env);
  std::vector<std::string> requested;
  for (const auto& kv : config.envs()) {
    if (kv.key().empty() || absl::StrContains(kv.key(), '=')) {
      return absl::InvalidArgumentError(
          absl::StrCat("envs: invalid variable name \"", kv.key(), "\""));
    }
    requested.push_back(absl::StrCat(kv.key(), "=", kv.value()));
  }
  MergeEnv(p.env, requested);

  if (!config.working_dir().empty()) {
    if (config.working_dir().front() != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("working_dir \"", config.working_dir(), "\" must be an absolute path"));
    }
    p.cwd = config.working_dir();
  } else if (!image.working_dir.empty()) {
    // Docker resolves a relative WorkingDir against "/".
    p.cwd = image.working_dir.front() == '/' ? image.working_dir : "/" + image.working_dir;
  } else {
    p.cwd = "/";
  }
  p.terminal = config.tty();

  UserRequest user;
  if (security.has_run_as_user()) user.run_as_user = security.run_as_user().value();
  user.run_as_username = security.run_as_username();
  if (security.has_run_as_group()) user.run_as_group = security.run_as_group().value();
  user.supplemental_groups.assign(security.supplemental_groups().begin(),
                                  security.supplemental_groups().end());
  user.strict_groups = security.supplemental_groups_policy() == v1::Strict;
  user.image_user = image.user;
  auto resolved = ResolveUser(in.rootfs, user);
  if (!resolved.ok()) return Annotate(resolved.status(), "container user");
  p.user = *std::move(resolved);

  ASSIGN_OR_RETURN(
      p.capabilities,
      ContainerCapabilities(security.has_capabilities() ? &security.capabilities() : nullptr,
                            security.privileged()));
  p.no_new_privileges = security.no_new_privs();
  // Limits are inherited from the runtime (criusd's own), as containerd and
  // CRI-O do, rather than a fixed 1024 that breaks databases and proxies.
  p.rlimits.clear();

  int64_t oom = config.linux().resources().oom_score_adj();
  oom = std::clamp<int64_t>(oom, std::max(in.oom_score_adj_min, -1000), 1000);
  p.oom_score_adj = static_cast<int>(oom);
  return absl::OkStatus();
}

void BuildNamespaces(const ContainerSpecInput& in, Spec& spec) {
  Linux& l = spec.linux_spec;
  l.namespaces.clear();
  // Joined pod namespaces; an empty path means the node's, so no entry.
  if (!in.pod.net_ns.empty()) l.SetNamespace(kNetworkNamespace, in.pod.net_ns);
  if (!in.pod.ipc_ns.empty()) l.SetNamespace(kIpcNamespace, in.pod.ipc_ns);
  if (!in.pod.uts_ns.empty()) l.SetNamespace(kUtsNamespace, in.pod.uts_ns);
  switch (SecurityOf(*in.config).namespace_options().pid()) {
    case v1::NODE:
      break;
    case v1::POD:
    case v1::TARGET:
      // POD: the pod's shared namespace (kept by its infra process). TARGET:
      // the manager puts the target container's namespace in pod.pid_ns.
      // Without a path the container gets its own, which is what a pod
      // without a shared namespace gives each container anyway.
      l.SetNamespace(kPidNamespace, in.pod.pid_ns);
      break;
    default:  // CONTAINER
      l.SetNamespace(kPidNamespace);
      break;
  }
  l.SetNamespace(kMountNamespace);
  if (in.pod.cgroup_v2) l.SetNamespace(kCgroupNamespace);
  if (!in.pod.uts_ns.empty()) spec.hostname = in.pod.hostname;
}

// The CRI mounts as OCI mounts, plus the root propagation they need.
absl::Status AddCriMounts(const ContainerSpecInput& in, std::vector<Mount>& mounts,
                          std::string& rootfs_propagation) {
  const auto& list = in.config->mounts();
  for (int i = 0; i < list.size(); ++i) {
    const v1::Mount& m = list[i];
    std::string field = absl::StrCat("mounts[", i, "]");
    auto destination = CleanAbsolute(m.container_path());
    if (!destination || *destination == "/") {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".container_path \"", m.container_path(),
                       "\" must be an absolute path below / without \"..\""));
    }
    if (m.host_path().empty() && m.has_image()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": image volumes are not supported"));
    }
    auto source = CleanAbsolute(m.host_path());
    if (!source) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".host_path \"", m.host_path(),
                                                     "\" must be an absolute path without \"..\""));
    }
    // kubelet creates every host path it hands over (hostPath volumes are
    // checked or created on its side), so a missing one is a bad request,
    // not something the runtime papers over by creating directories.
    if (!PathExists(*source)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".host_path \"", m.host_path(), "\" does not exist"));
    }
    if (!m.uidmappings().empty() || !m.gidmappings().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": id-mapped mounts are not supported"));
    }
    if (m.recursive_read_only()) {
      // runc 1.1 has no "rro" mount option (mount_setattr with
      // MOUNT_ATTR_RDONLY and AT_RECURSIVE came with runc 1.2).
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": recursive read-only mounts are not supported by the runtime"));
    }
    const char* propagation = "rprivate";
    switch (m.propagation()) {
      case v1::PROPAGATION_HOST_TO_CONTAINER:
        propagation = "rslave";
        // The root must not be private, or the slave mount would receive
        // nothing once runc pivots; rshared (from another mount) also works.
        if (rootfs_propagation.empty()) rootfs_propagation = "rslave";
        break;
      case v1::PROPAGATION_BIDIRECTIONAL:
        propagation = "rshared";
        rootfs_propagation = "rshared";
        break;
      default:
        break;
    }
    // selinux_relabel is ignored: crius does not label (no SELinux support).
    SetMount(mounts, BindMount(*destination, *source, m.readonly(), propagation));
  }
  return absl::OkStatus();
}

bool HasCriMount(const v1::ContainerConfig& config, std::string_view destination) {
  for (const auto& m : config.mounts()) {
    auto clean = CleanAbsolute(m.container_path());
    if (clean && *clean == destination) return true;
  }
  return false;
}

absl::Status BuildMounts(const ContainerSpecInput& in, Spec& spec) {
  const auto& security = SecurityOf(*in.config);
  bool privileged = security.privileged();
  bool readonly_root = security.readonly_rootfs();
  std::vector<Mount> mounts = DefaultMounts();
  mounts.push_back(CgroupMount());
  if (privileged) {
    // The host's sysfs and cgroup tree writable, as privileged means.
    MakeWritable(FindMount(mounts, "/sys"));
    MakeWritable(FindMount(mounts, "/sys/fs/cgroup"));
  }

  // /dev/shm stays writable with a read-only rootfs: shared memory is not
  // part of the image, and programs fail without it.
  SetMount(mounts, BindMount("/dev/shm", in.pod.shm_path.empty() ? "/dev/shm" : in.pod.shm_path,
                             /*readonly=*/false));
  // The pod's files follow the rootfs: with a read-only rootfs they are
  // read-only too (containerd's choice), so the container cannot change
  // what its siblings see.
  const std::pair<const char*, const std::string*> pod_files[] = {
      {"/etc/hostname", &in.pod.hostname_file},
      {"/etc/hosts", &in.pod.hosts_file},
      {"/etc/resolv.conf", &in.pod.resolv_conf_file},
  };
  for (const auto& [destination, source] : pod_files) {
    if (!source->empty()) SetMount(mounts, BindMount(destination, *source, readonly_root));
  }
  if (!in.termination_log_host_path.empty() && !HasCriMount(*in.config, kTerminationLogPath)) {
    SetMount(mounts, BindMount(kTerminationLogPath, in.termination_log_host_path, false));
  }

  std::string rootfs_propagation;
  RETURN_IF_ERROR(AddCriMounts(in, mounts, rootfs_propagation));
  // Parents before children (runc mounts in order, and a later parent
  // would hide an earlier child); the order within one depth is kept.
  std::stable_sort(mounts.begin(), mounts.end(), [](const Mount& a, const Mount& b) {
    return Depth(a.destination) < Depth(b.destination);
  });
  spec.mounts = std::move(mounts);
  if (!rootfs_propagation.empty()) spec.linux_spec.extra["rootfsPropagation"] = rootfs_propagation;
  return absl::OkStatus();
}

// One device node for linux.devices plus its cgroup allow rule.
struct DeviceNode {
  std::string path;  // in the container
  char type = 'c';
  uint32_t major = 0, minor = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
};

std::optional<DeviceNode> NodeOf(const struct stat& st, std::string container_path) {
  DeviceNode d;
  if (S_ISCHR(st.st_mode)) {
    d.type = 'c';
  } else if (S_ISBLK(st.st_mode)) {
    d.type = 'b';
  } else {
    return std::nullopt;
  }
  d.path = std::move(container_path);
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  return d;
}

// Every device node below `host_dir`, mapped under `container_dir`.
// Symlinks are not followed (a /dev tree is full of them, all pointing at
// nodes that are visited anyway). `skip` names top-level entries to leave out.
void WalkDevices(const std::string& host_dir, const std::string& container_dir,
                 const std::vector<std::string>& skip, std::vector<DeviceNode>& out,
                 int depth = 0) {
  if (depth > 8) return;
  DIR* dir = ::opendir(host_dir.c_str());
  if (dir == nullptr) return;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (depth == 0 && std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    std::string host = JoinPath(host_dir, name);
    struct stat st;
    if (::lstat(host.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      WalkDevices(host, JoinPath(container_dir, name), skip, out, depth + 1);
    } else if (auto node = NodeOf(st, JoinPath(container_dir, name))) {
      out.push_back(*std::move(node));
    }
  }
  ::closedir(dir);
}

json DeviceJson(const DeviceNode& d) {
  return json{{"path", d.path},     {"type", std::string(1, d.type)},
              {"major", d.major},   {"minor", d.minor},
              {"fileMode", d.mode}, {"uid", d.uid},
              {"gid", d.gid}};
}

absl::Status BuildDevices(const ContainerSpecInput& in, Spec& spec, json& device_rules) {
  bool privileged = SecurityOf(*in.config).privileged();
  json devices = json::array();
  if (privileged) {
    // Everything the host has, and every device allowed in the cgroup: a
    // privileged pod (CSI drivers, device plugins) expects to see devices
    // that appear later too, which only the allow-all rule grants.
    std::vector<DeviceNode> nodes;
    WalkDevices("/dev", "/dev", {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"},
                nodes);
    for (const auto& d : nodes) devices.push_back(DeviceJson(d));
    device_rules = json::array({{{"allow", true}, {"access", "rwm"}}});
  } else {
    device_rules = json::array({{{"allow", false}, {"access", "rwm"}}});
  }

  const auto& list = in.config->devices();
  for (int i = 0; i < list.size(); ++i) {
    const v1::Device& dev = list[i];
    std::string field = absl::StrCat("devices[", i, "]");
    auto host = CleanAbsolute(dev.host_path());
    auto target = CleanAbsolute(dev.container_path());
    if (!host || !target || *target == "/") {
      return absl::InvalidArgumentError(
          absl::StrCat(field,
                       ": host_path and container_path must be absolute "
                       "paths without \"..\""));
    }
    std::string access = dev.permissions().empty() ? "rwm" : dev.permissions();
    if (access.find_first_not_of("rwm") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".permissions \"", dev.permissions(), "\" is not a subset of rwm"));
    }
    struct stat st;
    if (::stat(host->c_str(), &st) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".host_path \"", dev.host_path(), "\" does not exist"));
    }
    std::vector<DeviceNode> nodes;
    if (S_ISDIR(st.st_mode)) {
      WalkDevices(*host, *target, {}, nodes);
    } else if (auto node = NodeOf(st, *target)) {
      nodes.push_back(*std::move(node));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".host_path \"", dev.host_path(), "\" is not a device or directory"));
    }
    for (const auto& d : nodes) {
      devices.push_back(DeviceJson(d));
      if (!privileged) {
        device_rules.push_back({{"allow", true},
                                {"type", std::string(1, d.type)},
                                {"major", d.major},
                                {"minor", d.minor},
                                {"access", access}});
      }
    }
  }
  if (!devices.empty()) spec.linux_spec.extra["devices"] = std::move(devices);
  return absl::OkStatus();
}

// v2: memory.swap.max exists in every non-root cgroup when the kernel
// accounts swap, and never in the root. Any child of the root shows it,
// whoever made the child (systemd's init.scope and system.slice, or the pod
// cgroups on a node without systemd), so look at the root's children.
bool V2HasSwapAccounting(const std::string& root) {
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (e->d_type != DT_DIR || name == "." || name == "..") continue;
    if (PathExists(JoinPath(root, name, "memory.swap.max"))) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

bool DetectSwapLimit() {
  // v1: the memsw files exist only with swap accounting.
  if (PathExists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) return true;
  if (PathExists("/sys/fs/cgroup/cgroup.controllers")) return V2HasSwapAccounting("/sys/fs/cgroup");
  return false;
}

}  // namespace

json LinuxResourcesJson(const v1::LinuxContainerResources& res, bool cgroup_v2,
                        std::optional<bool> swap_limit_supported, const std::string& container_id) {
  json r = json::object();
  json cpu = json::object();
  if (res.cpu_shares() > 0) cpu["shares"] = static_cast<uint64_t>(res.cpu_shares());
  if (res.cpu_quota() != 0) cpu["quota"] = res.cpu_quota();
  if (res.cpu_period() > 0) cpu["period"] = static_cast<uint64_t>(res.cpu_period());
  if (!res.cpuset_cpus().empty()) cpu["cpus"] = res.cpuset_cpus();
  if (!res.cpuset_mems().empty()) cpu["mems"] = res.cpuset_mems();
  if (!cpu.empty()) r["cpu"] = std::move(cpu);

  json memory = json::object();
  if (res.memory_limit_in_bytes() > 0) memory["limit"] = res.memory_limit_in_bytes();
  bool swap_ok =
      swap_limit_supported.value_or(false) || (!swap_limit_supported.has_value() && [] {
        // Only a positive answer is kept: on a v2 node the root may have
        // no child cgroup yet when the first container is created.
        static std::atomic<bool> detected{false};
        if (!detected.load()) detected.store(DetectSwapLimit());
        return detected.load();
      }());
  if (res.memory_swap_limit_in_bytes() != 0) {
    if (swap_ok) {
      memory["swap"] = res.memory_swap_limit_in_bytes();
    } else {
      CRIUS_LOG(kWarn) << "container " << container_id
                       << ": memory_swap_limit_in_bytes ignored, the node has "
                          "no swap accounting";
    }
  } else if (res.memory_limit_in_bytes() > 0 && swap_ok) {
    // Memory+swap equal to memory: the container gets no swap, so its
    // memory limit means what the pod spec says.
    memory["swap"] = res.memory_limit_in_bytes();
  }
  if (!memory.empty()) r["memory"] = std::move(memory);

  if (!res.hugepage_limits().empty()) {
    json pages = json::array();
    for (const auto& h : res.hugepage_limits()) {
      pages.push_back({{"pageSize", h.page_size()}, {"limit", h.limit()}});
    }
    r["hugepageLimits"] = std::move(pages);
  }
  if (!res.unified().empty()) {
    if (cgroup_v2) {
      json unified = json::object();
      for (const auto& [key, value] : res.unified()) unified[key] = value;
      r["unified"] = std::move(unified);
    } else {
      // runc refuses unified keys on a v1 hierarchy, failing the create.
      CRIUS_LOG(kWarn) << "container " << container_id
                       << ": unified cgroup settings ignored on a cgroup v1 node";
    }
  }
  return r;
}

namespace {

json BuildResources(const ContainerSpecInput& in, json device_rules) {
  json r = in.config->linux().has_resources()
               ? LinuxResourcesJson(in.config->linux().resources(), in.pod.cgroup_v2,
                                    in.swap_limit_supported, in.container_id)
               : json::object();
  r["devices"] = std::move(device_rules);
  return r;
}

absl::Status BuildSecurity(const ContainerSpecInput& in, Spec& spec) {
  const auto& security = SecurityOf(*in.config);
  Linux& l = spec.linux_spec;
  spec.root.readonly = security.readonly_rootfs();
  if (security.privileged()) {
    l.masked_paths.clear();
    l.readonly_paths.clear();
    l.seccomp.reset();
    return absl::OkStatus();
  }

  if (!security.masked_paths().empty()) {
    l.masked_paths.assign(security.masked_paths().begin(), security.masked_paths().end());
  } else {
    l.masked_paths = DefaultMaskedPaths();
    if (std::find(l.masked_paths.begin(), l.masked_paths.end(), kPowercapPath) ==
        l.masked_paths.end()) {
      l.masked_paths.push_back(kPowercapPath);
    }
  }
  if (!security.readonly_paths().empty()) {
    l.readonly_paths.assign(security.readonly_paths().begin(), security.readonly_paths().end());
  } else {
    l.readonly_paths = DefaultReadonlyPaths();
  }

  ASSIGN_OR_RETURN(SeccompChoice seccomp, ChooseSeccomp(security, in.seccomp_profile_root));
  const auto& caps = spec.process.capabilities.bounding;
  switch (seccomp.mode) {
    case SeccompMode::kUnconfined:
      l.seccomp.reset();
      break;
    case SeccompMode::kRuntimeDefault:
      l.seccomp = RuntimeDefaultSeccomp(caps);
      break;
    case SeccompMode::kLocalhost: {
      auto profile = LoadSeccompProfile(seccomp.profile_path, caps);
      if (!profile.ok()) return Annotate(profile.status(), "seccomp");
      l.seccomp = *std::move(profile);
      break;
    }
  }

  if (in.apparmor_enabled) {
    std::string profile;
    if (security.has_apparmor()) {
      if (security.apparmor().profile_type() == v1::SecurityProfile::Localhost) {
        profile = security.apparmor().localhost_ref();
      }
    } else if (std::string legacy = LegacyAppArmorProfile(security);
               absl::StartsWith(legacy, "localhost/")) {
      profile = legacy.substr(std::string_view("localhost/").size());
    }
    // RuntimeDefault has no profile of crius's own loaded yet, so it runs
    // under the runtime's default (unconfined), like Unconfined.
    if (!profile.empty()) spec.process.extra["apparmorProfile"] = profile;
  }
  return absl::OkStatus();
}

void BuildAnnotations(const ContainerSpecInput& in, Spec& spec) {
  auto& a = spec.annotations;
  for (const auto& [key, value] : in.config->annotations()) a[key] = value;
  // Ours last, so a request cannot pose as another sandbox.
  a[kAnnotationContainerType] = "container";
  a[kAnnotationSandboxId] = in.pod.sandbox_id;
  a[kAnnotationContainerName] = in.config->metadata().name();
  a[kAnnotationImageName] = in.image_name;
  const v1::PodSandboxMetadata* meta = in.sandbox != nullptr ? &in.sandbox->metadata() : nullptr;
  auto pick = [](const std::string& value, const std::string* fallback) {
    return !value.empty() || fallback == nullptr ? value : *fallback;
  };
  a[kAnnotationSandboxName] = pick(in.pod.sandbox_name, meta ? &meta->name() : nullptr);
  a[kAnnotationSandboxNamespace] =
      pick(in.pod.sandbox_namespace, meta ? &meta->namespace_() : nullptr);
  a[kAnnotationSandboxUid] = pick(in.pod.sandbox_uid, meta ? &meta->uid() : nullptr);
}

// Signal numbers by name, as the kernel numbers them on the architectures
// crius runs on (SIGRTMIN/SIGRTMAX are the kernel's 34/64, not libc's
// adjusted values, as Docker and containerd parse them).
struct NamedSignal {
  const char* name;
  int number;
};
constexpr NamedSignal kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};
constexpr int kKernelRtMin = 34;
constexpr int kKernelRtMax = 64;

absl::StatusOr<int> ParseSignal(std::string_view text) {
  std::string s = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(AbslView(text)));
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("unknown signal \"", AbslView(text), "\""));
  };
  int number = 0;
  if (absl::SimpleAtoi(s, &number)) {
    if (number < 1 || number > kKernelRtMax) return bad();
    return number;
  }
  absl::string_view name = s;
  absl::ConsumePrefix(&name, "SIG");
  for (const auto& sig : kSignals) {
    if (name == sig.name) return sig.number;
  }
  int offset = 0;
  if (absl::ConsumePrefix(&name, "RTMIN")) {
    if (name.empty()) return kKernelRtMin;
    if (absl::ConsumePrefix(&name, "+") && absl::SimpleAtoi(name, &offset) && offset >= 0 &&
        kKernelRtMin + offset <= kKernelRtMax) {
      return kKernelRtMin + offset;
    }
    return bad();
  }
  if (absl::ConsumePrefix(&name, "RTMAX")) {
    if (name.empty()) return kKernelRtMax;
    if (absl::ConsumePrefix(&name, "-") && absl::SimpleAtoi(name, &offset) && offset >= 0 &&
        kKernelRtMax - offset >= kKernelRtMin) {
      return kKernelRtMax - offset;
    }
  }
  return bad();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ContainerArgs(
    const std::vector<std::string>& command, const std::vector<std::string>& args,
    const std::vector<std::string>& image_entrypoint, const std::vector<std::string>& image_cmd) {
  std::vector<std::string> out;
  if (!command.empty()) {
    out = command;
    out.insert(out.end(), args.begin(), args.end());
  } else {
    // An Entrypoint of [""] is how Docker images say "no entrypoint".
    bool blank_entrypoint = image_entrypoint.size() == 1 && image_entrypoint[0].empty();
    if (!blank_entrypoint) out = image_entrypoint;
    const auto& rest = args.empty() ? image_cmd : args;
    out.insert(out.end(), rest.begin(), rest.end());
  }
  if (out.empty()) return absl::InvalidArgumentError("no command specified");
  return out;
}

void MergeEnv(std::vector<std::string>& env, const std::vector<std::string>& overrides) {
  for (const auto& entry : overrides) {
    std::string_view key = EnvKey(entry);
    auto it = std::find_if(env.begin(), env.end(),
                           [&](const std::string& e) { return EnvKey(e) == key; });
    if (it != env.end()) {
      *it = entry;
    } else {
      env.push_back(entry);
    }
  }
}

absl::StatusOr<int> StopSignalOf(std::string_view image_config_json) {
  ASSIGN_OR_RETURN(ImageConfig image, ParseImageConfig(image_config_json));
  if (image.stop_signal.empty()) return SIGTERM;
  auto sig = ParseSignal(image.stop_signal);
  if (!sig.ok()) return Annotate(sig.status(), "image StopSignal");
  return sig;
}

absl::StatusOr<Spec> BuildContainerSpec(const ContainerSpecInput& in) {
  if (in.config == nullptr) return absl::InvalidArgumentError("container config is missing");
  if (in.container_id.empty()) return absl::InvalidArgumentError("container id is empty");
  if (in.rootfs.empty() || in.rootfs.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("rootfs \"", in.rootfs, "\" must be an absolute path"));
  }
  auto image = ParseImageConfig(in.image_config_json);
  if (!image.ok()) return image.status();

  Spec spec = DefaultSpec();
  spec.root.path = in.rootfs;
  RETURN_IF_ERROR(BuildProcess(in, *image, spec));
  BuildNamespaces(in, spec);
  RETURN_IF_ERROR(BuildMounts(in, spec));
  RETURN_IF_ERROR(BuildSecurity(in, spec));
  json device_rules;
  RETURN_IF_ERROR(BuildDevices(in, spec, device_rules));
  spec.linux_spec.resources = BuildResources(in, std::move(device_rules));
  spec.linux_spec.cgroups_path = in.pod.cgroups_path;
  BuildAnnotations(in, spec);
  return spec;
}

}  // namespace crius::oci
