#pragma once
// Content descriptors and platforms, as OCI indexes, image manifests and
// Docker manifest lists carry them, and the choice of one platform's
// manifest from an index.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace crius::image {

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;
};

// An OCI content descriptor (also Docker's, which has the same fields).
struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;
  std::vector<std::string> urls;
  bool has_platform = false;
  Platform platform;
};

// InvalidArgument when `j` is not an object with a valid digest and a
// non-negative size.
absl::StatusOr<Descriptor> ParseDescriptor(const nlohmann::json& j);

// Picks the entry of an OCI index / Docker manifest list for a platform.
// Architecture aliases (x86_64, aarch64) are normalised. With a variant,
// an exact variant match wins, then an entry without a variant; without
// one, an entry without a variant wins, then the first of that os/arch.
// NotFound listing the platforms on offer otherwise.
absl::StatusOr<Descriptor> SelectPlatform(const nlohmann::json& index, std::string_view os = "linux",
                                          std::string_view architecture = "amd64",
                                          std::string_view variant = "");

// The platform this binary was built for ("linux", "amd64"/"arm64"/...).
Platform HostPlatform();

}  // namespace crius::image
