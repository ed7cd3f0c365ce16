#include "image/descriptor.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "image/digest.h"
#include "nlohmann/json.hpp"

namespace crius::image {
namespace {

std::string Str(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string NormalizeArch(std::string_view arch) {
  if (arch == "x86_64" || arch == "x86-64") return "amd64";
  if (arch == "aarch64") return "arm64";
  return std::string(arch);
}

std::string PlatformString(const Platform& p) {
  std::string s = absl::StrCat(p.os, "/", p.architecture);
  if (!p.variant.empty()) absl::StrAppend(&s, "/", p.variant);
  return s;
}

}  // namespace

absl::StatusOr<Descriptor> ParseDescriptor(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("descriptor is not a JSON object");
  Descriptor d;
  d.media_type = Str(j, "mediaType");
  d.digest = Str(j, "digest");
  if (absl::Status s = ValidateDigest(d.digest); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor: ", s.message()));
  }
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("descriptor ", d.digest, ": missing or negative size"));
  }
  d.size = size->get<int64_t>();
  if (auto urls = j.find("urls"); urls != j.end() && urls->is_array()) {
    for (const auto& u : *urls) {
      if (u.is_string()) d.urls.push_back(u.get<std::string>());
    }
  }
  if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
    d.has_platform = true;
    d.platform.os = Str(*p, "os");
    d.platform.architecture = Str(*p, "architecture");
    d.platform.variant = Str(*p, "variant");
    d.platform.os_version = Str(*p, "os.version");
  }
  return d;
}

absl::StatusOr<Descriptor> SelectPlatform(const nlohmann::json& index, std::string_view os,
                                          std::string_view architecture, std::string_view variant) {
  auto manifests = index.is_object() ? index.find("manifests") : index.end();
  if (!index.is_object() || manifests == index.end() || !manifests->is_array()) {
    return absl::InvalidArgumentError("index has no \"manifests\" array");
  }
  const std::string want_arch = NormalizeArch(architecture);
  std::vector<std::string> offered;
  // Ranked candidates: exact variant, then no variant, then any variant.
  std::optional<Descriptor> exact, bare, any;
  for (const auto& entry : *manifests) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(entry);
    if (!d.ok()) return d.status();
    if (!d->has_platform) continue;
    offered.push_back(PlatformString(d->platform));
    if (d->platform.os != os || NormalizeArch(d->platform.architecture) != want_arch) continue;
    if (!variant.empty() && d->platform.variant == variant) {
      if (!exact) exact = *d;
    } else if (d->platform.variant.empty()) {
      if (!bare) bare = *d;
    } else if (!any) {
      any = *d;
    }
  }
  if (exact) return *exact;
  if (bare) return *bare;
  // A requested variant that is absent is not silently replaced by another.
  if (variant.empty() && any) return *any;
  std::string want = absl::StrCat(AbslView(os), "/", want_arch);
  if (!variant.empty()) absl::StrAppend(&want, "/", AbslView(variant));
  return absl::NotFoundError(absl::StrCat("no manifest for platform ", want, " in index (it has: ",
                                          offered.empty() ? "none" : absl::StrJoin(offered, ", "), ")"));
}

Platform HostPlatform() {
  Platform p;
  p.os = "linux";
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
  p.variant = "v8";
#elif defined(__arm__)
  p.architecture = "arm";
  p.variant = "v7";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  p.architecture = "ppc64le";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  p.architecture = "riscv64";
#else
  p.architecture = "unknown";
#endif
  return p;
}

}  // namespace crius::image
