#pragma once
// Debian builds abseil with its own absl::string_view, distinct from
// std::string_view, and no conversion between them. crius's interfaces take
// std::string_view; this bridges one into absl calls (StrCat, StartsWith...).

#include <string_view>

#include "absl/strings/string_view.h"

namespace crius {

inline absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view StdView(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace crius
