#include "stats/fs_usage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iterator>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/unique_fd.h"

namespace crius::stats {
namespace {

struct Walk {
  dev_t dev = 0;
  FsUsage usage;
  std::set<std::pair<dev_t, ino_t>> linked;  // files with several links, seen once
};

void Count(Walk& w, const struct stat& st) {
  if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
    if (!w.linked.insert({st.st_dev, st.st_ino}).second) return;
  }
  w.usage.inodes_used += 1;
  w.usage.used_bytes += static_cast<uint64_t>(st.st_blocks) * 512;
}

// Walks the directory open at `dirfd` (which it takes over). Entries that
// vanish mid-walk (the container deletes files) are skipped, not errors.
// Depth is bounded by the fd limit only through recursion, so a directory
// whose subtree cannot be opened is counted but not entered.
void WalkDir(Walk& w, int dirfd) {
  DIR* d = ::fdopendir(dirfd);
  if (d == nullptr) {
    ::close(dirfd);
    return;
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_dev != w.dev) continue;  // another filesystem mounted inside
    Count(w, st);
    if (S_ISDIR(st.st_mode)) {
      int child = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) WalkDir(w, child);
    }
  }
  ::closedir(d);
}

}  // namespace

absl::StatusOr<FsUsage> MeasureDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", dir));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("stat ", dir));
  }
  Walk w;
  w.dev = st.st_dev;
  Count(w, st);
  WalkDir(w, fd);
  w.usage.timestamp_ns = absl::GetCurrentTimeNanos();
  return w.usage;
}

class FsUsageCache::Impl {
 public:
  explicit Impl(FsUsageCacheOptions options)
      : options_(options), worker_([this] { Run(); }) {}
  ~Impl() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    worker_.join();
  }

  void Track(const std::string& id, const std::string& dir) {
    absl::MutexLock l(&mu_);
    Entry& e = entries_[id];
    if (e.dir == dir) return;  // already tracked: the hot path of every stats call
    e = Entry{dir, std::nullopt, absl::InfinitePast()};
    wake_ = true;
  }
  void Untrack(const std::string& id) {
    absl::MutexLock l(&mu_);
    entries_.erase(id);
  }
  void RetainOnly(const std::set<std::string>& ids) {
    absl::MutexLock l(&mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = ids.count(it->first) ? std::next(it) : entries_.erase(it);
    }
  }
  std::optional<FsUsage> Get(const std::string& id) const {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    return it->second.usage;
  }

 private:
  struct Entry {
    std::string dir;
    std::optional<FsUsage> usage;
    absl::Time walked = absl::InfinitePast();
  };

  bool Woken() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || wake_; }

  // Each round walks every entry due (never walked, or walked at least one
  // interval ago) without holding the lock, then stores the results for
  // entries still tracked with the same dir.
  void Run() {
    for (;;) {
      std::vector<std::pair<std::string, std::string>> due;
      {
        absl::MutexLock l(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(this, &Impl::Woken), options_.refresh_interval);
        if (stop_) return;
        wake_ = false;
        absl::Time now = absl::Now();
        for (const auto& [id, e] : entries_) {
          if (now - e.walked >= options_.refresh_interval) due.emplace_back(id, e.dir);
        }
      }
      for (const auto& [id, dir] : due) {
        absl::StatusOr<FsUsage> usage = MeasureDir(dir);
        absl::MutexLock l(&mu_);
        if (stop_) return;
        auto it = entries_.find(id);
        if (it == entries_.end() || it->second.dir != dir) continue;
        it->second.walked = absl::Now();
        if (usage.ok()) it->second.usage = *usage;
      }
    }
  }

  const FsUsageCacheOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;  // last: starts once the members above exist
};

FsUsageCache::FsUsageCache(FsUsageCacheOptions options)
    : impl_(std::make_unique<Impl>(options)) {}
FsUsageCache::~FsUsageCache() = default;
void FsUsageCache::Track(const std::string& id, const std::string& dir) { impl_->Track(id, dir); }
void FsUsageCache::Untrack(const std::string& id) { impl_->Untrack(id); }
void FsUsageCache::RetainOnly(const std::set<std::string>& ids) { impl_->RetainOnly(ids); }
std::optional<FsUsage> FsUsageCache::Get(const std::string& id) const { return impl_->Get(id); }

}  // namespace crius::stats
