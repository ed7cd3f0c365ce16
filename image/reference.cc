#include "image/reference.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/digest.h"

namespace crius::image {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;
constexpr std::string_view kDockerDomain = "docker.io";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

absl::Status Invalid(std::string_view ref, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid image reference \"", AbslView(ref), "\": ", AbslView(why)));
}

// One path component: lowercase alphanumeric runs joined by ".", "_", "__"
// or any number of "-".
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !IsLowerAlnum(c[i])) ++i;
    std::string_view sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

// host[:port], where host is dot-separated alphanumeric labels (inner "-"
// allowed) or a bracketed IPv6 address.
bool ValidDomain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : d.substr(1, close - 1)) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':')) return false;
    }
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
    host = {};
    port = rest.empty() ? rest : rest.substr(1);
    if (!rest.empty() && port.empty()) return false;
  } else if (size_t colon = d.find(':'); colon != std::string_view::npos) {
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (port.empty()) return false;
  }
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (d.front() == '[') return true;
  if (host.empty()) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength) return false;
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsBareHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsHex(c)) return false;
  }
  return true;
}

// Splits "name" into domain and path the way docker does: the first
// component is a registry host only if it looks like one (has "." or ":",
// or is "localhost"); otherwise the image lives on Docker Hub.
void SplitDomain(std::string_view name, std::string* domain, std::string* path) {
  size_t slash = name.find('/');
  std::string_view first = slash == std::string_view::npos ? std::string_view() : name.substr(0, slash);
  bool looks_like_host = false;
  if (slash != std::string_view::npos) {
    bool has_upper = false;
    for (char c : first) has_upper |= (c >= 'A' && c <= 'Z');
    looks_like_host = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                      first.front() == '[' || has_upper;
  }
  if (looks_like_host) {
    *domain = std::string(first);
    *path = std::string(name.substr(slash + 1));
  } else {
    *domain = std::string(kDockerDomain);
    *path = std::string(name);
  }
  if (*domain == "index.docker.io") *domain = std::string(kDockerDomain);
  if (*domain == kDockerDomain && path->find('/') == std::string::npos) {
    *path = "library/" + *path;
  }
}

absl::Status ValidatePath(std::string_view ref, std::string_view path) {
  if (path.empty()) return Invalid(ref, "empty repository name");
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view comp =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!ValidPathComponent(comp)) {
      for (char c : comp) {
        if (c >= 'A' && c <= 'Z') return Invalid(ref, "repository name must be lowercase");
      }
      return Invalid(ref, absl::StrCat("invalid repository path component \"", AbslView(comp), "\""));
    }
    if (slash == std::string_view::npos) return absl::OkStatus();
    start = slash + 1;
  }
}

}  // namespace

std::string Reference::Name() const { return absl::StrCat(domain, "/", path); }

std::string Reference::String() const {
  std::string out = Name();
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

std::string Reference::RepoTag() const { return tag.empty() ? "" : absl::StrCat(Name(), ":", tag); }

std::string Reference::RepoDigest(std::string_view manifest_digest) const {
  return absl::StrCat(Name(), "@", AbslView(manifest_digest));
}

absl::StatusOr<Reference> ParseReference(std::string_view ref) {
  if (ref.empty()) return Invalid(ref, "empty");
  for (char c : ref) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return Invalid(ref, "contains whitespace or control characters");
    }
  }
  if (IsBareHex64(ref)) {
    return Invalid(ref, "a 64-character hex string is an image id, not a repository name");
  }
  Reference out;
  std::string_view rest = ref;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (absl::Status s = ValidateDigest(digest); !s.ok()) return Invalid(ref, StdView(s.message()));
    out.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  size_t last_slash = rest.rfind('/');
  size_t last_colon = rest.rfind(':');
  if (last_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || last_colon > last_slash)) {
    std::string_view tag = rest.substr(last_colon + 1);
    if (!ValidTag(tag)) {
      return Invalid(ref, "tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
    }
    out.tag = std::string(tag);
    rest = rest.substr(0, last_colon);
  }
  if (rest.empty()) return Invalid(ref, "empty repository name");
  SplitDomain(rest, &out.domain, &out.path);
  if (!ValidDomain(out.domain)) return Invalid(ref, absl::StrCat("invalid registry host \"", out.domain, "\""));
  RETURN_IF_ERROR(ValidatePath(ref, out.path));
  if (out.Name().size() > kMaxNameLength) return Invalid(ref, "name longer than 255 characters");
  if (out.tag.empty() && out.digest.empty()) out.tag = "latest";
  return out;
}

bool IsImageId(std::string_view s) {
  if (s.size() == 71 && s.substr(0, 7) == "sha256:") s = s.substr(7);
  return IsBareHex64(s);
}

std::string CanonicalImageId(std::string_view id) {
  if (id.substr(0, 7) == "sha256:") return std::string(id);
  return absl::StrCat("sha256:", AbslView(id));
}

}  // namespace crius::image
