#include "image/image_manager.h"

#include <ftw.h>

#include <atomic>
#include <exception>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/failpoint.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/descriptor.h"
#include "image/media_types.h"
#include "nlohmann/json.hpp"

namespace crius::image {
namespace {

using nlohmann::json;

// Streams a blob from the registry into the content store's ingest file.
class IngestSink : public BlobWriter {
 public:
  explicit IngestSink(IngestWriter* writer) : writer_(writer) {}
  absl::Status Write(std::string_view chunk) override {
    absl::Status s = writer_->Write(chunk);
    // Part of the layer is in the ingest file, the rest never comes.
    failpoint::Hit(failpoint::Point::kPullImageMidLayer);
    return s;
  }

 private:
  IngestWriter* writer_;
};

struct ParsedManifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};

absl::StatusOr<ParsedManifest> ParseManifest(const FetchedManifest& m) {
  try {
    json j = json::parse(m.bytes);
    ParsedManifest out;
    ASSIGN_OR_RETURN(out.config, ParseDescriptor(j.at("config")));
    for (const auto& l : j.at("layers")) {
      ASSIGN_OR_RETURN(auto d, ParseDescriptor(l));
      out.layers.push_back(std::move(d));
    }
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("manifest ", m.digest, ": ", e.what()));
  }
}

absl::StatusOr<std::vector<std::string>> DiffIds(const std::string& config_json) {
  try {
    json j = json::parse(config_json);
    std::vector<std::string> out;
    for (const auto& d : j.at("rootfs").at("diff_ids")) out.push_back(d.get<std::string>());
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("image config: ", e.what()));
  }
}

// Bytes and inodes under a directory, not crossing into mounts below it
// (a running container's merged view must not be counted twice).
thread_local int64_t walk_bytes;
thread_local int64_t walk_inodes;
int CountEntry(const char*, const struct stat* st, int, struct FTW*) {
  walk_bytes += static_cast<int64_t>(st->st_blocks) * 512;
  walk_inodes += 1;
  return 0;
}

}  // namespace

struct ImageManager::InFlight {
  absl::Notification done;
  absl::StatusOr<ImagePtr> result = absl::UnknownError("pull did not finish");
};

absl::StatusOr<std::unique_ptr<ImageManager>> ImageManager::Open(Os& os, ImageManagerOptions options) {
  std::unique_ptr<ImageManager> m(new ImageManager(std::move(options)));
  RETURN_IF_ERROR(MkdirAll(m->options_.root, 0711));
  ASSIGN_OR_RETURN(m->content_, ContentStore::Open(m->options_.root));
  ASSIGN_OR_RETURN(m->layers_, LayerStore::Open(m->options_.root));
  ASSIGN_OR_RETURN(m->images_, ImageStore::Open(m->options_.root));
  RETURN_IF_ERROR(Annotate(m->images_->Load(), "load image records"));
  {
    // Whatever a pull interrupted by a crash left behind is unreachable now.
    absl::MutexLock gc(&m->gc_mu_);
    m->CollectGarbage();
  }
  ASSIGN_OR_RETURN(m->rootfs_, Rootfs::Open(os, RootfsOptions{JoinPath(m->options_.root, "overlay")}));
  return m;
}

absl::StatusOr<ImagePtr> ImageManager::Find(const std::string& ref) const {
  auto direct = images_->Get(ref);
  if (direct.ok() || direct.status().code() != absl::StatusCode::kNotFound) return direct;
  auto parsed = ParseReference(ref);
  if (!parsed.ok()) return direct.status();
  if (!parsed->digest.empty()) {
    auto by_digest = images_->Get(parsed->RepoDigest(parsed->digest));
    if (by_digest.ok()) return by_digest;
  }
  if (!parsed->tag.empty()) return images_->Get(parsed->RepoTag());
  return direct.status();
}

absl::StatusOr<ImagePtr> ImageManager::Pull(const std::string& ref_text, const Credentials& creds) {
  const absl::Time start = absl::Now();
  auto result = PullShared(ref_text, creds);
  if (options_.on_pull) options_.on_pull(result.ok(), absl::Now() - start);
  return result;
}

absl::StatusOr<ImagePtr> ImageManager::PullShared(const std::string& ref_text, const Credentials& creds) {
  ASSIGN_OR_RETURN(Reference ref, ParseReference(ref_text));
  const std::string key = ref.String();
  std::shared_ptr<InFlight> flight;
  bool leader = false;
  {
    absl::MutexLock lock(&pulls_mu_);
    auto& slot = pulls_[key];
    if (!slot) {
      slot = std::make_shared<InFlight>();
      leader = true;
    }
    flight = slot;
  }
  if (!leader) {
    // Someone pulls the same reference right now: share its result.
    flight->done.WaitForNotification();
    if (flight->result.ok()) return flight->result;
    // Their credentials may have been the problem; try with ours.
    return DoPull(ref, creds);
  }
  flight->result = DoPull(ref, creds);
  if (!flight->result.ok()) {
    // A failed pull may have stored a manifest, a config and some layers
    // that no image refers to; nothing else would ever free them.
    absl::MutexLock gc(&gc_mu_);
    CollectGarbage();
  }
  {
    absl::MutexLock lock(&pulls_mu_);
    pulls_.erase(key);
  }
  flight->done.Notify();
  return flight->result;
}

ImageManager::Leases::~Leases() {
  absl::MutexLock lock(&m_.lease_mu_);
  for (const std::string& key : keys_) {
    auto it = m_.leased_.find(key);
    if (it != m_.leased_.end() && --it->second == 0) m_.leased_.erase(it);
  }
}

void ImageManager::Leases::Take(const std::string& key) {
  absl::MutexLock lock(&m_.lease_mu_);
  keys_.push_back(key);
  ++m_.leased_[key];
}

absl::StatusOr<ImagePtr> ImageManager::DoPull(const Reference& ref, const Credentials& creds) {
  // Held until the image record is in (or the pull failed): no lock against
  // garbage collection across the registry's I/O.
  Leases leases(*this);
  const std::string what = absl::StrCat("pull ", ref.String());
  auto top = registry_.GetManifest(ref, creds);
  if (!top.ok()) return Annotate(top.status(), what);
  FetchedManifest manifest = *top;
  if (IsIndexMediaType(manifest.media_type)) {
    json index = json::parse(manifest.bytes, nullptr, false);
    if (index.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, ": index is not JSON"));
    const Platform host = HostPlatform();
    auto chosen = SelectPlatform(index, host.os, host.architecture, host.variant);
    if (!chosen.ok()) return Annotate(chosen.status(), what);
    auto m = registry_.GetManifestByDigest(ref, chosen->digest, creds);
    if (!m.ok()) return Annotate(m.status(), what);
    manifest = *m;
  }
  if (!IsImageManifestMediaType(manifest.media_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": unsupported manifest media type ", manifest.media_type));
  }
  ASSIGN_OR_RETURN(ParsedManifest parsed, ParseManifest(manifest));
  leases.Take(manifest.digest);
  RETURN_IF_ERROR(Annotate(content_->Put(manifest.digest, manifest.bytes), what));

  std::string config_json;
  leases.Take(parsed.config.digest);
  if (content_->Has(parsed.config.digest)) {
    ASSIGN_OR_RETURN(config_json, content_->Read(parsed.config.digest, size_t{8} << 20));
  } else {
    auto c = registry_.FetchBlobToString(ref, parsed.config.digest, parsed.config.size, creds);
    if (!c.ok()) return Annotate(c.status(), absl::StrCat(what, ": config"));
    config_json = *c;
    RETURN_IF_ERROR(Annotate(content_->Put(parsed.config.digest, config_json), what));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, DiffIds(config_json));
  if (diff_ids.size() != parsed.layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": manifest has ", parsed.layers.size(),
                                                   " layers but the config ", diff_ids.size(),
                                                   " diff_ids"));
  }
  RETURN_IF_ERROR(Annotate(FetchLayers(ref, parsed.layers, diff_ids, creds, leases), what));

  ImageRecord record;
  record.id = parsed.config.digest;
  if (!ref.tag.empty()) record.repo_tags.push_back(ref.RepoTag());
  record.repo_digests.push_back(ref.RepoDigest(top->digest));
  record.manifest_digest = manifest.digest;
  record.size = parsed.config.size > 0 ? parsed.config.size : static_cast<int64_t>(config_json.size());
  for (const auto& l : parsed.layers) {
    record.layer_digests.push_back(l.digest);
    record.size += std::max<int64_t>(l.size, 0);
  }
  record.chain_ids = ChainIds(diff_ids);
  record.config_json = config_json;
  auto user = UserFromConfig(config_json);
  if (user.ok()) record.user = *user;
  failpoint::Hit(failpoint::Point::kPullImageBeforeRecord);
  auto put = images_->Put(std::move(record));
  if (!put.ok()) return Annotate(put.status(), what);
  CRIUS_LOG(kInfo) << "pulled " << ref.String() << " as " << (*put)->id;
  return put;
}

absl::Status ImageManager::FetchLayers(const Reference& repo, const std::vector<Descriptor>& layers,
                                       const std::vector<std::string>& diff_ids,
                                       const Credentials& creds, Leases& leases) {
  const std::vector<std::string> chain_ids = ChainIds(diff_ids);
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first;
  auto worker = [&] {
    for (size_t i = next++; i < layers.size(); i = next++) {
      {
        absl::MutexLock lock(&mu);
        if (!first.ok()) return;  // one failure stops the others early
      }
      absl::Status s = FetchLayer(repo, layers[i], chain_ids[i], diff_ids[i], creds, leases);
      if (!s.ok()) {
        absl::MutexLock lock(&mu);
        if (first.ok()) first = s;
      }
    }
  };
  const size_t n = std::min<size_t>(layers.size(), std::max(1, options_.max_concurrent_downloads));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return first;
}

absl::Status ImageManager::FetchLayer(const Reference& repo, const Descriptor& layer,
                                      const std::string& chain_id, const std::string& diff_id,
                                      const Credentials& creds, Leases& leases) {
  leases.Take(chain_id);
  leases.Take(layer.digest);
  if (layers_->Has(chain_id)) {
    if (options_.on_layer_reused) options_.on_layer_reused();
    return absl::OkStatus();
  }
  if (!content_->Has(layer.digest)) {
    RETURN_IF_ERROR(DownloadLayer(repo, layer, creds));
    if (options_.on_layer_downloaded) options_.on_layer_downloaded(static_cast<uint64_t>(std::max<int64_t>(layer.size, 0)));
  }
  ASSIGN_OR_RETURN(std::string blob, content_->Path(layer.digest));
  RETURN_IF_ERROR(Annotate(layers_->Ensure(chain_id, blob, diff_id).status(),
                           absl::StrCat("unpack layer ", layer.digest)));
  failpoint::Hit(failpoint::Point::kPullImageAfterUnpack);
  return absl::OkStatus();
}

absl::Status ImageManager::DownloadLayer(const Reference& repo, const Descriptor& layer,
                                         const Credentials& creds) {
  // A connection the registry (or a proxy) drops mid-blob is Unavailable:
  // the download starts over, a bounded number of times. Anything else (a
  // digest mismatch, a stall, a 404) would only fail again.
  constexpr int kAttempts = 3;
  absl::Duration backoff = absl::Milliseconds(200);
  absl::Status s;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    if (attempt > 1) {
      CRIUS_LOG(kWarn) << "layer " << layer.digest << ": attempt " << attempt - 1 << " of "
                       << kAttempts << " failed, retrying in " << backoff << ": " << s;
      absl::SleepFor(backoff);
      backoff *= 2;
    }
    ASSIGN_OR_RETURN(auto writer, content_->Ingest(layer.digest, layer.size));
    IngestSink sink(writer.get());
    s = registry_.FetchBlob(repo, layer.digest, layer.size, creds, sink);
    if (s.ok()) return Annotate(writer->Commit(), absl::StrCat("layer ", layer.digest));
    writer->Abort();
    if (!absl::IsUnavailable(s)) break;
    if (attempt == kAttempts) {
      s = Annotate(s, absl::StrCat("gave up after ", kAttempts, " attempts"));
    }
  }
  return Annotate(s, absl::StrCat("layer ", layer.digest));
}

absl::Status ImageManager::Remove(const std::string& ref) {
  absl::MutexLock gc(&gc_mu_);
  auto found = Find(ref);
  if (!found.ok()) {
    return found.status().code() == absl::StatusCode::kNotFound ? absl::OkStatus() : found.status();
  }
  const ImagePtr image = *found;
  // A tag of an image that has others only loses that tag (allowed even
  // while containers use the image, as with containerd).
  auto parsed = ParseReference(ref);
  if (parsed.ok() && image->repo_tags.size() > 1) {
    for (const auto& tag : image->repo_tags) {
      if (tag == ref || (!parsed->tag.empty() && tag == parsed->RepoTag())) {
        return images_->Untag(tag).status();
      }
    }
  }
  if (in_use_ && in_use_(image->id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("image ", image->id, " is in use by a container"));
  }
  RETURN_IF_ERROR(images_->Remove(image->id).status());
  CollectGarbage();
  return absl::OkStatus();
}

void ImageManager::CollectGarbage() {
  // Under lease_mu_: a pull between storing content and recording its image
  // holds a lease on it, taken before it looked for or stored it; so what
  // is neither referenced nor leased now is garbage, and stays unseen by
  // pulls until deleted.
  absl::MutexLock leases(&lease_mu_);
  absl::flat_hash_set<std::string> keep = images_->ReferencedBlobs();
  for (const auto& image : images_->List()) keep.insert(image->manifest_digest);
  for (const auto& [key, count] : leased_) keep.insert(key);
  auto blobs = content_->List();
  if (blobs.ok()) {
    for (const auto& blob : *blobs) {
      if (keep.contains(blob)) continue;
      if (auto s = content_->Delete(blob); !s.ok()) CRIUS_LOG(kWarn) << "delete blob " << blob << ": " << s;
    }
  }
  absl::flat_hash_set<std::string> live = images_->ReferencedChainIds();
  for (const auto& [key, count] : leased_) live.insert(key);
  auto removed = layers_->RemoveUnreferenced(live);
  if (!removed.ok()) CRIUS_LOG(kWarn) << "collect layers: " << removed.status();
}

absl::StatusOr<std::vector<std::string>> ImageManager::LowerDirs(const ImageRecord& image) const {
  std::vector<std::string> dirs;
  for (auto it = image.chain_ids.rbegin(); it != image.chain_ids.rend(); ++it) {
    ASSIGN_OR_RETURN(LayerInfo info, layers_->Get(*it));
    dirs.push_back(info.path);
  }
  return dirs;
}

FsUsage ImageManager::CachedUsage(const std::vector<std::string>& dirs, FsUsage* cache,
                                  absl::Time* when) {
  // kubelet asks every few seconds; walking a large store that often would
  // cost more than the answer is worth.
  if (absl::Now() - *when < absl::Seconds(10)) return *cache;
  walk_bytes = 0;
  walk_inodes = 0;
  for (const auto& dir : dirs) ::nftw(dir.c_str(), CountEntry, 64, FTW_PHYS | FTW_MOUNT);
  *cache = FsUsage{options_.root, walk_bytes, walk_inodes};
  *when = absl::Now();
  return *cache;
}

FsUsage ImageManager::ImageFsUsage() {
  absl::MutexLock lock(&usage_mu_);
  return CachedUsage({JoinPath(options_.root, "content"), JoinPath(options_.root, "layers"),
                      JoinPath(options_.root, "images")},
                     &image_usage_, &image_usage_at_);
}

FsUsage ImageManager::ContainerFsUsage() {
  absl::MutexLock lock(&usage_mu_);
  return CachedUsage({JoinPath(options_.root, "overlay")}, &container_usage_, &container_usage_at_);
}

}  // namespace crius::image
