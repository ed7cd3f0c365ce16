#pragma once
// A typed model of the OCI runtime spec (config.json) with the subset of
// fields crius fills, and its JSON form. Kept as plain structs so building a
// spec is ordinary C++ (no JSON poking) and tests can compare fields.
//
// What is covered now: process (args, env, cwd, user, capabilities,
// rlimits, noNewPrivileges, oomScoreAdj), root, hostname, mounts,
// annotations, and linux {namespaces, cgroupsPath, resources, sysctl,
// maskedPaths, readonlyPaths, seccomp}.
//
// Extension points for the containers work:
//  - `Linux::resources` and `Linux::seccomp` are raw JSON objects: the
//    resource translation (CRI LinuxContainerResources -> OCI) and the
//    seccomp profile compiler produce them and the spec only carries them.
//  - `Spec::extra` / `Linux::extra` / `Process::extra` are merged over the
//    generated JSON last (object keys replaced, not deep-merged), for fields
//    not modelled yet (devices, hooks, apparmorProfile, uidMappings...).
//    Prefer adding a typed field once a field is used in more than one place.
//  - DefaultMounts(), DefaultMaskedPaths(), DefaultReadonlyPaths() are the
//    baseline a container spec starts from; callers append their own.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace crius::oci {

// The spec version written into configs; runc 1.1 and crun accept it.
inline constexpr char kOciVersion[] = "1.0.2";

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
};

// Each set is written even when empty: a spec without "capabilities" makes
// runc leave the process with every capability root has, which is the
// opposite of what an empty list means here.
struct Capabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> inheritable;
  std::vector<std::string> permitted;
  std::vector<std::string> ambient;

  // The same list in bounding, effective and permitted (what a container
  // gets from a CRI capability list); inheritable and ambient stay empty.
  static Capabilities Of(const std::vector<std::string>& caps);
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct Process {
  bool terminal = false;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  Capabilities capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = true;
  // Unset inherits the runtime's (criusd's) value. Negative values need
  // CAP_SYS_RESOURCE, which some nodes do not grant: callers clamp.
  std::optional<int> oom_score_adj;
  nlohmann::json extra = nlohmann::json::object();
};

struct Root {
  std::string path = "rootfs";  // relative to the bundle, or absolute
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// OCI namespace type names.
inline constexpr char kPidNamespace[] = "pid";
inline constexpr char kNetworkNamespace[] = "network";
inline constexpr char kMountNamespace[] = "mount";
inline constexpr char kIpcNamespace[] = "ipc";
inline constexpr char kUtsNamespace[] = "uts";
inline constexpr char kUserNamespace[] = "user";
inline constexpr char kCgroupNamespace[] = "cgroup";

struct Namespace {
  std::string type;
  // Empty: the runtime creates a new namespace; otherwise it joins this one
  // (a pin such as /run/netns/<name> or /proc/<pid>/ns/pid).
  std::string path;
};

struct Linux {
  // A namespace type that is absent here is shared with the runtime (the
  // node's), as the OCI spec defines.
  std::vector<Namespace> namespaces;
  // cgroupfs form "/parent/leaf"; empty lets the runtime choose.
  std::string cgroups_path;
  nlohmann::json resources = nlohmann::json::object();
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::optional<nlohmann::json> seccomp;
  nlohmann::json extra = nlohmann::json::object();

  // Adds the namespace, or replaces the path of one of the same type.
  void SetNamespace(std::string_view type, std::string_view path = {});
  // Removes a namespace type (the process then shares the node's).
  void RemoveNamespace(std::string_view type);
  const Namespace* FindNamespace(std::string_view type) const;
};

struct Spec {
  Process process;
  Root root;
  std::string hostname;
  std::vector<Mount> mounts;
  std::map<std::string, std::string> annotations;
  Linux linux_spec;
  nlohmann::json extra = nlohmann::json::object();
};

// The mounts every container gets unless it replaces them: /proc, a tmpfs
// /dev (the runtime fills it with the standard device nodes), /dev/pts,
// /dev/shm, /dev/mqueue and a read-only /sys, with the options `runc spec`
// generates. /sys/fs/cgroup is separate (CgroupMount) since not every
// process wants it.
std::vector<Mount> DefaultMounts();
// A read-only view of the container's own cgroups.
Mount CgroupMount();
// Paths hidden (masked) or made read-only below /proc and /sys, the same
// lists `runc spec` writes.
std::vector<std::string> DefaultMaskedPaths();
std::vector<std::string> DefaultReadonlyPaths();

// A locked-down baseline: no terminal, no capabilities, noNewPrivileges,
// RLIMIT_NOFILE 1024, the default mounts, masked and readonly paths, and
// new pid, ipc, uts, mount and network namespaces.
Spec DefaultSpec();

nlohmann::json ToJson(const Spec& spec);
// Pretty-printed JSON, ready to be written as <bundle>/config.json.
std::string ToJsonString(const Spec& spec);

// Writes <bundle_dir>/config.json atomically (mode 0600: env may hold
// secrets). The directory must exist.
absl::Status WriteSpec(const std::string& bundle_dir, const Spec& spec);

}  // namespace crius::oci
