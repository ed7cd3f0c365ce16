#include "test/support/image_builder.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"
#include "image/digest.h"
#include "image/media_types.h"
#include "nlohmann/json.hpp"

namespace crius::testing {
namespace {

using image::Sha256Digest;

// A fixed timestamp keeps builds reproducible (same input, same digests).
constexpr time_t kMtime = 1700000000;
constexpr const char* kCreated = "2023-11-14T22:13:20Z";

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t AppendToString(archive*, void* client, const void* buf, size_t len) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

absl::Status ArchiveError(archive* a, std::string_view what) {
  const char* msg = archive_error_string(a);
  return absl::InternalError(absl::StrCat("libarchive ", std::string(what), ": ", msg ? msg : "unknown error"));
}

absl::Status OpenToString(archive* a, std::string* out) {
  // Unblocked output: no padding after the end-of-archive marker or after a
  // compressed stream, which some decoders would reject.
  archive_write_set_bytes_per_block(a, 0);
  if (archive_write_open(a, out, nullptr, &AppendToString, nullptr) != ARCHIVE_OK) {
    return ArchiveError(a, "open");
  }
  return absl::OkStatus();
}

std::string LayerMediaType(Compression c, bool docker) {
  if (docker) {
    return c == Compression::kNone ? "application/vnd.docker.image.rootfs.diff.tar"
                                   : std::string(image::kDockerLayerGzip);
  }
  switch (c) {
    case Compression::kNone: return std::string(image::kOciLayer);
    case Compression::kGzip: return std::string(image::kOciLayerGzip);
    case Compression::kZstd: return std::string(image::kOciLayerZstd);
  }
  return "";
}

Blob MakeBlob(std::string media_type, std::string data) {
  Blob b;
  b.media_type = std::move(media_type);
  b.digest = Sha256Digest(data);
  b.data = std::move(data);
  return b;
}

nlohmann::json DescriptorJson(const Blob& b) {
  return {{"mediaType", b.media_type}, {"digest", b.digest}, {"size", b.size()}};
}

}  // namespace

TarEntry TarEntry::File(std::string path, std::string content, mode_t mode) {
  TarEntry e;
  e.type = Type::kFile;
  e.path = std::move(path);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}
TarEntry TarEntry::Dir(std::string path, mode_t mode) {
  TarEntry e;
  e.type = Type::kDir;
  e.path = std::move(path);
  e.mode = mode;
  return e;
}
TarEntry TarEntry::Symlink(std::string path, std::string target) {
  TarEntry e;
  e.type = Type::kSymlink;
  e.path = std::move(path);
  e.target = std::move(target);
  e.mode = 0777;
  return e;
}
TarEntry TarEntry::Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.type = Type::kHardlink;
  e.path = std::move(path);
  e.target = std::move(target);
  return e;
}
TarEntry TarEntry::Whiteout(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return File(dir + ".wh." + name, "", 0644);
}
TarEntry TarEntry::OpaqueDir(const std::string& dir) {
  std::string d = dir;
  if (!d.empty() && d.back() != '/') d.push_back('/');
  return File(d + ".wh..wh..opq", "", 0644);
}

absl::StatusOr<std::string> BuildTar(const std::vector<TarEntry>& entries) {
  std::unique_ptr<archive, ArchiveFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  std::string out;
  RETURN_IF_ERROR(OpenToString(a.get(), &out));
  for (const TarEntry& e : entries) {
    std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), e.path.c_str());
    archive_entry_set_uid(entry.get(), e.uid);
    archive_entry_set_gid(entry.get(), e.gid);
    archive_entry_set_mtime(entry.get(), kMtime, 0);
    archive_entry_set_perm(entry.get(), e.mode);
    switch (e.type) {
      case TarEntry::Type::kFile:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.content.size()));
        break;
      case TarEntry::Type::kDir:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        break;
      case TarEntry::Type::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_symlink(entry.get(), e.target.c_str());
        break;
      case TarEntry::Type::kHardlink:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_hardlink(entry.get(), e.target.c_str());
        archive_entry_set_size(entry.get(), 0);
        break;
    }
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "header " + e.path);
    if (e.type == TarEntry::Type::kFile && !e.content.empty() &&
        archive_write_data(a.get(), e.content.data(), e.content.size()) < 0) {
      return ArchiveError(a.get(), "data " + e.path);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "close");
  return out;
}

absl::StatusOr<std::string> Compress(const std::string& data, Compression c) {
  if (c == Compression::kNone) return data;
  std::unique_ptr<archive, ArchiveFree> a(archive_write_new());
  archive_write_set_format_raw(a.get());
  if (c == Compression::kGzip) {
    if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "gzip");
    // No timestamp in the gzip header, so identical input gives identical blobs.
    archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);
  } else if (archive_write_add_filter_zstd(a.get()) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "zstd");
  }
  std::string out;
  RETURN_IF_ERROR(OpenToString(a.get(), &out));
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), "layer.tar");
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(data.size()));
  if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "raw header");
  if (archive_write_data(a.get(), data.data(), data.size()) < 0) return ArchiveError(a.get(), "raw data");
  if (archive_write_close(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "close");
  return out;
}

absl::StatusOr<std::vector<TarEntry>> BusyboxRootfs() {
  ASSIGN_OR_RETURN(std::string busybox, ReadFile("/bin/busybox"));
  std::vector<TarEntry> e = {
      TarEntry::Dir("bin"),  TarEntry::Dir("etc"),  TarEntry::Dir("tmp", 01777), TarEntry::Dir("root", 0700),
      TarEntry::Dir("home"), TarEntry::Dir("home/app"), TarEntry::Dir("proc"), TarEntry::Dir("sys"),
      TarEntry::Dir("dev"),  TarEntry::Dir("var"),  TarEntry::Dir("usr"),
      TarEntry::File("bin/busybox", std::move(busybox), 0755),
  };
  e.back().mode = 0755;
  e[5].uid = 1000;
  e[5].gid = 1000;
  for (const char* applet :
       {"sh", "ash", "echo", "cat", "sleep", "ls", "id", "env", "true", "false", "touch", "mkdir", "rm",
        "ps", "grep", "hostname", "wc", "head", "tail", "printf", "test", "[", "kill", "date", "stat",
        "readlink", "chmod", "cp", "mv", "ln", "pwd", "uname", "whoami", "nc", "wget", "dd", "sync",
        "mount", "df", "du", "find", "sed", "awk", "seq", "yes", "top", "nproc", "tee", "trap", "pidof"}) {
    e.push_back(TarEntry::Symlink(absl::StrCat("bin/", applet), "busybox"));
  }
  e.push_back(TarEntry::File("etc/passwd",
                             "root:x:0:0:root:/root:/bin/sh\n"
                             "app:x:1000:1000:app:/home/app:/bin/sh\n"
                             "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"));
  e.push_back(TarEntry::File("etc/group", "root:x:0:\napp:x:1000:\nnobody:x:65534:\n"));
  return e;
}

ImageBuilder& ImageBuilder::AddLayer(std::vector<TarEntry> entries, Compression c) {
  layers_.emplace_back(std::move(entries), c);
  return *this;
}
ImageBuilder& ImageBuilder::Entrypoint(std::vector<std::string> v) { entrypoint_ = std::move(v); return *this; }
ImageBuilder& ImageBuilder::Cmd(std::vector<std::string> v) { cmd_ = std::move(v); return *this; }
ImageBuilder& ImageBuilder::Env(std::vector<std::string> v) { env_ = std::move(v); return *this; }
ImageBuilder& ImageBuilder::User(std::string v) { user_ = std::move(v); return *this; }
ImageBuilder& ImageBuilder::WorkingDir(std::string v) { working_dir_ = std::move(v); return *this; }
ImageBuilder& ImageBuilder::StopSignal(std::string v) { stop_signal_ = std::move(v); return *this; }
ImageBuilder& ImageBuilder::Label(std::string key, std::string value) {
  labels_.emplace_back(std::move(key), std::move(value));
  return *this;
}
ImageBuilder& ImageBuilder::Platform(std::string os, std::string architecture, std::string variant) {
  os_ = std::move(os);
  architecture_ = std::move(architecture);
  variant_ = std::move(variant);
  return *this;
}
ImageBuilder& ImageBuilder::DockerSchema2(bool on) { docker_ = on; return *this; }
ImageBuilder& ImageBuilder::TopLayerTarEnd(TarEnd end) {
  top_tar_end_ = end;
  return *this;
}

absl::StatusOr<BuiltImage> ImageBuilder::Build() const {
  BuiltImage img;
  img.os = os_;
  img.architecture = architecture_;
  img.variant = variant_;
  nlohmann::json history = nlohmann::json::array();
  for (const auto& [entries, compression] : layers_) {
    if (docker_ && compression == Compression::kZstd) {
      return absl::InvalidArgumentError("Docker schema 2 has no zstd layers");
    }
    ASSIGN_OR_RETURN(std::string tar, BuildTar(entries));
    if (top_tar_end_ != TarEnd::kComplete && &entries == &layers_.back().first) {
      const size_t data_end = tar.find_last_not_of('\0') + 1;
      tar.resize(top_tar_end_ == TarEnd::kAfterLastData ? data_end : data_end - 10);
    }
    img.diff_ids.push_back(Sha256Digest(tar));
    ASSIGN_OR_RETURN(std::string blob, Compress(tar, compression));
    img.layers.push_back(MakeBlob(LayerMediaType(compression, docker_), std::move(blob)));
    history.push_back({{"created", kCreated}, {"created_by", "crius test image builder"}});
  }
  nlohmann::json config = nlohmann::json::object();
  config["Env"] = env_;
  if (!entrypoint_.empty()) config["Entrypoint"] = entrypoint_;
  if (!cmd_.empty()) config["Cmd"] = cmd_;
  if (!user_.empty()) config["User"] = user_;
  if (!working_dir_.empty()) config["WorkingDir"] = working_dir_;
  if (!stop_signal_.empty()) config["StopSignal"] = stop_signal_;
  if (!labels_.empty()) {
    for (const auto& [k, v] : labels_) config["Labels"][k] = v;
  }
  nlohmann::json cfg = {{"created", kCreated},
                        {"architecture", architecture_},
                        {"os", os_},
                        {"config", config},
                        {"rootfs", {{"type", "layers"}, {"diff_ids", img.diff_ids}}},
                        {"history", history}};
  if (!variant_.empty()) cfg["variant"] = variant_;
  img.config = MakeBlob(std::string(docker_ ? image::kDockerConfig : image::kOciConfig), cfg.dump());

  const std::string manifest_type(docker_ ? image::kDockerManifest : image::kOciManifest);
  nlohmann::json layers = nlohmann::json::array();
  for (const Blob& l : img.layers) layers.push_back(DescriptorJson(l));
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", manifest_type},
                             {"config", DescriptorJson(img.config)},
                             {"layers", layers}};
  img.manifest = MakeBlob(manifest_type, manifest.dump());
  return img;
}

absl::StatusOr<BuiltIndex> ImageBuilder::BuildIndex(std::vector<BuiltImage> images, bool docker_list) {
  const std::string index_type(docker_list ? image::kDockerManifestList : image::kOciIndex);
  nlohmann::json manifests = nlohmann::json::array();
  for (const BuiltImage& img : images) {
    nlohmann::json d = DescriptorJson(img.manifest);
    d["platform"] = {{"os", img.os}, {"architecture", img.architecture}};
    if (!img.variant.empty()) d["platform"]["variant"] = img.variant;
    manifests.push_back(d);
  }
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", index_type}, {"manifests", manifests}};
  BuiltIndex out;
  out.index = MakeBlob(index_type, index.dump());
  out.images = std::move(images);
  return out;
}

}  // namespace crius::testing
