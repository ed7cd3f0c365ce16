#include "image/store_fs.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/unique_fd.h"

namespace crius::image::store_internal {

std::string RandomHex() {
  uint64_t v = 0;
  // getrandom only fails before the pool is seeded at early boot; fall
  // back to a mix of pid and time, which only has to avoid collisions.
  if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = (static_cast<uint64_t>(getpid()) << 40) ^ static_cast<uint64_t>(ts.tv_nsec) ^
        (static_cast<uint64_t>(ts.tv_sec) << 20);
  }
  return absl::StrFormat("%016x", v);
}

absl::StatusOr<int64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(absl::StrCat("stat ", path));
  return static_cast<int64_t>(st.st_size);
}

namespace {
// nftw has no user-data argument; the walk state lives in thread-locals
// that are set and cleared around the single call below.
thread_local std::set<std::pair<dev_t, ino_t>>* tl_seen = nullptr;
thread_local int64_t tl_total = 0;

int CountEntry(const char*, const struct stat* st, int type, struct FTW*) {
  if (type == FTW_NS) return 0;
  if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) {
    if (!tl_seen->insert({st->st_dev, st->st_ino}).second) return 0;
  }
  tl_total += static_cast<int64_t>(st->st_blocks) * 512;
  return 0;
}
}  // namespace

absl::StatusOr<int64_t> DiskUsage(const std::string& path) {
  std::set<std::pair<dev_t, ino_t>> seen;
  tl_seen = &seen;
  tl_total = 0;
  int rc = ::nftw(path.c_str(), CountEntry, 32, FTW_PHYS | FTW_MOUNT);
  int err = errno;
  tl_seen = nullptr;
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("walk ", path));
  return tl_total;
}

}  // namespace crius::image::store_internal
