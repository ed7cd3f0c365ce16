#include "oci/capabilities.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::oci {
namespace {

// Linux capability numbers are the index into this table (linux/capability.h).
// 40 (CHECKPOINT_RESTORE, Linux 5.9) is the newest as of this writing; a
// newer kernel's extra capabilities are not granted by "ALL" until they are
// named here, which errs on the safe side.
// clang-format off
constexpr std::array<const char*, 41> kCapabilityNames = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",          "CAP_FSETID",         "CAP_KILL",
    "CAP_SETGID",          "CAP_SETUID",         "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",     "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",       "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",           "CAP_LEASE",          "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",       "CAP_SYSLOG",         "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",
    "CAP_BPF",             "CAP_CHECKPOINT_RESTORE",
};
// clang-format on

bool IsAll(const std::string& name) { return absl::AsciiStrToUpper(name) == "ALL"; }

void AddUnique(std::vector<std::string>& set, const std::string& cap) {
  if (std::find(set.begin(), set.end(), cap) == set.end()) set.push_back(cap);
}

void Remove(std::vector<std::string>& set, const std::string& cap) { std::erase(set, cap); }

// The kernel's highest capability number, or -1 when it cannot be read.
int KernelLastCap() {
  auto text = ReadFile("/proc/sys/kernel/cap_last_cap", 64);
  int last = -1;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &last)) return -1;
  return last;
}

// The capabilities this process can pass on: permitted and bounding.
// All bits when /proc is unreadable (the runtime then reports what fails).
uint64_t HeldMask() {
  auto status = ReadFile("/proc/self/status", 1 << 16);
  if (!status.ok()) return ~uint64_t{0};
  uint64_t mask = ~uint64_t{0};
  int found = 0;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    for (absl::string_view field : {"CapPrm:", "CapBnd:"}) {
      absl::string_view rest = line;
      uint64_t value = 0;
      if (absl::ConsumePrefix(&rest, field) &&
          absl::SimpleHexAtoi(absl::StripAsciiWhitespace(rest), &value)) {
        mask &= value;
        ++found;
      }
    }
  }
  return found == 2 ? mask : ~uint64_t{0};
}

}  // namespace

std::vector<std::string> DefaultCapabilities() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

absl::StatusOr<std::string> NormalizeCapability(std::string_view name) {
  std::string upper = absl::AsciiStrToUpper(AbslView(name));
  if (!absl::StartsWith(upper, "CAP_")) upper = absl::StrCat("CAP_", upper);
  for (const char* known : kCapabilityNames) {
    if (upper == known) return upper;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown capability \"", AbslView(name), "\""));
}

std::vector<std::string> AllCapabilities() {
  int last = KernelLastCap();
  int table_last = static_cast<int>(kCapabilityNames.size()) - 1;
  if (last < 0 || last > table_last) last = table_last;
  uint64_t held = HeldMask();
  std::vector<std::string> out;
  for (int cap = 0; cap <= last; ++cap) {
    if (held & (uint64_t{1} << cap)) out.push_back(kCapabilityNames[cap]);
  }
  return out;
}

absl::StatusOr<Capabilities> ContainerCapabilities(const runtime::v1::Capability* requested,
                                                   bool privileged) {
  if (privileged) return Capabilities::Of(AllCapabilities());

  std::vector<std::string> caps = DefaultCapabilities();
  std::vector<std::string> ambient;
  if (requested != nullptr) {
    const auto& add = requested->add_capabilities();
    const auto& drop = requested->drop_capabilities();
    if (std::any_of(add.begin(), add.end(), IsAll)) caps = AllCapabilities();
    if (std::any_of(drop.begin(), drop.end(), IsAll)) caps.clear();
    for (const auto& name : add) {
      if (IsAll(name)) continue;
      auto cap = NormalizeCapability(name);
      if (!cap.ok()) return Annotate(cap.status(), "add_capabilities");
      AddUnique(caps, *cap);
    }
    for (const auto& name : requested->add_ambient_capabilities()) {
      auto cap = NormalizeCapability(name);
      if (!cap.ok()) return Annotate(cap.status(), "add_ambient_capabilities");
      AddUnique(caps, *cap);
      AddUnique(ambient, *cap);
    }
    for (const auto& name : drop) {
      if (IsAll(name)) continue;
      auto cap = NormalizeCapability(name);
      if (!cap.ok()) return Annotate(cap.status(), "drop_capabilities");
      Remove(caps, *cap);
      Remove(ambient, *cap);
    }
  }
  Capabilities out = Capabilities::Of(caps);
  out.inheritable = ambient;
  out.ambient = ambient;
  return out;
}

}  // namespace crius::oci
