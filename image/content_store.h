#pragma once
// ContentStore: the content-addressed blob store (manifests, configs,
// compressed layers) under <root>/content:
//
//   blobs/<algorithm>/<hex>   committed blobs; the name IS the content's hash
//   ingest/<random>           blobs being written; never read by anyone else
//
// A blob appears under blobs/ only after its bytes were hashed while being
// written and matched the digest (and size) that named it, so everything a
// reader finds there is trusted. Ingests of the same digest may run at once
// (two pulls sharing a base layer): each writes its own temp file, and the
// second commit finds the blob already present and drops its copy.
//
// Thread-safe: the store itself holds no mutable state beyond the disk.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "image/digest.h"

namespace crius::image {

// One blob being written. Feed it with Write, then Commit; destroying it
// without a successful Commit removes the temp file. Not thread-safe.
class IngestWriter {
 public:
  IngestWriter(const IngestWriter&) = delete;
  IngestWriter& operator=(const IngestWriter&) = delete;
  ~IngestWriter();

  // Appends bytes. Fails with DataLoss as soon as more bytes arrive than
  // the expected size, so a hostile server cannot fill the disk.
  absl::Status Write(std::string_view data);
  int64_t written() const { return written_; }

  // Checks size and digest, fsyncs, and moves the blob into place. On a
  // mismatch (DataLoss) nothing is kept. Already present: OK.
  absl::Status Commit();
  // Drops what was written. Idempotent; also done by the destructor.
  void Abort();

 private:
  friend class ContentStore;
  IngestWriter(std::string digest, int64_t expected_size, std::string temp_path,
               std::string final_path, UniqueFd fd, Digester hasher);

  std::string digest_;
  int64_t expected_size_;
  std::string temp_path_;
  std::string final_path_;
  UniqueFd fd_;
  Digester hasher_;
  int64_t written_ = 0;
  bool done_ = false;
};

class ContentStore {
 public:
  // Creates <root>/content/{blobs,ingest} as needed and removes ingest
  // leftovers of a previous run (this process is their only writer).
  static absl::StatusOr<std::unique_ptr<ContentStore>> Open(const std::string& root);

  // Whether a committed blob exists. False for an invalid digest.
  bool Has(std::string_view digest) const;
  // Where the blob is (or would be). InvalidArgument for an invalid digest.
  absl::StatusOr<std::string> Path(std::string_view digest) const;
  // NotFound when absent.
  absl::StatusOr<int64_t> Size(std::string_view digest) const;

  // Starts writing the blob named `digest`. `expected_size` < 0: unknown
  // (then only the digest is checked).
  absl::StatusOr<std::unique_ptr<IngestWriter>> Ingest(std::string_view digest,
                                                       int64_t expected_size);
  // Ingest + Write + Commit for small in-memory blobs (manifests, configs).
  absl::Status Put(std::string_view digest, std::string_view data);

  // Reads a whole blob; ResourceExhausted past `max_bytes`. The bytes were
  // verified when committed.
  absl::StatusOr<std::string> Read(std::string_view digest,
                                   size_t max_bytes = size_t{4} << 20) const;

  // Removes a blob. Absent: OK (GC may race a failed pull's cleanup).
  absl::Status Delete(std::string_view digest);
  // Every committed blob's digest, sorted.
  absl::StatusOr<std::vector<std::string>> List() const;
  // Sum of committed blob sizes (for ImageFsInfo).
  absl::StatusOr<int64_t> TotalSize() const;

  const std::string& root() const { return root_; }

 private:
  explicit ContentStore(std::string root);
  std::string BlobPath(std::string_view digest) const;

  std::string root_;  // <root>/content
};

}  // namespace crius::image
