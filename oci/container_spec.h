#pragma once
// BuildContainerSpec: the complete OCI runtime spec (config.json) for one
// CRI container, from its ContainerConfig, the pod it joins and the image it
// runs. Pure apart from reads: it reads the rootfs's /etc/passwd and
// /etc/group, a Localhost seccomp profile, the host's /dev (privileged
// containers and CRI devices) and a few kernel facts; it creates nothing.
//
// Where the CRI leaves a choice open, crius does what containerd's CRI
// plugin does, so workloads behave the same after a switch:
//  - process: args from command/args over the image's Entrypoint/Cmd
//    (Kubernetes' rules); env = PATH and HOSTNAME defaults, then the image's
//    Env, then the request's envs (later wins per key); cwd = working_dir,
//    else the image's WorkingDir, else "/"; the user per oci/user.h;
//    capabilities per oci/capabilities.h; noNewPrivileges only when asked;
//    oomScoreAdj from resources, clamped to the node's floor.
//  - namespaces: the pod's net/ipc/uts pins (absent = the node's), pid per
//    namespace_options.pid, a new mount namespace, a cgroup namespace on a
//    pure cgroup v2 host.
//  - mounts: /proc, /dev, /dev/pts, /dev/shm (the pod's, or the node's for
//    IPC NODE), /dev/mqueue, /sys, /sys/fs/cgroup, the pod's /etc/hostname,
//    /etc/hosts, /etc/resolv.conf, /dev/termination-log, then the CRI mounts
//    (a CRI mount replaces a default one at the same destination); parents
//    before children.
//  - security: seccomp per oci/seccomp_profile.h, masked/readonly paths,
//    AppArmor when the host has it, privileged mode.
//  - resources, cgroupsPath, annotations, hostname.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "api/api.pb.h"
#include "nlohmann/json.hpp"
#include "oci/spec.h"

namespace crius::oci {

// Annotation keys (the names containerd's CRI plugin uses, which tools such
// as crictl inspect and NRI plugins read).
inline constexpr char kAnnotationContainerType[] = "io.kubernetes.cri.container-type";
inline constexpr char kAnnotationSandboxId[] = "io.kubernetes.cri.sandbox-id";
inline constexpr char kAnnotationContainerName[] = "io.kubernetes.cri.container-name";
inline constexpr char kAnnotationImageName[] = "io.kubernetes.cri.image-name";
inline constexpr char kAnnotationSandboxName[] = "io.kubernetes.cri.sandbox-name";
inline constexpr char kAnnotationSandboxNamespace[] = "io.kubernetes.cri.sandbox-namespace";
inline constexpr char kAnnotationSandboxUid[] = "io.kubernetes.cri.sandbox-uid";

// The PATH a container gets when neither the image nor the request sets one.
inline constexpr char kDefaultPath[] =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct PodContext {
  std::string sandbox_id;
  std::string sandbox_name, sandbox_namespace, sandbox_uid;  // for annotations
  std::string net_ns, ipc_ns,
      uts_ns;  // pinned namespace paths to join; empty = the node's
  // "/proc/<infra pid>/ns/pid" when the pod shares one PID namespace; empty
  // otherwise. Also used for namespace_options.pid TARGET: the manager puts
  // the target container's PID namespace here.
  std::string pid_ns;
  std::string hostname;  // the pod's hostname
  std::string hostname_file, hosts_file,
      resolv_conf_file;       // pod files bound at /etc/...
  std::string shm_path;       // the pod's /dev/shm tmpfs; empty = the node's /dev/shm
  // The container's linux.cgroupsPath, as the cgroup manager names it
  // ("/kubepods/burstable/pod<uid>/crius-<id>" or
  // "kubepods-burstable-pod<uid>.slice:crius:<id>").
  std::string cgroups_path;
  bool cgroup_v2 = false;     // pure v2 host: add a cgroup namespace
};

struct ContainerSpecInput {
  std::string container_id;
  const runtime::v1::ContainerConfig* config = nullptr;
  const runtime::v1::PodSandboxConfig* sandbox = nullptr;
  std::string image_config_json;  // the image's config blob (OCI image config JSON)
  std::string image_name;         // for the annotation io.kubernetes.cri.image-name
  std::string rootfs;             // absolute path of the mounted rootfs (overlay merged dir)
  PodContext pod;
  int oom_score_adj_min = -1000;  // the lowest oom_score_adj the node allows
  std::string seccomp_profile_root = "/var/lib/kubelet/seccomp";
  bool apparmor_enabled = false;  // pass AppArmor profile names only when the host has AppArmor
  // Added for the containers work: a host file bound at /dev/termination-log
  // (rw) unless a CRI mount already targets it (kubelet normally sends the
  // termination log as a CRI mount; this covers callers that manage it).
  std::string termination_log_host_path;
  // Whether the memory cgroup can limit swap (v1 memory.memsw.*). nullopt:
  // detect from /sys/fs/cgroup. Without it, a swap limit would make runc
  // fail, so swap is then left out of the spec.
  std::optional<bool> swap_limit_supported;
};

// Errors: InvalidArgument naming the field for a bad request (no command,
// relative or ".." mount paths, a missing mount host_path, an unknown
// capability, bad seccomp refs, unsupported mount features), FailedPrecondition
// for an image that cannot be run as asked (user not in its /etc/passwd, bad
// image config JSON), NotFound for a missing Localhost seccomp profile.
absl::StatusOr<Spec> BuildContainerSpec(const ContainerSpecInput& in);

// The OCI linux.resources object (cpu, memory with swap = memory when the
// node accounts swap, hugepages, unified on v2) for CRI resources, without
// devices. The spec builder uses it at create and UpdateContainerResources
// hands it to `runc update`. `swap_limit_supported` nullopt: detected.
nlohmann::json LinuxResourcesJson(const runtime::v1::LinuxContainerResources& res, bool cgroup_v2,
                                  std::optional<bool> swap_limit_supported,
                                  const std::string& container_id);

// The image's StopSignal (e.g. "SIGQUIT", "QUIT", "15", "SIGRTMIN+3") as a
// signal number; SIGTERM when the image sets none. InvalidArgument for an
// unknown name or malformed config.
absl::StatusOr<int> StopSignalOf(std::string_view image_config_json);

// Kubernetes' command rules: command replaces the image's Entrypoint (and
// then the image's Cmd is ignored); args replace the image's Cmd.
// InvalidArgument "no command specified" when nothing is left.
absl::StatusOr<std::vector<std::string>> ContainerArgs(
    const std::vector<std::string>& command, const std::vector<std::string>& args,
    const std::vector<std::string>& image_entrypoint, const std::vector<std::string>& image_cmd);

// Sets each "KEY=value" of `overrides` into `env`, replacing an entry with
// the same key in place (keeping the order of first appearance).
void MergeEnv(std::vector<std::string>& env, const std::vector<std::string>& overrides);

}  // namespace crius::oci
