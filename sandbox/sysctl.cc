#include "sandbox/sysctl.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::sandbox {
namespace {

// A sysctl value is written to a /proc/sys file in one write(2); the kernel
// reads at most a page of it, and a NUL or a newline in the middle would
// make it parse only a prefix, silently.
constexpr size_t kMaxValueLength = 4096;

bool IsBadNameChar(char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; }

std::string_view NamespaceName(SysctlNamespace ns) {
  switch (ns) {
    case SysctlNamespace::kNet: return "network";
    case SysctlNamespace::kIpc: return "IPC";
    case SysctlNamespace::kUts: return "UTS";
  }
  return "?";
}

}  // namespace

absl::StatusOr<std::string> SysctlRelativePath(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("sysctl \"", AbslView(name), "\": ", AbslView(why)));
  };
  if (name.empty()) return bad("empty name");
  if (name.size() > 256) return bad("name too long");
  std::string path(name);
  size_t first_sep = path.find_first_of("./");
  // In the dotted spelling '.' separates and '/' is a literal dot; swap them
  // so the result always uses '/' as the separator.
  if (first_sep != std::string::npos && path[first_sep] == '.') {
    for (char& c : path) {
      if (c == '.') {
        c = '/';
      } else if (c == '/') {
        c = '.';
      }
    }
  }
  for (char c : path) {
    if (IsBadNameChar(c)) return bad("whitespace or control character in name");
  }
  std::vector<std::string> segments = absl::StrSplit(path, '/');
  if (segments.size() < 2) return bad("not a sysctl name");
  for (const auto& seg : segments) {
    if (seg.empty()) return bad("empty name segment");
    if (seg == "." || seg == "..") return bad("\".\" or \"..\" in name");
  }
  return path;
}

absl::StatusOr<SysctlNamespace> SysctlNamespaceOf(std::string_view name) {
  absl::StatusOr<std::string> rel = SysctlRelativePath(name);
  if (!rel.ok()) return rel.status();
  absl::string_view p(*rel);
  if (absl::StartsWith(p, "net/")) return SysctlNamespace::kNet;
  if (absl::StartsWith(p, "kernel/shm") || absl::StartsWith(p, "kernel/msg") || p == "kernel/sem" ||
      absl::StartsWith(p, "fs/mqueue/")) {
    return SysctlNamespace::kIpc;
  }
  if (p == "kernel/domainname") return SysctlNamespace::kUts;
  if (p == "kernel/hostname") {
    return absl::InvalidArgumentError(
        absl::StrCat("sysctl \"", AbslView(name),
                     "\": set the pod's hostname through its hostname field instead"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "sysctl \"", AbslView(name), "\" is not namespaced: setting it would change the whole node"));
}

absl::Status ValidateSysctls(const std::map<std::string, std::string>& sysctls, OwnNamespaces own) {
  for (const auto& [name, value] : sysctls) {
    absl::StatusOr<SysctlNamespace> ns = SysctlNamespaceOf(name);
    if (!ns.ok()) return ns.status();
    bool owned = (*ns == SysctlNamespace::kNet && own.net) ||
                 (*ns == SysctlNamespace::kIpc && own.ipc) ||
                 (*ns == SysctlNamespace::kUts && own.uts);
    if (!owned) {
      return absl::InvalidArgumentError(
          absl::StrCat("sysctl \"", name, "\" belongs to the ", AbslView(NamespaceName(*ns)),
                       " namespace, which this pod shares with the node"));
    }
    if (value.size() > kMaxValueLength) {
      return absl::InvalidArgumentError(absl::StrCat("sysctl \"", name, "\": value too long"));
    }
    for (char c : value) {
      if (c == '\0' || c == '\n' || c == '\r') {
        return absl::InvalidArgumentError(
            absl::StrCat("sysctl \"", name, "\": NUL or newline in value"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace crius::sandbox
