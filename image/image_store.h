#pragma once
// ImageStore: the images crius has pulled, one JSON file per image under
// <root>/images/<config hex>.json (written atomically), indexed in memory
// so ListImages and ImageStatus never touch the disk.
//
// Lookup (Get) accepts every form CRI callers use for an image:
//   "sha256:<hex>"      the id
//   "<hex>"             the id without its algorithm
//   "<name>:<tag>"      a repo tag, exactly as stored (callers normalise,
//                       e.g. "busybox" -> "docker.io/library/busybox:latest")
//   "<name>@<digest>"   a repo digest
//   "<hex prefix>"      a unique prefix of the id's hex, at least 3
//                       characters, with or without "sha256:"
//
// A tag names one image. Putting an image with a tag another image holds
// moves the tag: the old image stays, listed without it (as containerd and
// CRI-O do), until kubelet's GC or RemoveImage removes it.
//
// Records are immutable once stored; readers get shared_ptrs to snapshots.
// Thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "image/image_record.h"

namespace crius::image {

using ImagePtr = std::shared_ptr<const ImageRecord>;

// What removing an image freed: the record as it was, and the content
// blobs and layers (chain ids) no remaining image refers to, for the caller
// to delete from ContentStore and LayerStore.
struct RemovedImage {
  ImagePtr record;
  std::vector<std::string> unreferenced_blobs;
  std::vector<std::string> unreferenced_chain_ids;
};

class ImageStore {
 public:
  // Creates <root>/images if needed and loads every record (Load).
  static absl::StatusOr<std::unique_ptr<ImageStore>> Open(const std::string& root);

  // Re-reads every record from disk, replacing what is in memory. Damaged
  // records are renamed to "<name>.corrupt" and skipped; a tag claimed by two
  // records goes to the one written last.
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);

  // Stores an image (a pull finished). If the id is known, the two records
  // merge: tags, repo digests and layer blobs are united, pinned is kept if
  // either had it, the rest comes from `record`. Tags held by other images
  // move here. The user is derived from the config (InvalidArgument if the
  // config is not a JSON object). Returns the stored record.
  absl::StatusOr<ImagePtr> Put(ImageRecord record) ABSL_LOCKS_EXCLUDED(mu_);

  // NotFound when no image matches `ref` (see the forms above);
  // InvalidArgument for an id prefix matching several images.
  absl::StatusOr<ImagePtr> Get(std::string_view ref) const ABSL_LOCKS_EXCLUDED(mu_);
  // Every image, sorted by id.
  std::vector<ImagePtr> List() const ABSL_LOCKS_EXCLUDED(mu_);

  // Takes `tag` off its image; the image stays. NotFound if no image has it.
  absl::StatusOr<ImagePtr> Untag(std::string_view tag) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ImagePtr> SetPinned(std::string_view ref, bool pinned) ABSL_LOCKS_EXCLUDED(mu_);

  // Removes the image `ref` resolves to, with all its tags and digests.
  // NotFound if there is none.
  absl::StatusOr<RemovedImage> Remove(std::string_view ref) ABSL_LOCKS_EXCLUDED(mu_);

  // What the stored images need, for collecting leftovers of failed pulls
  // at startup: every blob digest and every chain id.
  absl::flat_hash_set<std::string> ReferencedBlobs() const ABSL_LOCKS_EXCLUDED(mu_);
  absl::flat_hash_set<std::string> ReferencedChainIds() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit ImageStore(std::string dir) : dir_(std::move(dir)) {}
  std::string RecordPath(std::string_view id) const;
  absl::Status Persist(const ImageRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ImagePtr> Resolve(std::string_view ref) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Index(ImagePtr image) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unindex(const ImageRecord& image) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ImagePtr> Replace(ImageRecord updated) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;  // <root>/images
  mutable absl::Mutex mu_;
  // Ordered, so an id prefix is a range scan.
  std::map<std::string, ImagePtr> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_tag_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> by_digest_ ABSL_GUARDED_BY(mu_);
  // Orders record writes; see EncodeImageRecord.
  int64_t last_write_ns_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crius::image
