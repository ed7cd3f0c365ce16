#pragma once
// ImageManager: the image side of the node. It pulls images (registry client
// -> content store -> layer store -> image record), answers lookups from
// memory, removes images and collects what no image references any more.
//
// Concurrency: identical concurrent pulls share one pull. Pulls hold the
// collection lock shared and RemoveImage takes it exclusively, so a layer a
// pull has just unpacked cannot be collected before its image is recorded.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "image/content_store.h"
#include "image/image_store.h"
#include "image/layer_store.h"
#include "image/registry_auth.h"
#include "image/registry_client.h"
#include "image/rootfs.h"

namespace crius::image {

struct ImageManagerOptions {
  std::string root;  // <root>/{content,layers,images,overlay}
  RegistryConfig registry;
  int max_concurrent_downloads = 4;
  // Pull figures for the metrics, as callbacks so image/ knows nothing of
  // Prometheus. Each may be empty.
  std::function<void(bool ok, absl::Duration took)> on_pull;   // every Pull call
  std::function<void(uint64_t bytes)> on_layer_downloaded;     // a blob fetched
  std::function<void()> on_layer_reused;  // a layer already unpacked here
};

struct FsUsage {
  std::string mountpoint;
  int64_t used_bytes = 0;
  int64_t inodes_used = 0;
};

class ImageManager {
 public:
  static absl::StatusOr<std::unique_ptr<ImageManager>> Open(Os& os, ImageManagerOptions options);

  // Pulls `ref` (any reference form) and returns the image record.
  absl::StatusOr<ImagePtr> Pull(const std::string& ref, const Credentials& creds);

  // By id, id prefix, repo tag or repo digest, as given or normalised
  // ("busybox" finds docker.io/library/busybox:latest). NotFound otherwise.
  absl::StatusOr<ImagePtr> Find(const std::string& ref) const;
  std::vector<ImagePtr> List() const { return images_->List(); }

  // Removing by a tag of an image with several tags only untags; otherwise
  // the image goes with all its tags, and its unreferenced blobs and layers
  // are deleted. A missing image is OK. FailedPrecondition while `in_use`
  // says a container uses it.
  absl::Status Remove(const std::string& ref);
  void SetInUseCheck(std::function<bool(const std::string& image_id)> in_use) {
    in_use_ = std::move(in_use);
  }

  // Layer directories of an image, top layer first, for Rootfs::Mount.
  absl::StatusOr<std::vector<std::string>> LowerDirs(const ImageRecord& image) const;

  // Usage of the image store (content + layers) and of the writable layers;
  // walked at most every `cache_for`.
  FsUsage ImageFsUsage();
  FsUsage ContainerFsUsage();

  Rootfs& rootfs() { return *rootfs_; }

 private:
  struct InFlight;
  // What one pull stores before its image record refers to it (blob
  // digests, layer chain ids): garbage collection keeps it meanwhile, so a
  // pull needs no lock against collection across its registry I/O.
  class Leases {
   public:
    explicit Leases(ImageManager& m) : m_(m) {}
    ~Leases();
    Leases(const Leases&) = delete;
    Leases& operator=(const Leases&) = delete;
    // Taken before the key is looked up or stored. Thread-safe.
    void Take(const std::string& key);

   private:
    ImageManager& m_;
    std::vector<std::string> keys_;  // guarded by m_.lease_mu_
  };
  ImageManager(ImageManagerOptions options) : options_(std::move(options)), registry_(options_.registry) {}
  absl::StatusOr<ImagePtr> PullShared(const std::string& ref, const Credentials& creds);
  absl::StatusOr<ImagePtr> DoPull(const Reference& ref, const Credentials& creds);
  absl::Status FetchLayers(const Reference& repo, const std::vector<Descriptor>& layers,
                           const std::vector<std::string>& diff_ids, const Credentials& creds,
                           Leases& leases);
  absl::Status FetchLayer(const Reference& repo, const Descriptor& layer,
                          const std::string& chain_id, const std::string& diff_id,
                          const Credentials& creds, Leases& leases);
  // Streams the layer blob into the content store, retrying a dropped
  // connection; nothing of a failed download is kept.
  absl::Status DownloadLayer(const Reference& repo, const Descriptor& layer, const Credentials& creds);
  // Deletes every blob and layer no image refers to. Caller holds gc_mu_
  // exclusively.
  void CollectGarbage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gc_mu_);
  FsUsage CachedUsage(const std::vector<std::string>& dirs, FsUsage* cache, absl::Time* when);

  const ImageManagerOptions options_;
  RegistryClient registry_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<LayerStore> layers_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<Rootfs> rootfs_;
  std::function<bool(const std::string&)> in_use_;

  absl::Mutex gc_mu_;  // image removal and collection, one at a time
  // Held by collection while it deletes, and briefly by pulls taking leases.
  absl::Mutex lease_mu_ ABSL_ACQUIRED_AFTER(gc_mu_);
  std::map<std::string, int> leased_ ABSL_GUARDED_BY(lease_mu_);

  absl::Mutex pulls_mu_;
  std::map<std::string, std::shared_ptr<InFlight>> pulls_ ABSL_GUARDED_BY(pulls_mu_);

  absl::Mutex usage_mu_;
  FsUsage image_usage_ ABSL_GUARDED_BY(usage_mu_);
  absl::Time image_usage_at_ ABSL_GUARDED_BY(usage_mu_) = absl::InfinitePast();
  FsUsage container_usage_ ABSL_GUARDED_BY(usage_mu_);
  absl::Time container_usage_at_ ABSL_GUARDED_BY(usage_mu_) = absl::InfinitePast();
};

}  // namespace crius::image
