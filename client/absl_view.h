#pragma once

// Debian's abseil has its own absl::string_view that does not convert to or
// from std::string_view. The client's interfaces take std::string_view like
// the rest of crius; these bridge into absl calls. (common/ has the same
// helpers, but the client must stay independent of common/.)

#include <string_view>

#include "absl/strings/string_view.h"

namespace crius::client {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline std::string_view StdView(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

}  // namespace crius::client
