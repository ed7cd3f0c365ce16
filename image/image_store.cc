#include "image/image_store.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/digest.h"
#include "image/store_fs.h"

namespace crius::image {
namespace {

constexpr size_t kMinPrefix = 3;
constexpr size_t kMaxRecordBytes = size_t{32} << 20;

void AppendUnique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const std::string& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
  }
}

std::vector<std::string> Unique(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  AppendUnique(out, v);
  return out;
}

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

void Erase(std::vector<std::string>& v, const std::string& s) {
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& root) {
  std::string dir = JoinPath(root, "images");
  RETURN_IF_ERROR(Annotate(MkdirAll(dir, 0700), "open image store"));
  std::unique_ptr<ImageStore> store(new ImageStore(dir));
  RETURN_IF_ERROR(Annotate(store->Load(), "open image store"));
  return store;
}

std::string ImageStore::RecordPath(std::string_view id) const {
  return JoinPath(dir_, absl::StrCat(AbslView(DigestHex(id)), ".json"));
}

absl::Status ImageStore::Persist(const ImageRecord& record) {
  int64_t now = absl::GetCurrentTimeNanos();
  last_write_ns_ = std::max(now, last_write_ns_ + 1);
  return Annotate(
      WriteFileAtomic(RecordPath(record.id), EncodeImageRecord(record, last_write_ns_), 0600),
      absl::StrCat("save image ", record.id));
}

void ImageStore::Index(ImagePtr image) {
  for (const std::string& tag : image->repo_tags) by_tag_[tag] = image->id;
  for (const std::string& rd : image->repo_digests) by_digest_[rd] = image->id;
  by_id_[image->id] = std::move(image);
}

void ImageStore::Unindex(const ImageRecord& image) {
  for (const std::string& tag : image.repo_tags) {
    if (auto it = by_tag_.find(tag); it != by_tag_.end() && it->second == image.id) {
      by_tag_.erase(it);
    }
  }
  for (const std::string& rd : image.repo_digests) {
    if (auto it = by_digest_.find(rd); it != by_digest_.end() && it->second == image.id) {
      by_digest_.erase(it);
    }
  }
}

// Persists `updated` (same id as a stored image) and swaps it in.
absl::StatusOr<ImagePtr> ImageStore::Replace(ImageRecord updated) {
  RETURN_IF_ERROR(Persist(updated));
  if (auto it = by_id_.find(updated.id); it != by_id_.end()) Unindex(*it->second);
  auto image = std::make_shared<const ImageRecord>(std::move(updated));
  Index(image);
  return image;
}

absl::Status ImageStore::Load() {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir_.c_str()), ::closedir);
  if (!d) return ErrnoStatus(absl::StrCat("list ", dir_));
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d.get())) names.emplace_back(e->d_name);
  d.reset();

  std::vector<std::pair<int64_t, ImageRecord>> loaded;
  for (const std::string& name : names) {
    std::string path = JoinPath(dir_, name);
    // Temp files of interrupted atomic writes start with a dot.
    if (absl::StartsWith(AbslView(name), ".") && name != "." && name != "..") {
      (void)::unlink(path.c_str());
      continue;
    }
    if (!absl::EndsWith(AbslView(name), ".json")) continue;
    int64_t updated = 0;
    absl::StatusOr<std::string> data = ReadFile(path, kMaxRecordBytes);
    absl::StatusOr<ImageRecord> record =
        data.ok() ? DecodeImageRecord(*data, &updated) : absl::StatusOr<ImageRecord>(data.status());
    if (record.ok() && RecordPath(record->id) != path) {
      record = absl::DataLossError("file name does not match the image id");
    }
    if (!record.ok()) {
      CRIUS_LOG(kWarn) << "skipping damaged image record " << path << ": " << record.status();
      (void)::rename(path.c_str(), (path + ".corrupt").c_str());
      continue;
    }
    loaded.emplace_back(updated, *std::move(record));
  }
  // Oldest first, so a tag two records claim ends on the later write.
  std::sort(loaded.begin(), loaded.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  absl::MutexLock lock(&mu_);
  by_id_.clear();
  by_tag_.clear();
  by_digest_.clear();
  for (auto& [updated, record] : loaded) {
    last_write_ns_ = std::max(last_write_ns_, updated);
    for (bool tags : {true, false}) {
      auto& index = tags ? by_tag_ : by_digest_;
      for (const std::string& name : tags ? record.repo_tags : record.repo_digests) {
        auto owner = index.find(name);
        if (owner == index.end() || owner->second == record.id) continue;
        ImageRecord loser = *by_id_.at(owner->second);
        Erase(tags ? loser.repo_tags : loser.repo_digests, name);
        Unindex(*by_id_.at(loser.id));
        Index(std::make_shared<const ImageRecord>(std::move(loser)));
      }
    }
    Index(std::make_shared<const ImageRecord>(std::move(record)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImagePtr> ImageStore::Put(ImageRecord record) {
  RETURN_IF_ERROR(ValidateImageRecord(record));
  ASSIGN_OR_RETURN(record.user, UserFromConfig(record.config_json));
  record.repo_tags = Unique(record.repo_tags);
  record.repo_digests = Unique(record.repo_digests);

  absl::MutexLock lock(&mu_);
  ImageRecord merged = record;
  if (auto it = by_id_.find(record.id); it != by_id_.end()) {
    const ImageRecord& old = *it->second;
    merged.repo_tags = old.repo_tags;
    AppendUnique(merged.repo_tags, record.repo_tags);
    merged.repo_digests = old.repo_digests;
    AppendUnique(merged.repo_digests, record.repo_digests);
    AppendUnique(merged.layer_digests, old.layer_digests);
    merged.pinned = old.pinned || record.pinned;
  }
  // Names other images hold, grouped by the image losing them.
  std::map<std::string, std::vector<std::string>> moved;
  for (const std::string& tag : record.repo_tags) {
    auto owner = by_tag_.find(tag);
    if (owner != by_tag_.end() && owner->second != record.id) moved[owner->second].push_back(tag);
  }
  for (const std::string& rd : record.repo_digests) {
    auto owner = by_digest_.find(rd);
    if (owner != by_digest_.end() && owner->second != record.id) moved[owner->second].push_back(rd);
  }
  // The new record is written first: if a crash cuts the sequence short,
  // Load still gives the names to it (it was written last).
  ASSIGN_OR_RETURN(ImagePtr stored, Replace(std::move(merged)));
  for (const auto& [loser_id, names] : moved) {
    ImageRecord loser = *by_id_.at(loser_id);
    for (const std::string& n : names) {
      Erase(loser.repo_tags, n);
      Erase(loser.repo_digests, n);
    }
    absl::StatusOr<ImagePtr> s = Replace(loser);
    if (!s.ok()) {
      // The newer record already owns the names on disk; fix memory anyway.
      CRIUS_LOG(kWarn) << "move names off image " << loser_id << ": " << s.status();
      Unindex(*by_id_.at(loser_id));
      Index(std::make_shared<const ImageRecord>(std::move(loser)));
    }
  }
  return stored;
}

absl::StatusOr<ImagePtr> ImageStore::Resolve(std::string_view ref) const {
  std::string key(ref);
  if (auto it = by_id_.find(key); it != by_id_.end()) return it->second;
  if (auto it = by_tag_.find(key); it != by_tag_.end()) return by_id_.at(it->second);
  if (auto it = by_digest_.find(key); it != by_digest_.end()) return by_id_.at(it->second);
  std::string_view hex = ref;
  if (absl::StartsWith(AbslView(hex), "sha256:")) hex.remove_prefix(7);
  if (hex.size() >= kMinPrefix && hex.size() <= 64 && IsHex(hex)) {
    std::string prefix = absl::StrCat("sha256:", AbslView(hex));
    auto it = by_id_.lower_bound(prefix);
    if (it != by_id_.end() && absl::StartsWith(it->first, prefix)) {
      auto next = std::next(it);
      if (next != by_id_.end() && absl::StartsWith(next->first, prefix)) {
        return absl::InvalidArgumentError(
            absl::StrCat("image id prefix \"", AbslView(ref), "\" matches several images"));
      }
      return it->second;
    }
  }
  return absl::NotFoundError(absl::StrCat("image \"", AbslView(ref), "\" not found"));
}

absl::StatusOr<ImagePtr> ImageStore::Get(std::string_view ref) const {
  absl::ReaderMutexLock lock(&mu_);
  return Resolve(ref);
}

std::vector<ImagePtr> ImageStore::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<ImagePtr> out;
  out.reserve(by_id_.size());
  for (const auto& [id, image] : by_id_) out.push_back(image);
  return out;
}

absl::StatusOr<ImagePtr> ImageStore::Untag(std::string_view tag) {
  absl::MutexLock lock(&mu_);
  auto owner = by_tag_.find(std::string(tag));
  if (owner == by_tag_.end()) {
    return absl::NotFoundError(absl::StrCat("no image is tagged \"", AbslView(tag), "\""));
  }
  ImageRecord updated = *by_id_.at(owner->second);
  Erase(updated.repo_tags, std::string(tag));
  return Replace(std::move(updated));
}

absl::StatusOr<ImagePtr> ImageStore::SetPinned(std::string_view ref, bool pinned) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(ImagePtr image, Resolve(ref));
  if (image->pinned == pinned) return image;
  ImageRecord updated = *image;
  updated.pinned = pinned;
  return Replace(std::move(updated));
}

absl::StatusOr<RemovedImage> ImageStore::Remove(std::string_view ref) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(ImagePtr image, Resolve(ref));
  std::string path = RecordPath(image->id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("remove image ", image->id, ": unlink ", path));
  }
  RETURN_IF_ERROR(
      Annotate(FsyncDir(dir_), absl::StrCat("remove image ", image->id)));
  Unindex(*image);
  by_id_.erase(image->id);

  absl::flat_hash_set<std::string> blobs, chains;
  for (const auto& [id, other] : by_id_) {
    for (std::string& b : other->Blobs()) blobs.insert(std::move(b));
    chains.insert(other->chain_ids.begin(), other->chain_ids.end());
  }
  RemovedImage removed;
  removed.record = image;
  for (std::string& b : image->Blobs()) {
    if (!blobs.contains(b)) removed.unreferenced_blobs.push_back(std::move(b));
  }
  for (const std::string& c : Unique(image->chain_ids)) {
    if (!chains.contains(c)) removed.unreferenced_chain_ids.push_back(c);
  }
  return removed;
}

absl::flat_hash_set<std::string> ImageStore::ReferencedBlobs() const {
  absl::ReaderMutexLock lock(&mu_);
  absl::flat_hash_set<std::string> out;
  for (const auto& [id, image] : by_id_) {
    for (std::string& b : image->Blobs()) out.insert(std::move(b));
  }
  return out;
}

absl::flat_hash_set<std::string> ImageStore::ReferencedChainIds() const {
  absl::ReaderMutexLock lock(&mu_);
  absl::flat_hash_set<std::string> out;
  for (const auto& [id, image] : by_id_)
    out.insert(image->chain_ids.begin(), image->chain_ids.end());
  return out;
}

}  // namespace crius::image
