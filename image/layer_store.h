#pragma once
// LayerStore: unpacked image layers under <root>/layers, each unpacked once
// and shared by every image that contains it:
//
//   layers/<chain-id hex>/diff         the files: an overlayfs lower directory
//   layers/<chain-id hex>/layer.json   {chain_id, diff_id, size}
//   layers/.tmp-*, layers/.rm-*         unpacks and removals in progress
//
// Layers are keyed by chain id (OCI image spec): the identity of a layer
// together with everything below it, so two images share a directory only
// when their whole stacks up to that layer match.
//   ChainID(L0) = DiffID(L0)
//   ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
//
// A layer appears under its name only complete: it is unpacked into a
// scratch directory, its DiffID checked against the image config, synced,
// and renamed into place. Concurrent Ensure calls for one chain id unpack
// once; the others wait and share the result.
//
// No reference counting: the image store decides what is live and calls
// RemoveUnreferenced. The caller must keep collection from racing a pull
// that has ensured layers but not yet recorded its image (e.g. pulls hold a
// shared lock, collection an exclusive one); layers being unpacked right
// now are never collected.
//
// Thread-safe.

#include <cstdint>
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
#include "image/layer_unpack.h"

namespace crius::image {

// ChainID of a layer over its parent's chain id (empty for the bottom layer).
std::string ChainId(std::string_view parent_chain_id, std::string_view diff_id);
// The chain ids of a whole stack, bottom first, from the config's diff_ids.
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

struct LayerInfo {
  std::string chain_id;  // "sha256:<hex>"
  std::string diff_id;   // "sha256:<hex>" of the uncompressed tar
  int64_t size = 0;      // bytes of file content in the layer
  std::string path;      // the diff directory, for overlayfs lowerdir
};

class LayerStore {
 public:
  // Creates <root>/layers if needed, drops leftovers of interrupted unpacks
  // and removals, and loads what is there.
  static absl::StatusOr<std::unique_ptr<LayerStore>> Open(const std::string& root,
                                                          UnpackLimits limits = {});

  // Makes sure the layer `chain_id` is unpacked: present already, or
  // unpacked from `blob_path` (a verified compressed blob). DataLoss when
  // the tar's DiffID is not `diff_id`; then nothing is kept.
  absl::StatusOr<LayerInfo> Ensure(std::string_view chain_id, const std::string& blob_path,
                                   std::string_view diff_id) ABSL_LOCKS_EXCLUDED(mu_);

  bool Has(std::string_view chain_id) const ABSL_LOCKS_EXCLUDED(mu_);
  // NotFound when absent.
  absl::StatusOr<LayerInfo> Get(std::string_view chain_id) const ABSL_LOCKS_EXCLUDED(mu_);
  // Sorted by chain id.
  std::vector<LayerInfo> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // Sum of all layers' sizes.
  int64_t TotalSize() const ABSL_LOCKS_EXCLUDED(mu_);
  // Unpacks this store has run (for metrics, and to show sharing works).
  int64_t unpacks() const ABSL_LOCKS_EXCLUDED(mu_);

  // Deletes one layer. Absent: OK. A layer that is being unpacked right
  // now is FailedPrecondition.
  absl::Status Remove(std::string_view chain_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes every layer whose chain id is not in `live` (and not being
  // unpacked); returns the chain ids removed. Stops at the first layer it
  // cannot take out of the store.
  absl::StatusOr<std::vector<std::string>> RemoveUnreferenced(
      const absl::flat_hash_set<std::string>& live) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  LayerStore(std::string root, UnpackLimits limits) : root_(std::move(root)), limits_(limits) {}
  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<LayerInfo> Unpack(const std::string& chain_id, const std::string& blob_path,
                                   const std::string& diff_id) const;
  absl::StatusOr<std::string> DetachDir(const std::string& chain_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string LayerDir(std::string_view chain_id) const;

  const std::string root_;  // <root>/layers
  const UnpackLimits limits_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, LayerInfo> layers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> unpacking_ ABSL_GUARDED_BY(mu_);
  int64_t unpacks_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace crius::image
