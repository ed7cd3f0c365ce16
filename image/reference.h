#pragma once
// Image references as kubelet and crictl send them ("busybox",
// "quay.io/org/app:v1", "127.0.0.1:5000/x@sha256:..."), parsed and
// normalised the way docker, containerd and CRI-O do, so the same image has
// the same name whichever spelling the user typed.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crius::image {

struct Reference {
  std::string domain;  // "docker.io", "quay.io", "127.0.0.1:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "latest"; empty when only a digest was given
  std::string digest;  // "sha256:<hex>" or empty

  // "docker.io/library/busybox"
  std::string Name() const;
  // Canonical form: Name()[:tag][@digest].
  std::string String() const;
  // Name():tag ("" without a tag): what ImageStatus lists as a repo tag.
  std::string RepoTag() const;
  // Name()@digest for a given manifest digest: a repo digest.
  std::string RepoDigest(std::string_view manifest_digest) const;

  bool operator==(const Reference&) const = default;
};

// Parses and normalises `ref`:
//   busybox            -> docker.io/library/busybox:latest
//   user/app           -> docker.io/user/app:latest
//   index.docker.io/x  -> docker.io/library/x:latest
//   host:5000/repo:tag, localhost/x, [::1]:5000/x
//   repo@sha256:<hex>  (no tag added), repo:tag@sha256:<hex> (both kept)
// InvalidArgument for anything else: empty, whitespace, uppercase in the
// repository path, bad tag (charset, longer than 128), bad digest, a name
// longer than 255, or a bare 64-hex string (an image id, not a name).
absl::StatusOr<Reference> ParseReference(std::string_view ref);

// True for an image id: "sha256:<64 hex>" or the bare 64 hex characters.
bool IsImageId(std::string_view s);
// "sha256:<hex>" for either form of image id (call IsImageId first).
std::string CanonicalImageId(std::string_view id);

}  // namespace crius::image
