#pragma once
// ImageRecord: what crius knows about one pulled image, as ImageStore keeps
// it in memory and on disk. An image's identity is its config blob: the id
// is "sha256:<config digest hex>", the same string ListImages reports and
// PullImage returns as image_ref.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crius::image {

// The user an image runs as by default, from its config's "User" field:
// "1000" and "1000:1000" give uid 1000; "app" and "app:staff" give username
// "app" (resolved against the container's /etc/passwd later, not here). An
// empty field gives neither, which CRI reads as root.
struct ImageUser {
  std::optional<int64_t> uid;
  std::string username;
};
ImageUser ParseImageUser(std::string_view user);

// The user from a config blob (config.User). InvalidArgument when the blob
// is not a JSON object.
absl::StatusOr<ImageUser> UserFromConfig(std::string_view config_json);

struct ImageRecord {
  std::string id;  // "sha256:<hex>" of the config blob; also its digest
  // Normalised references as the caller gives them ("docker.io/library/
  // busybox:latest"). A tag belongs to at most one image.
  std::vector<std::string> repo_tags;
  // "<name>@sha256:<manifest or index digest>", one per way it was pulled.
  std::vector<std::string> repo_digests;
  // Set by the caller. crius's convention, like containerd's: the bytes
  // that were pulled for this platform, i.e. the config blob plus every
  // compressed layer blob (manifests excluded).
  int64_t size = 0;
  // The platform manifest this record was last pulled through.
  std::string manifest_digest;
  // Compressed layer blobs, bottom first (for content GC).
  std::vector<std::string> layer_digests;
  // Unpacked layers (LayerStore keys), bottom first.
  std::vector<std::string> chain_ids;
  // Kept from collection by kubelet's image GC (CRI Image.pinned).
  bool pinned = false;
  // The config blob, verbatim.
  std::string config_json;

  // Derived from config_json by ImageStore::Put and Load.
  ImageUser user;

  const std::string& config_digest() const { return id; }
  // Every content-store blob this image needs: config, manifests (from
  // manifest_digest and each repo digest) and layers. Sorted, unique.
  std::vector<std::string> Blobs() const;
};

// On-disk form. `updated_ns` orders records written by concurrent tag moves
// so a crash between two writes resolves to the later one on load.
std::string EncodeImageRecord(const ImageRecord& record, int64_t updated_ns);
absl::StatusOr<ImageRecord> DecodeImageRecord(std::string_view data, int64_t* updated_ns);

// InvalidArgument unless the record is well-formed enough to store: valid
// digests everywhere, non-empty tags, "name@digest" repo digests.
absl::Status ValidateImageRecord(const ImageRecord& record);

}  // namespace crius::image
