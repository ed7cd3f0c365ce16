#include "server/validate.h"

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/strings.h"
#include "sandbox/cgroup.h"
#include "sandbox/systemd_cgroup.h"

namespace crius::server {
namespace {

using runtime::v1::ContainerConfig;
using runtime::v1::LinuxContainerResources;
using runtime::v1::PodSandboxConfig;
using runtime::v1::SecurityProfile;
using StringMap = google::protobuf::Map<std::string, std::string>;

// Limits taken from Kubernetes (apimachinery's validation): a DNS subdomain
// (object names) is at most 253 characters, a DNS label (namespaces) 63, the
// name part of a qualified key 63, and all annotations of an object together
// 256 KiB. Paths stop at the kernel's PATH_MAX.
constexpr size_t kMaxNameLength = 253;
constexpr size_t kMaxNamespaceLength = 63;
constexpr size_t kMaxKeyNameLength = 63;
constexpr size_t kMaxKeyPrefixLength = 253;
// kubelet itself puts the pod's name (up to 253 characters) into the
// io.kubernetes.pod.name label, so values get the name limit rather than
// apimachinery's 63.
constexpr size_t kMaxLabelValueLength = 253;
constexpr size_t kMaxAnnotationsBytes = 256 * 1024;
constexpr size_t kMaxPathLength = 4096;
// Strings that end up in a file or a command line but name nothing (DNS
// entries, profile names, cgroup values).
constexpr size_t kMaxShortString = 1024;

absl::Status Invalid(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " ", AbslView(why)));
}

absl::Status Required(std::string_view field) { return Invalid(field, "is required"); }

// Shows a refused value without flooding the log with a 10 MB string or
// writing raw control bytes into it.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  if (s.size() > 64) absl::StrAppend(&out, "...");
  out.push_back('"');
  return out;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool HasControl(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Command lines, environment values and mount paths reach the runtime as C
// strings: a NUL would silently cut them (and an argument after it never
// reaches the process).
absl::Status NoNul(std::string_view field, std::string_view s) {
  if (HasNul(s)) return Invalid(field, absl::StrCat(Quote(s), " contains a NUL byte"));
  return absl::OkStatus();
}

// A string written into a file line by line (resolv.conf, cgroup files) or
// passed in a key=value list (CNI_ARGS): no control characters, bounded.
absl::Status PlainString(std::string_view field, std::string_view s, size_t max) {
  if (s.size() > max) return Invalid(field, absl::StrCat("is longer than ", max, " characters"));
  if (HasControl(s)) return Invalid(field, absl::StrCat(Quote(s), " contains a control character"));
  return absl::OkStatus();
}

bool HasDotDot(std::string_view path) {
  for (absl::string_view part : absl::StrSplit(AbslView(path), '/')) {
    if (part == "..") return true;
  }
  return false;
}

// An absolute path that names what it says: no NUL, no ".." that could
// climb out of where a prefix check put it.
absl::Status AbsolutePath(std::string_view field, std::string_view path) {
  if (path.empty()) return Required(field);
  if (path.size() > kMaxPathLength) return Invalid(field, "is longer than PATH_MAX");
  RETURN_IF_ERROR(NoNul(field, path));
  if (path.front() != '/') return Invalid(field, absl::StrCat(Quote(path), " must be an absolute path"));
  if (HasDotDot(path)) return Invalid(field, absl::StrCat(Quote(path), " must not contain \"..\""));
  return absl::OkStatus();
}

// A path that must stay inside a directory it is joined to.
absl::Status RelativePathInside(std::string_view field, std::string_view path, std::string_view dir) {
  if (path.size() > kMaxPathLength) return Invalid(field, "is longer than PATH_MAX");
  if (HasControl(path)) return Invalid(field, absl::StrCat(Quote(path), " contains a control character"));
  if (!path.empty() && path.front() == '/') {
    return Invalid(field, absl::StrCat(Quote(path), " must be relative to ", AbslView(dir)));
  }
  if (HasDotDot(path)) {
    return Invalid(field, absl::StrCat(Quote(path), " must stay inside ", AbslView(dir), " (no \"..\")"));
  }
  return absl::OkStatus();
}

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Object names as kubelet and crictl send them. Kubernetes allows fewer
// characters (lowercase DNS names); upper case is kept for crictl and
// critest ("PodSandbox-for-..."). Anything else could break out of the
// separators of CNI_ARGS (';', '=') or the reservation name.
absl::Status Name(std::string_view field, std::string_view name, size_t max) {
  if (name.empty()) return Required(field);
  if (name.size() > max) return Invalid(field, absl::StrCat("is longer than ", max, " characters"));
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '.' && c != '_') {
      return Invalid(field, absl::StrCat(Quote(name), " may only hold letters, digits, '-', '.' and '_'"));
    }
  }
  return absl::OkStatus();
}

// apimachinery's qualified-name part: alphanumerics with '-', '_' or '.'
// inside, starting and ending alphanumeric.
bool IsQualifiedPart(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// A DNS subdomain: lowercase alphanumerics, '-' and '.', starting and
// ending alphanumeric.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > kMaxKeyPrefixLength || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

// A label or annotation key: "[prefix/]name" with a DNS-subdomain prefix.
absl::Status QualifiedKey(std::string_view field, std::string_view key) {
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    if (!IsDnsSubdomain(key.substr(0, slash))) {
      return Invalid(field, absl::StrCat("key ", Quote(key), " has a prefix that is not a DNS subdomain"));
    }
    name = key.substr(slash + 1);
  }
  if (!IsQualifiedPart(name, kMaxKeyNameLength)) {
    return Invalid(field, absl::StrCat("key ", Quote(key),
                                       " must be at most 63 letters, digits, '-', '_' or '.', starting and "
                                       "ending with a letter or digit (after an optional DNS prefix and '/')"));
  }
  return absl::OkStatus();
}

absl::Status Labels(std::string_view field, const StringMap& labels) {
  for (const auto& [key, value] : labels) {
    RETURN_IF_ERROR(QualifiedKey(field, key));
    if (!value.empty() && !IsQualifiedPart(value, kMaxLabelValueLength)) {
      return Invalid(field, absl::StrCat("value ", Quote(value), " of ", Quote(key),
                                         " must be at most 253 letters, digits, '-', '_' or '.', starting "
                                         "and ending with a letter or digit"));
    }
  }
  return absl::OkStatus();
}

absl::Status Annotations(std::string_view field, const StringMap& annotations) {
  size_t total = 0;
  for (const auto& [key, value] : annotations) {
    RETURN_IF_ERROR(QualifiedKey(field, key));
    RETURN_IF_ERROR(NoNul(absl::StrCat(AbslView(field), "[", key, "]"), value));
    total += key.size() + value.size();
  }
  if (total > kMaxAnnotationsBytes) return Invalid(field, "are larger than 256 KiB together");
  return absl::OkStatus();
}

bool IsCpuList(std::string_view s) {
  for (char c : s) {
    if (!(c >= '0' && c <= '9') && c != ',' && c != '-') return false;
  }
  return true;
}

// "2MB", "1GB", "64KB": the page sizes kubelet names hugetlb limits by.
bool IsPageSize(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 6) return false;
  std::string_view unit = s.substr(digits);
  return unit == "KB" || unit == "MB" || unit == "GB" || unit == "TB";
}

// A unified (cgroup v2) key is a file of the container's cgroup: a name,
// never a path.
bool IsCgroupFileName(std::string_view s) {
  if (s.empty() || s.size() > 255 || s.front() == '.') return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

absl::Status SecurityProfileRef(std::string_view field, const SecurityProfile& p, bool is_path) {
  if (p.profile_type() != SecurityProfile::Localhost) return absl::OkStatus();
  const std::string f = absl::StrCat(AbslView(field), ".localhost_ref");
  // A seccomp profile is a file criusd reads; an AppArmor profile is a name
  // the kernel already knows.
  if (is_path) return AbsolutePath(f, p.localhost_ref());
  if (p.localhost_ref().empty()) return Required(f);
  return PlainString(f, p.localhost_ref(), kMaxShortString);
}

absl::Status Metadata(const runtime::v1::PodSandboxMetadata& md) {
  RETURN_IF_ERROR(Name("config.metadata.name", md.name(), kMaxNameLength));
  RETURN_IF_ERROR(Name("config.metadata.namespace", md.namespace_(), kMaxNamespaceLength));
  return Name("config.metadata.uid", md.uid(), kMaxNameLength);
}

absl::Status Dns(const runtime::v1::DNSConfig& dns) {
  // resolv.conf is line-based: a newline in an entry would add lines.
  for (const auto& s : dns.servers()) RETURN_IF_ERROR(PlainString("config.dns_config.servers", s, 64));
  for (const auto& s : dns.searches()) {
    RETURN_IF_ERROR(PlainString("config.dns_config.searches", s, kMaxNameLength));
  }
  for (const auto& s : dns.options()) {
    RETURN_IF_ERROR(PlainString("config.dns_config.options", s, kMaxShortString));
  }
  return absl::OkStatus();
}

absl::Status PortMappings(const PodSandboxConfig& config) {
  for (const auto& pm : config.port_mappings()) {
    if (pm.container_port() < 0 || pm.container_port() > 65535 || pm.host_port() < 0 ||
        pm.host_port() > 65535) {
      return Invalid("config.port_mappings",
                     absl::StrCat(pm.container_port(), ":", pm.host_port(), " is not a port (0-65535)"));
    }
    RETURN_IF_ERROR(PlainString("config.port_mappings.host_ip", pm.host_ip(), 64));
  }
  return absl::OkStatus();
}

absl::Status ValidateMounts(const ContainerConfig& config) {
  for (const auto& m : config.mounts()) {
    RETURN_IF_ERROR(AbsolutePath("config.mounts.container_path", m.container_path()));
    // An image volume has no host path; everything else is a host path.
    if (!m.host_path().empty() || !m.has_image()) {
      RETURN_IF_ERROR(AbsolutePath("config.mounts.host_path", m.host_path()));
    }
  }
  for (const auto& d : config.devices()) {
    RETURN_IF_ERROR(AbsolutePath("config.devices.container_path", d.container_path()));
    RETURN_IF_ERROR(AbsolutePath("config.devices.host_path", d.host_path()));
    RETURN_IF_ERROR(PlainString("config.devices.permissions", d.permissions(), 3));
  }
  return absl::OkStatus();
}

absl::Status ValidateProcess(const ContainerConfig& config) {
  for (const auto& a : config.command()) RETURN_IF_ERROR(NoNul("config.command", a));
  for (const auto& a : config.args()) RETURN_IF_ERROR(NoNul("config.args", a));
  for (const auto& e : config.envs()) {
    if (e.key().empty()) return Required("config.envs.key");
    RETURN_IF_ERROR(NoNul("config.envs.key", e.key()));
    if (absl::StrContains(e.key(), "=")) {
      return Invalid("config.envs.key", absl::StrCat(Quote(e.key()), " must not contain '='"));
    }
    RETURN_IF_ERROR(NoNul(absl::StrCat("config.envs[", e.key(), "].value"), e.value()));
  }
  if (!config.working_dir().empty()) RETURN_IF_ERROR(AbsolutePath("config.working_dir", config.working_dir()));
  return absl::OkStatus();
}

absl::Status ValidateContainerSecurity(const runtime::v1::LinuxContainerSecurityContext& sc) {
  RETURN_IF_ERROR(SecurityProfileRef("config.linux.security_context.seccomp", sc.seccomp(), true));
  RETURN_IF_ERROR(SecurityProfileRef("config.linux.security_context.apparmor", sc.apparmor(), false));
  RETURN_IF_ERROR(PlainString("config.linux.security_context.run_as_username", sc.run_as_username(),
                              kMaxNameLength));
  for (const auto& p : sc.masked_paths()) {
    RETURN_IF_ERROR(AbsolutePath("config.linux.security_context.masked_paths", p));
  }
  for (const auto& p : sc.readonly_paths()) {
    RETURN_IF_ERROR(AbsolutePath("config.linux.security_context.readonly_paths", p));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateId(std::string_view field, std::string_view id) {
  if (id.empty()) return Required(field);
  if (id.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " is longer than 128 characters"));
  }
  if (id.front() == '.' || id.front() == '-') {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(field), " ", Quote(id), " must start with a letter or digit"));
  }
  for (char c : id) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(field), " ", Quote(id), " may only hold letters, digits, '_', '.' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateContainerResources(std::string_view field, const LinuxContainerResources& r) {
  auto bad = [&](std::string_view what, int64_t v, std::string_view rule) {
    return Invalid(absl::StrCat(AbslView(field), ".", AbslView(what)), absl::StrCat(v, " ", AbslView(rule)));
  };
  // The ranges the kernel (and kubelet's conversions) allow; 0 means unset.
  if (r.cpu_period() != 0 && (r.cpu_period() < 1000 || r.cpu_period() > 1000000)) {
    return bad("cpu_period", r.cpu_period(), "must be 0 or 1000-1000000 (microseconds)");
  }
  if (r.cpu_quota() < -1) return bad("cpu_quota", r.cpu_quota(), "must be -1 (unlimited), 0 or positive");
  if (r.cpu_shares() < 0 || r.cpu_shares() > 262144) {
    return bad("cpu_shares", r.cpu_shares(), "must be 0-262144");
  }
  if (r.memory_limit_in_bytes() < 0) {
    return bad("memory_limit_in_bytes", r.memory_limit_in_bytes(), "must not be negative");
  }
  if (r.memory_swap_limit_in_bytes() < -1) {
    return bad("memory_swap_limit_in_bytes", r.memory_swap_limit_in_bytes(),
               "must be -1 (unlimited), 0 or positive");
  }
  if (r.oom_score_adj() < -1000 || r.oom_score_adj() > 1000) {
    return bad("oom_score_adj", r.oom_score_adj(), "must be -1000-1000");
  }
  if (r.cpuset_cpus().size() > kMaxShortString || !IsCpuList(r.cpuset_cpus())) {
    return Invalid(absl::StrCat(AbslView(field), ".cpuset_cpus"),
                   absl::StrCat(Quote(r.cpuset_cpus()), " is not a CPU list"));
  }
  if (r.cpuset_mems().size() > kMaxShortString || !IsCpuList(r.cpuset_mems())) {
    return Invalid(absl::StrCat(AbslView(field), ".cpuset_mems"),
                   absl::StrCat(Quote(r.cpuset_mems()), " is not a node list"));
  }
  for (const auto& h : r.hugepage_limits()) {
    if (!IsPageSize(h.page_size())) {
      return Invalid(absl::StrCat(AbslView(field), ".hugepage_limits.page_size"),
                     absl::StrCat(Quote(h.page_size()), " is not a page size like 2MB"));
    }
  }
  for (const auto& [key, value] : r.unified()) {
    if (!IsCgroupFileName(key)) {
      return Invalid(absl::StrCat(AbslView(field), ".unified"),
                     absl::StrCat("key ", Quote(key), " is not a cgroup file name"));
    }
    RETURN_IF_ERROR(PlainString(absl::StrCat(AbslView(field), ".unified[", key, "]"), value, kMaxShortString));
  }
  return absl::OkStatus();
}

absl::Status ValidatePodSandboxConfig(const PodSandboxConfig& config) {
  if (!config.has_metadata()) return Required("config.metadata");
  RETURN_IF_ERROR(Metadata(config.metadata()));
  RETURN_IF_ERROR(PlainString("config.hostname", config.hostname(), kMaxNameLength));
  if (!config.log_directory().empty()) {
    RETURN_IF_ERROR(AbsolutePath("config.log_directory", config.log_directory()));
  }
  RETURN_IF_ERROR(Dns(config.dns_config()));
  RETURN_IF_ERROR(PortMappings(config));
  RETURN_IF_ERROR(Labels("config.labels", config.labels()));
  RETURN_IF_ERROR(Annotations("config.annotations", config.annotations()));
  const auto& linux = config.linux();
  if (!linux.cgroup_parent().empty()) {
    RETURN_IF_ERROR(NoNul("config.linux.cgroup_parent", linux.cgroup_parent()));
    // The form alone here (a cgroupfs path or a systemd slice name); the
    // sandbox manager checks it matches the cgroup manager in use.
    const std::string& parent = linux.cgroup_parent();
    const bool slice = parent.find('/') == std::string::npos && absl::EndsWith(parent, ".slice");
    if (auto s = slice ? sandbox::ValidateSliceName(parent) : sandbox::ValidateCgroupPath(parent);
        !s.ok()) {
      return Invalid("config.linux.cgroup_parent", StdView(s.message()));
    }
  }
  for (const auto& [key, value] : linux.sysctls()) {
    RETURN_IF_ERROR(PlainString("config.linux.sysctls", key, kMaxShortString));
    RETURN_IF_ERROR(PlainString(absl::StrCat("config.linux.sysctls[", key, "]"), value, kMaxShortString));
  }
  const auto& sc = linux.security_context();
  RETURN_IF_ERROR(SecurityProfileRef("config.linux.security_context.seccomp", sc.seccomp(), true));
  RETURN_IF_ERROR(SecurityProfileRef("config.linux.security_context.apparmor", sc.apparmor(), false));
  if (linux.has_overhead()) RETURN_IF_ERROR(ValidateContainerResources("config.linux.overhead", linux.overhead()));
  if (linux.has_resources()) {
    RETURN_IF_ERROR(ValidateContainerResources("config.linux.resources", linux.resources()));
  }
  return absl::OkStatus();
}

absl::Status ValidateContainerConfig(const ContainerConfig& config) {
  if (!config.has_metadata()) return Required("config.metadata");
  RETURN_IF_ERROR(Name("config.metadata.name", config.metadata().name(), kMaxNameLength));
  if (!config.has_image() || config.image().image().empty()) return Required("config.image.image");
  RETURN_IF_ERROR(PlainString("config.image.image", config.image().image(), kMaxShortString));
  RETURN_IF_ERROR(RelativePathInside("config.log_path", config.log_path(), "the pod's log_directory"));
  RETURN_IF_ERROR(ValidateProcess(config));
  RETURN_IF_ERROR(ValidateMounts(config));
  RETURN_IF_ERROR(Labels("config.labels", config.labels()));
  RETURN_IF_ERROR(Annotations("config.annotations", config.annotations()));
  if (config.has_linux()) {
    if (config.linux().has_resources()) {
      RETURN_IF_ERROR(ValidateContainerResources("config.linux.resources", config.linux().resources()));
    }
    RETURN_IF_ERROR(ValidateContainerSecurity(config.linux().security_context()));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::RunPodSandboxRequest& req) {
  if (!req.has_config()) return Required("config");
  RETURN_IF_ERROR(ValidatePodSandboxConfig(req.config()));
  return PlainString("runtime_handler", req.runtime_handler(), kMaxNameLength);
}

absl::Status ValidateRequest(const runtime::v1::StopPodSandboxRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::RemovePodSandboxRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::PodSandboxStatusRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::PodSandboxStatsRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::PortForwardRequest& req) {
  return ValidateId("pod_sandbox_id", req.pod_sandbox_id());
}
absl::Status ValidateRequest(const runtime::v1::UpdatePodSandboxResourcesRequest& req) {
  RETURN_IF_ERROR(ValidateId("pod_sandbox_id", req.pod_sandbox_id()));
  if (req.has_overhead()) RETURN_IF_ERROR(ValidateContainerResources("overhead", req.overhead()));
  if (req.has_resources()) RETURN_IF_ERROR(ValidateContainerResources("resources", req.resources()));
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::CreateContainerRequest& req) {
  RETURN_IF_ERROR(ValidateId("pod_sandbox_id", req.pod_sandbox_id()));
  if (!req.has_config()) return Required("config");
  RETURN_IF_ERROR(ValidateContainerConfig(req.config()));
  if (!req.has_sandbox_config()) return Required("sandbox_config");
  return absl::OkStatus();
}

absl::Status ValidateRequest(const runtime::v1::StartContainerRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::StopContainerRequest& req) {
  if (req.timeout() < 0) return absl::InvalidArgumentError("timeout must not be negative");
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::RemoveContainerRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::ContainerStatusRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::UpdateContainerResourcesRequest& req) {
  RETURN_IF_ERROR(ValidateId("container_id", req.container_id()));
  if (req.has_linux()) RETURN_IF_ERROR(ValidateContainerResources("linux", req.linux()));
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::ReopenContainerLogRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::ExecSyncRequest& req) {
  RETURN_IF_ERROR(ValidateId("container_id", req.container_id()));
  if (req.cmd().empty()) return Required("cmd");
  for (const auto& a : req.cmd()) RETURN_IF_ERROR(NoNul("cmd", a));
  if (req.timeout() < 0) return absl::InvalidArgumentError("timeout must not be negative");
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::ExecRequest& req) {
  RETURN_IF_ERROR(ValidateId("container_id", req.container_id()));
  if (req.cmd().empty()) return Required("cmd");
  for (const auto& a : req.cmd()) RETURN_IF_ERROR(NoNul("cmd", a));
  if (!req.stdin() && !req.stdout() && !req.stderr()) {
    return absl::InvalidArgumentError("one of stdin, stdout or stderr must be set");
  }
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::AttachRequest& req) {
  RETURN_IF_ERROR(ValidateId("container_id", req.container_id()));
  if (!req.stdin() && !req.stdout() && !req.stderr()) {
    return absl::InvalidArgumentError("one of stdin, stdout or stderr must be set");
  }
  return absl::OkStatus();
}
absl::Status ValidateRequest(const runtime::v1::ContainerStatsRequest& req) {
  return ValidateId("container_id", req.container_id());
}
absl::Status ValidateRequest(const runtime::v1::CheckpointContainerRequest& req) {
  return ValidateId("container_id", req.container_id());
}

absl::Status ValidateRequest(const runtime::v1::PullImageRequest& req) {
  if (!req.has_image() || req.image().image().empty()) return Required("image.image");
  return PlainString("image.image", req.image().image(), kMaxShortString);
}
absl::Status ValidateRequest(const runtime::v1::ImageStatusRequest& req) {
  if (!req.has_image() || req.image().image().empty()) return Required("image.image");
  return PlainString("image.image", req.image().image(), kMaxShortString);
}
absl::Status ValidateRequest(const runtime::v1::RemoveImageRequest& req) {
  if (!req.has_image() || req.image().image().empty()) return Required("image.image");
  return PlainString("image.image", req.image().image(), kMaxShortString);
}

}  // namespace crius::server
