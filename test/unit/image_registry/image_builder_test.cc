// The image builder's layers hold exactly the entries asked for, hostile
// ones included, in every compression; builds are reproducible.
#include "test/support/image_builder.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "gtest/gtest.h"
#include "image/digest.h"
#include "nlohmann/json.hpp"

namespace crius::testing {
namespace {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

struct Member {
  std::string path;
  std::string hardlink;
  std::string symlink;
  std::string content;
};

std::vector<Member> ReadLayer(const std::string& blob) {
  std::unique_ptr<archive, ReadFree> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  EXPECT_EQ(archive_read_open_memory(a.get(), blob.data(), blob.size()), ARCHIVE_OK);
  std::vector<Member> out;
  archive_entry* e = nullptr;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    Member m;
    m.path = archive_entry_pathname(e);
    if (const char* h = archive_entry_hardlink(e)) m.hardlink = h;
    if (const char* s = archive_entry_symlink(e)) m.symlink = s;
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof(buf))) > 0) m.content.append(buf, static_cast<size_t>(n));
    out.push_back(m);
  }
  return out;
}

TEST(ImageBuilder, LayersKeepCraftedAndHostileEntries) {
  const std::vector<TarEntry> entries = {
      TarEntry::Dir("etc"),          TarEntry::File("etc/a", "A"),        TarEntry::Hardlink("etc/b", "etc/a"),
      TarEntry::Symlink("etc/c", "/etc/a"), TarEntry::Whiteout("etc/gone"), TarEntry::OpaqueDir("var/lib"),
      TarEntry::File("../escape", "x"), TarEntry::File("/abs/file", "y"),
  };
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    absl::StatusOr<BuiltImage> img = ImageBuilder().AddLayer(entries, c).Build();
    ASSERT_TRUE(img.ok()) << img.status();
    std::vector<Member> members = ReadLayer(img->layers[0].data);
    ASSERT_EQ(members.size(), entries.size());
    EXPECT_EQ(members[1].content, "A");
    EXPECT_EQ(members[2].hardlink, "etc/a");
    EXPECT_EQ(members[3].symlink, "/etc/a");
    EXPECT_EQ(members[4].path, "etc/.wh.gone");
    EXPECT_EQ(members[5].path, "var/lib/.wh..wh..opq");
    EXPECT_EQ(members[6].path, "../escape");
    EXPECT_EQ(members[7].path, "/abs/file");
    // diff_id is the digest of the uncompressed tar.
    absl::StatusOr<std::string> tar = BuildTar(entries);
    ASSERT_TRUE(tar.ok());
    EXPECT_EQ(img->diff_ids[0], image::Sha256Digest(*tar));
  }
}

TEST(ImageBuilder, BuildsAreReproducibleAndConfigIsComplete) {
  auto build = [] {
    return ImageBuilder()
        .AddLayer({TarEntry::File("f", "data")})
        .Entrypoint({"/bin/sh"})
        .Cmd({"-c", "true"})
        .User("app")
        .WorkingDir("/w")
        .StopSignal("SIGTERM")
        .Label("k", "v")
        .Build();
  };
  absl::StatusOr<BuiltImage> a = build(), b = build();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->manifest.digest, b->manifest.digest);
  nlohmann::json cfg = nlohmann::json::parse(a->config.data);
  EXPECT_EQ(cfg["config"]["Entrypoint"][0], "/bin/sh");
  EXPECT_EQ(cfg["config"]["WorkingDir"], "/w");
  EXPECT_EQ(cfg["config"]["Labels"]["k"], "v");
  EXPECT_EQ(cfg["rootfs"]["diff_ids"][0], a->diff_ids[0]);
  nlohmann::json m = nlohmann::json::parse(a->manifest.data);
  EXPECT_EQ(m["config"]["digest"], a->config.digest);
  EXPECT_EQ(m["layers"][0]["size"], a->layers[0].size());
}

TEST(ImageBuilder, BusyboxRootfsHasAShell) {
  absl::StatusOr<std::vector<TarEntry>> rootfs = BusyboxRootfs();
  ASSERT_TRUE(rootfs.ok()) << rootfs.status();
  bool sh = false, passwd = false;
  for (const TarEntry& e : *rootfs) {
    sh |= e.path == "bin/sh" && e.type == TarEntry::Type::kSymlink && e.target == "busybox";
    passwd |= e.path == "etc/passwd";
  }
  EXPECT_TRUE(sh);
  EXPECT_TRUE(passwd);
}

}  // namespace
}  // namespace crius::testing
