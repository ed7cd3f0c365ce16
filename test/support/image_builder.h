#pragma once
// ImageBuilder: makes OCI (or Docker schema 2) images in memory for tests:
// tar layers from entries written with libarchive (regular files, dirs,
// symlinks, hard links, whiteouts, and deliberately hostile paths), gzip /
// zstd / uncompressed, an image config, a manifest, and indexes over several
// platforms. Push them with RegistryFixture::Push.
//
//   ASSIGN_OR_RETURN(BuiltImage img, ImageBuilder()
//       .AddLayer(BusyboxRootfs())
//       .Cmd({"/bin/sh", "-c", "echo hi"})
//       .Build());

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crius::testing {

struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink };
  Type type = Type::kFile;
  std::string path;     // written as is: "../escape" and "/abs" stay hostile
  std::string content;  // kFile
  std::string target;   // kSymlink / kHardlink
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;

  static TarEntry File(std::string path, std::string content, mode_t mode = 0644);
  static TarEntry Dir(std::string path, mode_t mode = 0755);
  static TarEntry Symlink(std::string path, std::string target);
  static TarEntry Hardlink(std::string path, std::string target);
  // "dir/.wh.name": deletes dir/name from the layers below.
  static TarEntry Whiteout(const std::string& path);
  // "dir/.wh..wh..opq": hides everything below dir from lower layers.
  static TarEntry OpaqueDir(const std::string& dir);
};

enum class Compression { kNone, kGzip, kZstd };

// A blob ready to push: its bytes, digest and media type.
struct Blob {
  std::string media_type;
  std::string digest;
  std::string data;
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

struct BuiltImage {
  Blob manifest;
  Blob config;
  std::vector<Blob> layers;
  std::vector<std::string> diff_ids;  // sha256 of each uncompressed tar
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
};

struct BuiltIndex {
  Blob index;
  std::vector<BuiltImage> images;
};

// A tar stream of `entries` in order (parent dirs are not added by themselves).
absl::StatusOr<std::string> BuildTar(const std::vector<TarEntry>& entries);
absl::StatusOr<std::string> Compress(const std::string& data, Compression c);

// A rootfs from busybox-static: /bin/busybox and applet symlinks (sh, echo,
// cat, sleep, ls, id, env, ...), /etc/passwd and /etc/group (root, nobody,
// and "app" 1000:1000), /tmp (1777), /root, /home/app, /proc, /sys, /dev.
absl::StatusOr<std::vector<TarEntry>> BusyboxRootfs();

class ImageBuilder {
 public:
  ImageBuilder& AddLayer(std::vector<TarEntry> entries, Compression c = Compression::kGzip);
  ImageBuilder& Entrypoint(std::vector<std::string> v);
  ImageBuilder& Cmd(std::vector<std::string> v);
  ImageBuilder& Env(std::vector<std::string> v);
  ImageBuilder& User(std::string v);
  ImageBuilder& WorkingDir(std::string v);
  ImageBuilder& StopSignal(std::string v);
  ImageBuilder& Label(std::string key, std::string value);
  ImageBuilder& Platform(std::string os, std::string architecture, std::string variant = "");
  // Docker schema 2 manifest and config media types instead of OCI's
  // (layers must then be gzip or uncompressed).
  ImageBuilder& DockerSchema2(bool on = true);
  // How the top layer's tar stream ends. kAfterLastData: right after the
  // last member's data, without padding or the two zero blocks (as umoci
  // 0.4.7's `umoci insert` writes layers); kInsideLastData: 10 bytes short
  // of that, a truncated stream. The last member must be a file whose data
  // ends in a non-zero byte. The DiffID is of the bytes as they are.
  enum class TarEnd { kComplete, kAfterLastData, kInsideLastData };
  ImageBuilder& TopLayerTarEnd(TarEnd end);

  absl::StatusOr<BuiltImage> Build() const;

  // An OCI index (or Docker manifest list) over `images`, each with its platform.
  static absl::StatusOr<BuiltIndex> BuildIndex(std::vector<BuiltImage> images, bool docker_list = false);

 private:
  std::vector<std::pair<std::vector<TarEntry>, Compression>> layers_;
  std::vector<std::string> entrypoint_, cmd_, env_ = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  std::string user_, working_dir_, stop_signal_;
  std::vector<std::pair<std::string, std::string>> labels_;
  std::string os_ = "linux", architecture_ = "amd64", variant_;
  bool docker_ = false;
  TarEnd top_tar_end_ = TarEnd::kComplete;
};

}  // namespace crius::testing
