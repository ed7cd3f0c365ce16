#pragma once
// Writable-layer usage of containers (bytes and inodes under each upper
// dir), kept in a cache that a background thread refreshes, so a stats
// call never walks a directory tree itself.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crius::stats {

struct FsUsage {
  int64_t timestamp_ns = 0;  // wall clock when the walk finished
  uint64_t used_bytes = 0;   // allocated blocks (st_blocks * 512), like du
  uint64_t inodes_used = 0;  // every file, directory and link, the root too
};

// Walks `dir` without following symlinks or leaving its filesystem; a hard
// link counts once. NotFound when `dir` does not exist.
absl::StatusOr<FsUsage> MeasureDir(const std::string& dir);

struct FsUsageCacheOptions {
  absl::Duration refresh_interval = absl::Seconds(5);
};

class FsUsageCache {
 public:
  explicit FsUsageCache(FsUsageCacheOptions options = {});
  ~FsUsageCache();  // stops and joins the refresher
  FsUsageCache(const FsUsageCache&) = delete;
  FsUsageCache& operator=(const FsUsageCache&) = delete;

  // Starts tracking `id` with upper dir `dir`; its first walk happens soon
  // in the background. Tracking an id again replaces its dir.
  void Track(const std::string& id, const std::string& dir);
  void Untrack(const std::string& id);
  // Untracks every id not in `ids` (after a full list of containers).
  void RetainOnly(const std::set<std::string>& ids);
  // The last measurement of `id`; nullopt when untracked or not yet walked.
  std::optional<FsUsage> Get(const std::string& id) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace crius::stats
