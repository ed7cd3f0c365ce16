#pragma once
// Applying tar members of an image layer to a directory that overlayfs will
// use as a lower layer. Internal to the layer unpacker (layer_unpack.h has
// the public entry point and the rules); kept apart so the archive plumbing
// and the filesystem work stay readable on their own.
//
// Every path from the archive is hostile. Each member is created relative to
// a descriptor of its parent directory, and that parent is resolved with
// openat2(RESOLVE_IN_ROOT): ".." and symlinks (absolute or relative) are
// evaluated as if the layer directory were "/", so nothing can be reached
// outside it. The member's own final name is never followed.

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

struct archive;
struct archive_entry;

namespace crius::image::store_internal {

// Splits a member name into clean components: a leading "/" is dropped
// (absolute names are taken relative to the layer), as are empty and "."
// components. Any ".." component is InvalidArgument: no legitimate layer
// needs one, and refusing beats guessing what the producer meant.
absl::StatusOr<std::vector<std::string>> CleanMemberPath(std::string_view name);

class LayerWriter {
 public:
  // `dir` must exist; it becomes the root every member is confined to.
  static absl::StatusOr<LayerWriter> Open(const std::string& dir);

  // Applies the member `entry` just read from `a` (regular file data is
  // read from `a`). OCI whiteouts become overlay whiteouts.
  absl::Status Apply(struct archive* a, struct archive_entry* entry);
  // Sets directory timestamps, which creating their children disturbed.
  absl::Status Finish();

  // Bytes of regular file content written (hard links counted once).
  int64_t content_bytes() const { return content_bytes_; }
  // The last member's data was complete but the stream ended inside the
  // zero padding after it (a layer written without its end-of-archive
  // blocks). The caller decides whether the stream really ended there.
  bool ended_in_padding() const { return ended_in_padding_; }

 private:
  struct DirTimes {
    std::vector<std::string> path;
    struct timespec times[2];
  };
  struct Meta;

  explicit LayerWriter(UniqueFd root) : root_(std::move(root)) {}
  static Meta ReadMeta(struct archive_entry* entry, const char* name);

  absl::StatusOr<UniqueFd> Resolve(const std::string& rel, int flags) const;
  absl::StatusOr<UniqueFd> OpenDir(const std::vector<std::string>& path, size_t n,
                                   bool create) const;
  absl::Status ClearSlot(int parent, const std::string& name, const std::string& what,
                         bool keep_dir, bool* kept_dir) const;

  absl::Status ApplyWhiteout(int parent, const std::string& name, const Meta& meta);
  absl::Status ApplyDir(int parent, const std::vector<std::string>& path, const Meta& meta);
  absl::Status ApplyFile(struct archive* a, int parent, const std::string& name, const Meta& meta);
  absl::Status ApplyHardlink(int parent, const std::string& name, std::string_view target,
                             const std::string& what);
  absl::Status ApplySpecial(int parent, const std::string& name, struct archive_entry* entry,
                            const Meta& meta);

  UniqueFd root_;
  std::vector<DirTimes> dir_times_;
  int64_t content_bytes_ = 0;
  bool ended_in_padding_ = false;
};

}  // namespace crius::image::store_internal
