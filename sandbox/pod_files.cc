#include "sandbox/pod_files.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::sandbox {

namespace {
// Pod files live in the volatile state dir, which a power loss empties
// anyway: atomic replacement matters (a container never sees half a file),
// fsync does not, and it cost tens of ms per pod on a disk-backed /run.
absl::Status WriteVolatile(const std::string& path, std::string_view data) {
  return WriteFileAtomic(path, data, 0644, Durability::kProcessCrash);
}
}  // namespace
namespace {

constexpr size_t kMaxHostname = 64;  // HOST_NAME_MAX on Linux

// Each of these lands on one line of a config file: a space or newline
// would split it into more words or lines, and '#' would start a comment.
absl::Status CheckWord(std::string_view what, std::string_view word) {
  if (word.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty ", AbslView(what)));
  }
  if (word.size() > 253) {
    return absl::InvalidArgumentError(absl::StrCat(AbslView(what), " too long"));
  }
  for (char c : word) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '#') {
      return absl::InvalidArgumentError(
          absl::StrCat(AbslView(what), " \"", absl::CHexEscape(AbslView(word)),
                       "\" contains whitespace, a control character or '#'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIp(std::string_view what, const std::string& ip) {
  in_addr v4;
  in6_addr v6;
  if (::inet_pton(AF_INET, ip.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(AbslView(what), " \"", absl::CHexEscape(ip), "\" is not an IP address"));
}

std::string NodeHostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

absl::StatusOr<std::string> HostResolvConf(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile(path, size_t{1} << 20);
  if (absl::IsNotFound(data.status())) {
    // A node without a resolver configuration gives pods none either,
    // rather than failing every pod.
    CRIUS_LOG(kWarn) << path << " not found; pods get an empty resolv.conf";
    return std::string();
  }
  return data;
}

}  // namespace

absl::Status ValidateHostname(std::string_view hostname) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("hostname \"", absl::CHexEscape(AbslView(hostname)), "\": ", AbslView(why)));
  };
  if (hostname.empty()) return bad("empty");
  if (hostname.size() > kMaxHostname) return bad("longer than 64 bytes");
  for (char c : hostname) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return bad("only letters, digits, '-', '_' and '.' are allowed");
    }
  }
  char first = hostname.front(), last = hostname.back();
  if (first == '.' || first == '-' || last == '.' || last == '-') {
    return bad("must start and end with a letter or digit");
  }
  return absl::OkStatus();
}

std::string HostnameFileContent(std::string_view hostname) {
  return absl::StrCat(AbslView(hostname), "\n");
}

absl::StatusOr<std::string> HostsFileContent(std::string_view hostname,
                                             const std::vector<std::string>& pod_ips,
                                             const std::vector<HostAlias>& aliases) {
  std::string out =
      "# Written by crius for this pod.\n"
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  if (!hostname.empty()) {
    RETURN_IF_ERROR(CheckWord("hostname", hostname));
    for (const auto& ip : pod_ips) {
      RETURN_IF_ERROR(CheckIp("pod IP", ip));
      absl::StrAppend(&out, ip, "\t", AbslView(hostname), "\n");
    }
  }
  if (!aliases.empty()) out += "# Host aliases from the pod spec.\n";
  for (const auto& alias : aliases) {
    RETURN_IF_ERROR(CheckIp("host alias IP", alias.ip));
    if (alias.hostnames.empty()) continue;
    for (const auto& name : alias.hostnames) RETURN_IF_ERROR(CheckWord("host alias name", name));
    absl::StrAppend(&out, alias.ip, "\t", absl::StrJoin(alias.hostnames, " "), "\n");
  }
  return out;
}

absl::StatusOr<std::string> ResolvConfContent(const std::optional<DnsConfig>& dns,
                                              const std::string& host_resolv_conf) {
  if (!dns || (dns->servers.empty() && dns->searches.empty() && dns->options.empty())) {
    return HostResolvConf(host_resolv_conf);
  }
  for (const auto& s : dns->servers) RETURN_IF_ERROR(CheckWord("DNS server", s));
  for (const auto& s : dns->searches) RETURN_IF_ERROR(CheckWord("DNS search domain", s));
  for (const auto& s : dns->options) RETURN_IF_ERROR(CheckWord("DNS option", s));
  std::string out;
  if (!dns->searches.empty())
    absl::StrAppend(&out, "search ", absl::StrJoin(dns->searches, " "), "\n");
  for (const auto& s : dns->servers) absl::StrAppend(&out, "nameserver ", s, "\n");
  if (!dns->options.empty())
    absl::StrAppend(&out, "options ", absl::StrJoin(dns->options, " "), "\n");
  return out;
}

PodFilePaths PodFilePathsIn(const std::string& pod_dir) {
  return PodFilePaths{JoinPath(pod_dir, "hostname"), JoinPath(pod_dir, "hosts"),
                      JoinPath(pod_dir, "resolv.conf")};
}

absl::StatusOr<PodFilePaths> WritePodFiles(const PodFilesSpec& spec) {
  std::string hostname = spec.hostname.empty() ? NodeHostname() : spec.hostname;
  if (!spec.hostname.empty()) RETURN_IF_ERROR(ValidateHostname(hostname));
  ASSIGN_OR_RETURN(std::string hosts, HostsFileContent(hostname, spec.pod_ips, spec.host_aliases));
  ASSIGN_OR_RETURN(std::string resolv, ResolvConfContent(spec.dns, spec.host_resolv_conf));
  PodFilePaths paths = PodFilePathsIn(spec.pod_dir);
  RETURN_IF_ERROR(Annotate(WriteVolatile(paths.hostname, HostnameFileContent(hostname)),
                           "write pod hostname file"));
  RETURN_IF_ERROR(Annotate(WriteVolatile(paths.hosts, hosts), "write pod hosts file"));
  RETURN_IF_ERROR(
      Annotate(WriteVolatile(paths.resolv_conf, resolv), "write pod resolv.conf"));
  return paths;
}

absl::Status WriteHostsFile(const std::string& pod_dir, std::string_view hostname,
                            const std::vector<std::string>& pod_ips,
                            const std::vector<HostAlias>& aliases) {
  std::string name = hostname.empty() ? NodeHostname() : std::string(hostname);
  ASSIGN_OR_RETURN(std::string hosts, HostsFileContent(name, pod_ips, aliases));
  return Annotate(WriteVolatile(PodFilePathsIn(pod_dir).hosts, hosts),
                  "write pod hosts file");
}

}  // namespace crius::sandbox
