#pragma once
// The files a pod's containers see as /etc/hostname, /etc/hosts and
// /etc/resolv.conf. They are written once per pod into the pod's directory
// and bind-mounted into each container, so every container of a pod agrees
// on its name and its resolver. Each write is atomic (temp + rename), mode
// 0644, so a container starting concurrently sees the old or the new file,
// never half of one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crius::sandbox {

// CRI HostAlias: extra /etc/hosts lines from the pod spec.
struct HostAlias {
  std::string ip;
  std::vector<std::string> hostnames;
};

// CRI DNSConfig.
struct DnsConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;  // e.g. "ndots:5"
};

inline constexpr char kHostResolvConf[] = "/etc/resolv.conf";

// A hostname: 1..64 bytes (the kernel's limit), letters, digits, '-', '_'
// and '.', not starting or ending with '.' or '-'. InvalidArgument otherwise.
absl::Status ValidateHostname(std::string_view hostname);

// "<hostname>\n".
std::string HostnameFileContent(std::string_view hostname);

// localhost lines (IPv4 and IPv6), one line per pod IP naming the hostname
// (none before CNI has given an IP, or for a hostname-less pod), then one
// line per host alias. InvalidArgument for an IP that does not parse or a
// hostname with whitespace, control characters or '#'.
absl::StatusOr<std::string> HostsFileContent(std::string_view hostname,
                                             const std::vector<std::string>& pod_ips,
                                             const std::vector<HostAlias>& aliases);

// kubelet's format: "search a b", "nameserver x" per server, "options o p".
// A missing DnsConfig, or one with nothing in it, yields a copy of
// `host_resolv_conf` (an empty file when the node has none).
absl::StatusOr<std::string> ResolvConfContent(
    const std::optional<DnsConfig>& dns, const std::string& host_resolv_conf = kHostResolvConf);

struct PodFilePaths {
  std::string hostname;     // <pod_dir>/hostname
  std::string hosts;        // <pod_dir>/hosts
  std::string resolv_conf;  // <pod_dir>/resolv.conf
};

PodFilePaths PodFilePathsIn(const std::string& pod_dir);

struct PodFilesSpec {
  std::string pod_dir;  // must exist
  // Empty: the node's hostname, which is also what a new UTS namespace
  // without a hostname keeps.
  std::string hostname;
  std::vector<std::string> pod_ips;  // usually empty at first; see WriteHostsFile
  std::vector<HostAlias> host_aliases;
  std::optional<DnsConfig> dns;
  std::string host_resolv_conf = kHostResolvConf;
};

// Writes all three files. Everything is validated before the first write.
absl::StatusOr<PodFilePaths> WritePodFiles(const PodFilesSpec& spec);

// Rewrites only <pod_dir>/hosts, e.g. once CNI has given the pod its IPs.
absl::Status WriteHostsFile(const std::string& pod_dir, std::string_view hostname,
                            const std::vector<std::string>& pod_ips,
                            const std::vector<HostAlias>& aliases);

}  // namespace crius::sandbox
