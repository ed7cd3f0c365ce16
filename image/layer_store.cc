#include "image/layer_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "image/digest.h"
#include "image/store_fs.h"
#include "nlohmann/json.hpp"

namespace crius::image {
namespace {

constexpr char kMetadataFile[] = "layer.json";
constexpr char kDiffDir[] = "diff";

absl::Status CheckChainId(std::string_view chain_id) {
  RETURN_IF_ERROR(ValidateDigest(chain_id));
  if (!absl::StartsWith(AbslView(chain_id), "sha256:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("chain id \"", AbslView(chain_id), "\" is not sha256"));
  }
  return absl::OkStatus();
}

std::string EncodeMetadata(const LayerInfo& info) {
  nlohmann::json j = {{"chain_id", info.chain_id}, {"diff_id", info.diff_id}, {"size", info.size}};
  return j.dump();
}

absl::StatusOr<LayerInfo> DecodeMetadata(const std::string& data, const std::string& what) {
  try {
    nlohmann::json j = nlohmann::json::parse(data);
    LayerInfo info;
    info.chain_id = j.at("chain_id").get<std::string>();
    info.diff_id = j.at("diff_id").get<std::string>();
    info.size = j.at("size").get<int64_t>();
    return info;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("parse ", what, ": ", e.what()));
  }
}

absl::StatusOr<std::vector<std::string>> ListNames(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return ErrnoStatus(absl::StrCat("list ", dir));
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

// Makes the unpacked files durable before the rename publishes them: one
// syncfs is far cheaper than an fsync per file and covers them all.
absl::Status SyncFilesystem(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", path));
  if (::syncfs(fd.get()) != 0) return ErrnoStatus(absl::StrCat("syncfs ", path));
  return absl::OkStatus();
}

}  // namespace

std::string ChainId(std::string_view parent_chain_id, std::string_view diff_id) {
  if (parent_chain_id.empty()) return std::string(diff_id);
  return Sha256Digest(absl::StrCat(AbslView(parent_chain_id), " ", AbslView(diff_id)));
}

std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  out.reserve(diff_ids.size());
  for (const std::string& diff_id : diff_ids) {
    out.push_back(ChainId(out.empty() ? std::string_view() : out.back(), diff_id));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<LayerStore>> LayerStore::Open(const std::string& root,
                                                             UnpackLimits limits) {
  std::string dir = JoinPath(root, "layers");
  RETURN_IF_ERROR(Annotate(MkdirAll(dir, 0700), "open layer store"));
  std::unique_ptr<LayerStore> store(new LayerStore(dir, limits));
  RETURN_IF_ERROR(Annotate(store->Load(), "open layer store"));
  return store;
}

std::string LayerStore::LayerDir(std::string_view chain_id) const {
  return JoinPath(root_, DigestHex(chain_id));
}

absl::Status LayerStore::Load() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(root_));
  absl::flat_hash_map<std::string, LayerInfo> loaded;
  for (const std::string& name : names) {
    std::string path = JoinPath(root_, name);
    if (absl::StartsWith(AbslView(name), ".")) {
      // An unpack or removal this process no longer runs.
      RETURN_IF_ERROR(RemoveAll(path));
      continue;
    }
    std::string meta_path = JoinPath(path, kMetadataFile);
    absl::StatusOr<std::string> data = ReadFile(meta_path, 1 << 16);
    absl::StatusOr<LayerInfo> info =
        data.ok() ? DecodeMetadata(*data, meta_path) : absl::StatusOr<LayerInfo>(data.status());
    if (info.ok() && (!CheckChainId(info->chain_id).ok() || DigestHex(info->chain_id) != name)) {
      info = absl::DataLossError(absl::StrCat(meta_path, ": chain id does not match"));
    }
    if (!info.ok()) {
      // Layers are published complete, so this is damage; the layer will
      // simply be unpacked again by the next pull that needs it.
      CRIUS_LOG(kWarn) << "dropping layer " << path << ": " << info.status();
      RETURN_IF_ERROR(RemoveAll(path));
      continue;
    }
    info->path = JoinPath(path, kDiffDir);
    loaded.emplace(info->chain_id, *std::move(info));
  }
  absl::MutexLock lock(&mu_);
  layers_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<LayerInfo> LayerStore::Ensure(std::string_view chain_id_view,
                                             const std::string& blob_path,
                                             std::string_view diff_id_view) {
  std::string chain_id(chain_id_view);
  std::string diff_id(diff_id_view);
  RETURN_IF_ERROR(CheckChainId(chain_id));
  RETURN_IF_ERROR(ValidateDigest(diff_id));
  {
    absl::MutexLock lock(&mu_);
    for (;;) {
      if (auto it = layers_.find(chain_id); it != layers_.end()) return it->second;
      if (!unpacking_.contains(chain_id)) break;
      // Someone else is unpacking it: wait for the outcome. If that unpack
      // failed, this caller tries with its own blob.
      auto done = [this, &chain_id]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !unpacking_.contains(chain_id); };
      mu_.Await(absl::Condition(&done));
    }
    unpacking_.insert(chain_id);
  }
  absl::StatusOr<LayerInfo> info = Unpack(chain_id, blob_path, diff_id);
  absl::MutexLock lock(&mu_);
  unpacking_.erase(chain_id);
  ++unpacks_;
  if (!info.ok()) return info.status();
  layers_[chain_id] = *info;
  return info;
}

absl::StatusOr<LayerInfo> LayerStore::Unpack(const std::string& chain_id,
                                             const std::string& blob_path,
                                             const std::string& diff_id) const {
  const std::string context = absl::StrCat("unpack layer ", chain_id);
  std::string scratch =
      JoinPath(root_, absl::StrCat(".tmp-", AbslView(DigestHex(chain_id).substr(0, 12)), "-",
                                   store_internal::RandomHex()));
  std::string diff = JoinPath(scratch, kDiffDir);
  auto cleanup = [&scratch](absl::Status s) {
    absl::Status rm = RemoveAll(scratch);
    if (!rm.ok()) {
      CRIUS_LOG(kWarn) << "remove " << scratch << ": " << rm;
    }
    return s;
  };
  if (::mkdir(scratch.c_str(), 0700) != 0) return ErrnoStatus(absl::StrCat("create ", scratch));
  if (::mkdir(diff.c_str(), 0755) != 0) {
    return cleanup(ErrnoStatus(absl::StrCat("create ", diff)));
  }
  absl::StatusOr<UnpackResult> unpacked = UnpackLayer(blob_path, diff, limits_);
  if (!unpacked.ok()) return cleanup(Annotate(unpacked.status(), context));
  if (unpacked->diff_id != diff_id) {
    return cleanup(absl::DataLossError(absl::StrCat(context, ": uncompressed content hashes to ",
                                                    unpacked->diff_id, ", config says ", diff_id)));
  }
  LayerInfo info{chain_id, diff_id, unpacked->size, ""};
  absl::Status s = WriteFileAtomic(JoinPath(scratch, kMetadataFile), EncodeMetadata(info), 0600);
  if (s.ok()) s = SyncFilesystem(scratch);
  if (!s.ok()) return cleanup(Annotate(s, context));
  std::string final_dir = LayerDir(chain_id);
  if (::rename(scratch.c_str(), final_dir.c_str()) != 0) {
    // Another process sharing the root published it first; ours is a
    // duplicate of verified-identical content.
    if (errno == EEXIST || errno == ENOTEMPTY) {
      (void)cleanup(absl::OkStatus());
    } else {
      return cleanup(ErrnoStatus(absl::StrCat(context, ": rename to ", final_dir)));
    }
  }
  RETURN_IF_ERROR(Annotate(FsyncDir(root_), context));
  info.path = JoinPath(final_dir, kDiffDir);
  return info;
}

bool LayerStore::Has(std::string_view chain_id) const {
  absl::MutexLock lock(&mu_);
  return layers_.contains(std::string(chain_id));
}

absl::StatusOr<LayerInfo> LayerStore::Get(std::string_view chain_id) const {
  absl::MutexLock lock(&mu_);
  auto it = layers_.find(std::string(chain_id));
  if (it == layers_.end()) {
    return absl::NotFoundError(absl::StrCat("layer ", AbslView(chain_id), " not found"));
  }
  return it->second;
}

std::vector<LayerInfo> LayerStore::List() const {
  std::vector<LayerInfo> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(layers_.size());
    for (const auto& [id, info] : layers_) out.push_back(info);
  }
  std::sort(out.begin(), out.end(),
            [](const LayerInfo& a, const LayerInfo& b) { return a.chain_id < b.chain_id; });
  return out;
}

int64_t LayerStore::unpacks() const {
  absl::MutexLock lock(&mu_);
  return unpacks_;
}

int64_t LayerStore::TotalSize() const {
  absl::MutexLock lock(&mu_);
  int64_t total = 0;
  for (const auto& [id, info] : layers_) total += info.size;
  return total;
}

// Renamed away first, under the lock, so the layer vanishes from its name
// at once and a concurrent Ensure can publish a fresh copy; the possibly
// slow recursive delete then runs outside the lock on a private name.
absl::StatusOr<std::string> LayerStore::DetachDir(const std::string& chain_id) const {
  std::string dir = LayerDir(chain_id);
  std::string doomed =
      JoinPath(root_, absl::StrCat(".rm-", AbslView(DigestHex(chain_id).substr(0, 12)), "-",
                                   store_internal::RandomHex()));
  if (::rename(dir.c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return std::string();
    return ErrnoStatus(absl::StrCat("remove layer ", chain_id, ": rename ", dir));
  }
  return doomed;
}

absl::Status LayerStore::Remove(std::string_view chain_id_view) {
  std::string chain_id(chain_id_view);
  RETURN_IF_ERROR(CheckChainId(chain_id));
  std::string doomed;
  {
    absl::MutexLock lock(&mu_);
    if (unpacking_.contains(chain_id)) {
      return absl::FailedPreconditionError(absl::StrCat("layer ", chain_id, " is being unpacked"));
    }
    ASSIGN_OR_RETURN(doomed, DetachDir(chain_id));
    layers_.erase(chain_id);
  }
  if (doomed.empty()) return absl::OkStatus();
  return Annotate(RemoveAll(doomed), absl::StrCat("remove layer ", chain_id));
}

absl::StatusOr<std::vector<std::string>> LayerStore::RemoveUnreferenced(
    const absl::flat_hash_set<std::string>& live) {
  std::vector<std::string> removed;
  std::vector<std::string> doomed_dirs;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> doomed;
    for (const auto& [id, info] : layers_) {
      if (!live.contains(id) && !unpacking_.contains(id)) doomed.push_back(id);
    }
    std::sort(doomed.begin(), doomed.end());
    for (const std::string& id : doomed) {
      absl::StatusOr<std::string> dir = DetachDir(id);
      if (!dir.ok()) {
        status = dir.status();
        break;
      }
      layers_.erase(id);
      removed.push_back(id);
      if (!dir->empty()) doomed_dirs.push_back(*std::move(dir));
    }
  }
  for (const std::string& dir : doomed_dirs) {
    absl::Status s = RemoveAll(dir);
    // Left for the next Open to finish; the layer is already gone by name.
    if (!s.ok()) {
      CRIUS_LOG(kWarn) << "remove " << dir << ": " << s;
    }
  }
  if (!status.ok()) return status;
  return removed;
}

}  // namespace crius::image
