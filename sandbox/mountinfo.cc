#include "sandbox/mountinfo.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::sandbox {
namespace {

// The kernel escapes space, tab, newline and backslash in paths as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto oct = [](char c) { return c >= '0' && c <= '7'; };
      if (oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
        out.push_back(
            static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

absl::StatusOr<MountInfo> ParseLine(std::string_view line) {
  std::vector<absl::string_view> f = absl::StrSplit(AbslView(line), ' ', absl::SkipEmpty());
  // Six fixed fields, optional fields, "-", then fstype, source and the
  // superblock options.
  auto malformed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed mountinfo line \"", AbslView(line), "\""));
  };
  size_t dash = 6;
  while (dash < f.size() && f[dash] != "-") ++dash;
  if (dash >= f.size() || f.size() < dash + 3) return malformed();
  MountInfo m;
  if (!absl::SimpleAtoi(f[0], &m.id) || !absl::SimpleAtoi(f[1], &m.parent_id)) {
    return malformed();
  }
  m.root = Unescape(StdView(f[3]));
  m.mount_point = Unescape(StdView(f[4]));
  m.mount_options = std::string(f[5]);
  for (size_t i = 6; i < dash; ++i) m.optional_fields.emplace_back(f[i]);
  m.fstype = std::string(f[dash + 1]);
  m.source = Unescape(StdView(f[dash + 2]));
  m.super_options = dash + 3 < f.size() ? std::string(f[dash + 3]) : "";
  return m;
}

}  // namespace

absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(std::string_view text) {
  std::vector<MountInfo> mounts;
  for (absl::string_view line : absl::StrSplit(AbslView(text), '\n', absl::SkipEmpty())) {
    ASSIGN_OR_RETURN(MountInfo m, ParseLine(StdView(line)));
    mounts.push_back(std::move(m));
  }
  return mounts;
}

absl::StatusOr<std::vector<MountInfo>> ReadMountInfo(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseMountInfo(text);
}

std::vector<std::string> SplitOptions(std::string_view options) {
  return absl::StrSplit(AbslView(options), ',', absl::SkipEmpty());
}

}  // namespace crius::sandbox
