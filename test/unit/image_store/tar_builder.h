#pragma once
// TarBuilder: builds layer tarballs in memory with libarchive, so image
// store tests can feed the unpacker exactly the members (and the hostile
// names) they want, plain or compressed.

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace crius::testing {

enum class Compression { kNone, kGzip, kZstd, kBzip2 };

struct TarMember {
  std::string path = {};
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t mtime = 1'600'000'000;
  std::string data = {};      // regular files
  std::string link = {};      // symlink target
  std::string hardlink = {};  // hard link target (type ignored)
  unsigned major = 0, minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs = {};
};

class TarBuilder {
 public:
  TarBuilder& Add(TarMember m) {
    members_.push_back(std::move(m));
    return *this;
  }
  TarBuilder& Dir(std::string path, mode_t perm = 0755) {
    return Add({.path = std::move(path), .type = AE_IFDIR, .perm = perm});
  }
  TarBuilder& File(std::string path, std::string data, mode_t perm = 0644) {
    return Add({.path = std::move(path), .perm = perm, .data = std::move(data)});
  }
  TarBuilder& Symlink(std::string path, std::string target) {
    return Add(
        {.path = std::move(path), .type = AE_IFLNK, .perm = 0777, .link = std::move(target)});
  }
  TarBuilder& Hardlink(std::string path, std::string target) {
    return Add({.path = std::move(path), .hardlink = std::move(target)});
  }

  // The uncompressed tar stream (pax format).
  std::string Tar() const {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    Open(a, &out);
    for (const TarMember& m : members_) {
      struct archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, m.path.c_str());
      archive_entry_set_uid(e, m.uid);
      archive_entry_set_gid(e, m.gid);
      archive_entry_set_mtime(e, m.mtime, 0);
      archive_entry_set_perm(e, m.perm);
      for (const auto& [k, v] : m.xattrs)
        archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
      if (!m.hardlink.empty()) {
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, m.hardlink.c_str());
        archive_entry_set_size(e, 0);
      } else {
        archive_entry_set_filetype(e, m.type);
        if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
        if (m.type == AE_IFCHR || m.type == AE_IFBLK) {
          archive_entry_set_rdevmajor(e, m.major);
          archive_entry_set_rdevminor(e, m.minor);
        }
        archive_entry_set_size(e, m.type == AE_IFREG ? static_cast<int64_t>(m.data.size()) : 0);
      }
      EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
      if (m.hardlink.empty() && m.type == AE_IFREG && !m.data.empty()) {
        EXPECT_EQ(archive_write_data(a, m.data.data(), m.data.size()),
                  static_cast<la_ssize_t>(m.data.size()));
      }
      archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
  }

  // `data` compressed as a whole stream, as registries serve layer blobs.
  static std::string Compress(const std::string& data, Compression c) {
    if (c == Compression::kNone) return data;
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    if (c == Compression::kGzip) archive_write_add_filter_gzip(a);
    if (c == Compression::kZstd) archive_write_add_filter_zstd(a);
    if (c == Compression::kBzip2) archive_write_add_filter_bzip2(a);
    archive_write_set_bytes_in_last_block(a, 1);
    Open(a, &out);
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "layer.tar");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, static_cast<int64_t>(data.size()));
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_data(a, data.data(), data.size()),
              static_cast<la_ssize_t>(data.size()));
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return out;
  }

  std::string Build(Compression c) const { return Compress(Tar(), c); }

 private:
  static la_ssize_t Append(struct archive*, void* client, const void* buf, size_t n) {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  static void Open(struct archive* a, std::string* out) {
    EXPECT_EQ(archive_write_open(a, out, nullptr, Append, nullptr), ARCHIVE_OK)
        << archive_error_string(a);
  }

  std::vector<TarMember> members_;
};

}  // namespace crius::testing
