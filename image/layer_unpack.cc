#include "image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "image/digest.h"
#include "image/layer_apply.h"

namespace crius::image {
namespace {

using store_internal::LayerWriter;

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

std::string ArchiveError(struct archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown error";
}

// The layer is read through two archive readers. The outer one only
// decompresses (format "raw"); every byte it yields is hashed for the
// DiffID and then handed to the inner one, which parses tar. One pass over
// the blob gives both the files and the DiffID of exactly the bytes parsed.
struct TarStream {
  struct archive* outer = nullptr;
  Sha256 hasher;
  std::vector<char> buffer = std::vector<char>(size_t{256} << 10);
  int64_t total = 0;
  int64_t max_total = 0;
  absl::Status error;
  bool eof = false;
  // The last bytes of the stream, enough to hold a missing end of archive
  // (up to 511 bytes of padding and the two 512-byte zero blocks).
  std::string tail;
  static constexpr size_t kTailKeep = 2048;

  // One chunk of uncompressed bytes; 0 at the end, -1 on error.
  la_ssize_t Next() {
    la_ssize_t n = archive_read_data(outer, buffer.data(), buffer.size());
    if (n < 0) {
      error = absl::DataLossError(absl::StrCat("decompress layer: ", ArchiveError(outer)));
      return -1;
    }
    total += n;
    if (total > max_total) {
      error = absl::ResourceExhaustedError(
          absl::StrCat("layer is larger than ", max_total, " bytes uncompressed"));
      return -1;
    }
    if (n == 0) eof = true;
    const std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    hasher.Update(chunk);
    if (chunk.size() >= kTailKeep) {
      tail.assign(chunk.substr(chunk.size() - kTailKeep));
    } else {
      tail.append(chunk);
      if (tail.size() > kTailKeep) tail.erase(0, tail.size() - kTailKeep);
    }
    return n;
  }
};

la_ssize_t ReadTar(struct archive* inner, void* client, const void** out) {
  auto* stream = static_cast<TarStream*>(client);
  la_ssize_t n = stream->Next();
  if (n < 0) {
    archive_set_error(inner, EIO, "%s", std::string(stream->error.message()).c_str());
    return -1;
  }
  *out = stream->buffer.data();
  return n;
}

absl::StatusOr<ArchivePtr> OpenOuter(int fd) {
  ArchivePtr a(archive_read_new());
  if (!a) return absl::ResourceExhaustedError("archive_read_new failed");
  // Only the compressions OCI layers use. ARCHIVE_WARN would mean libarchive
  // falls back to running an external program; refuse that.
  if (archive_read_support_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(a.get()) != ARCHIVE_OK ||
      archive_read_support_format_raw(a.get()) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat("set up layer reader: ", ArchiveError(a.get())));
  }
  if (archive_read_open_fd(a.get(), fd, size_t{1} << 20) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("open layer: ", ArchiveError(a.get())));
  }
  struct archive_entry* entry = nullptr;
  if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("open layer: ", ArchiveError(a.get())));
  }
  return a;
}

// Whether a tar reader that failed at a header did so only because the
// stream ends right after the previous member's data, with none or part of
// the padding and the two zero blocks that close an archive (umoci 0.4.7
// writes such layers; containerd's Go reader accepts them). The reader has
// consumed exactly up to the end of that data (or its padding), so
// everything after it must be zeros and shorter than what was missing. A
// stream cut inside a member's data never gets here (reading the data
// failed), and one cut inside a header fails this check (a header is not
// zeros).
bool EndsWithoutTrailer(struct archive* inner, const TarStream& stream, int64_t entries) {
  if (!stream.eof || !stream.error.ok() || entries == 0) return false;
  const int64_t consumed = archive_filter_bytes(inner, 0);
  const int64_t rest = stream.total - consumed;
  if (consumed <= 0 || rest < 0 || rest >= 511 + 1024 || rest > static_cast<int64_t>(stream.tail.size())) {
    return false;
  }
  const std::string_view after = std::string_view(stream.tail).substr(stream.tail.size() - rest);
  return after.find_first_not_of('\0') == std::string_view::npos;
}

absl::Status ReadMembers(struct archive* inner, TarStream& stream, LayerWriter& writer,
                         const UnpackLimits& limits, UnpackResult& result) {
  for (;;) {
    struct archive_entry* entry = nullptr;
    int rc = archive_read_next_header(inner, &entry);
    if (rc == ARCHIVE_EOF) return absl::OkStatus();
    if (!stream.error.ok()) return stream.error;
    // ARCHIVE_WARN covers recoverable oddities (an unknown pax keyword, a
    // name that needs charset conversion); the entry itself is usable.
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      if (EndsWithoutTrailer(inner, stream, result.entries)) return absl::OkStatus();
      return absl::DataLossError(
          absl::StrCat("read layer member ", result.entries, ": ", ArchiveError(inner)));
    }
    if (++result.entries > limits.max_entries) {
      return absl::ResourceExhaustedError(
          absl::StrCat("layer has more than ", limits.max_entries, " members"));
    }
    absl::Status s = writer.Apply(inner, entry);
    if (!stream.error.ok()) return stream.error;
    RETURN_IF_ERROR(s);
    if (writer.ended_in_padding()) {
      // Complete data, then the stream ran out inside its padding: fine if
      // it truly ended there with zeros, which is all a reader can check.
      if (EndsWithoutTrailer(inner, stream, result.entries)) return absl::OkStatus();
      return absl::DataLossError(
          absl::StrCat("layer member ", result.entries, ": stream ends inside the padding after its data"));
    }
  }
}

}  // namespace

absl::StatusOr<UnpackResult> UnpackLayer(const std::string& blob_path, const std::string& dir,
                                         const UnpackLimits& limits) {
  const std::string context = absl::StrCat("unpack layer ", blob_path);
  UniqueFd fd(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Annotate(ErrnoStatus("open"), context);
  absl::StatusOr<ArchivePtr> outer = OpenOuter(fd.get());
  if (!outer.ok()) return Annotate(outer.status(), context);
  absl::StatusOr<LayerWriter> writer = LayerWriter::Open(dir);
  if (!writer.ok()) return Annotate(writer.status(), context);

  TarStream stream;
  stream.outer = outer->get();
  stream.max_total = limits.max_tar_bytes;
  ArchivePtr inner(archive_read_new());
  if (!inner || archive_read_support_format_tar(inner.get()) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat(context, ": set up tar reader"));
  }
  if (archive_read_open(inner.get(), &stream, nullptr, ReadTar, nullptr) != ARCHIVE_OK) {
    if (!stream.error.ok()) return Annotate(stream.error, context);
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": not a tar archive: ", ArchiveError(inner.get())));
  }
  UnpackResult result;
  RETURN_IF_ERROR(Annotate(ReadMembers(inner.get(), stream, *writer, limits, result), context));
  // The tar reader stops at the end-of-archive blocks; whatever padding
  // follows is still part of the stream the DiffID covers.
  for (;;) {
    la_ssize_t n = stream.Next();
    if (n < 0) return Annotate(stream.error, context);
    if (n == 0) break;
  }
  RETURN_IF_ERROR(Annotate(writer->Finish(), context));
  result.diff_id = stream.hasher.Digest();
  result.size = writer->content_bytes();
  return result;
}

}  // namespace crius::image
