#pragma once
// Unpacking one image layer (a tar, plain or gzip/zstd compressed) into a
// directory overlayfs can stack as a lower layer.
//
// What the directory holds afterwards:
//   - every member with its numeric uid/gid, mode (setuid/setgid/sticky
//     included), mtime, xattrs; hard links, symlinks, device nodes, fifos;
//   - OCI whiteouts ".wh.<name>" turned into overlay whiteouts: a 0/0
//     character device called <name>;
//   - the opaque marker ".wh..wh..opq" turned into the xattr
//     trusted.overlay.opaque=y on its directory.
//
// The archive is treated as hostile:
//   - absolute member names are taken relative to the layer ("/etc/x" is
//     <dir>/etc/x), like docker and containerd do;
//   - a ".." component in a member name or hard link target fails the whole
//     unpack (InvalidArgument);
//   - symlinks among a member's parent directories are resolved as if the
//     layer were the root filesystem (openat2 RESOLVE_IN_ROOT), so
//     "link -> /tmp" followed by "link/x" writes <dir>/tmp/x, never /tmp/x;
//   - hard links can only name files already inside the layer;
//   - overlayfs control xattrs (trusted.overlay.*, user.overlay.*) carried
//     by the archive are dropped;
//   - the uncompressed stream and the member count are capped.
// On error the directory is left partially written: callers unpack into a
// scratch directory and discard it (LayerStore does).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace crius::image {

struct UnpackLimits {
  // Bytes of the uncompressed tar stream (a decompression bomb stops here).
  int64_t max_tar_bytes = int64_t{64} << 30;
  int64_t max_entries = 4'000'000;
};

struct UnpackResult {
  // "sha256:<hex>" of the uncompressed tar stream, the layer's DiffID as
  // the image config's rootfs.diff_ids lists it.
  std::string diff_id;
  // Bytes of regular file content (each hard-linked file once).
  int64_t size = 0;
  // Members read from the archive.
  int64_t entries = 0;
};

// Unpacks the layer blob at `blob_path` into the existing directory `dir`.
// The compression (none, gzip, zstd) is detected from the content; anything
// else is InvalidArgument. Corrupt data is DataLoss; a limit is
// ResourceExhausted.
absl::StatusOr<UnpackResult> UnpackLayer(const std::string& blob_path, const std::string& dir,
                                         const UnpackLimits& limits = {});

}  // namespace crius::image
