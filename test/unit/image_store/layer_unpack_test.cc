#include "image/layer_unpack.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "image/digest.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/image_store/tar_builder.h"

namespace crius::image {
namespace {

using testing::Compression;
using testing::TarBuilder;
using testing::TarMember;
using testing::TempDir;

std::string GetXattr(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof(buf));
  return n < 0 ? std::string("<none>") : std::string(buf, static_cast<size_t>(n));
}

struct stat Lstat(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class LayerUnpackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (ownership, device nodes)";
    ASSERT_TRUE(MkdirAll(layer_).ok());
  }
  absl::StatusOr<UnpackResult> Unpack(const std::string& blob, const UnpackLimits& limits = {}) {
    std::string path = tmp_.Path("blob");
    EXPECT_TRUE(WriteFileAtomic(path, blob).ok());
    return UnpackLayer(path, layer_, limits);
  }
  std::string L(const std::string& rel) const { return JoinPath(layer_, rel); }

  TempDir tmp_;
  std::string layer_ = tmp_.Path("layer");
};

class LayerUnpackCompressionTest : public LayerUnpackTest,
                                   public ::testing::WithParamInterface<Compression> {};

TEST_P(LayerUnpackCompressionTest, PreservesMetadataAndComputesDiffId) {
  TarBuilder b;
  b.Dir("bin", 0755)
      .Add({.path = "bin/su", .perm = 04755, .uid = 0, .gid = 0, .data = "setuid"})
      .Add({.path = "home/app/",
            .type = AE_IFDIR,
            .perm = 0750,
            .uid = 1000,
            .gid = 1001,
            .mtime = 1'500'000'000})
      .Add({.path = "home/app/data",
            .perm = 0600,
            .uid = 1000,
            .gid = 1001,
            .mtime = 1'234'567'890,
            .data = std::string(300000, 'd'),
            .xattrs = {{"user.origin", "test"}, {"trusted.overlay.redirect", "/etc"}}})
      .Hardlink("home/app/data2", "home/app/data")
      .Symlink("bin/sh", "/bin/busybox")
      .Symlink("lib", "usr/lib")
      .Add({.path = "dev/null", .type = AE_IFCHR, .perm = 0666, .major = 1, .minor = 3})
      .Add({.path = "run/fifo", .type = AE_IFIFO, .perm = 0620, .gid = 5})
      .Add({.path = "tmp", .type = AE_IFDIR, .perm = 01777});
  std::string tar = b.Tar();
  auto r = Unpack(TarBuilder::Compress(tar, GetParam()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->diff_id, Sha256Digest(tar));
  EXPECT_EQ(r->entries, 10);
  EXPECT_EQ(r->size, 6 + 300000);

  struct stat st = Lstat(L("bin/su"));
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  st = Lstat(L("home/app"));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);  // set after its children
  st = Lstat(L("home/app/data"));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_size, 300000);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'234'567'890);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(Lstat(L("home/app/data2")).st_ino, st.st_ino);
  EXPECT_EQ(GetXattr(L("home/app/data"), "user.origin"), "test");
  EXPECT_EQ(GetXattr(L("home/app/data"), "trusted.overlay.redirect"), "<none>");
  EXPECT_EQ(*ReadFile(L("home/app/data")), std::string(300000, 'd'));

  char target[64] = {};
  ASSERT_GT(::readlink(L("bin/sh").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  EXPECT_TRUE(S_ISLNK(Lstat(L("lib")).st_mode));
  st = Lstat(L("dev/null"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  st = Lstat(L("run/fifo"));
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_gid, 5u);
  EXPECT_EQ(Lstat(L("tmp")).st_mode & 07777, 01777u);
}

INSTANTIATE_TEST_SUITE_P(All, LayerUnpackCompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

TEST_F(LayerUnpackTest, ConvertsWhiteoutsToOverlayForm) {
  TarBuilder b;
  b.Dir("etc")
      .Add({.path = "etc/.wh.passwd", .mtime = 7})
      .Dir("var/cache")
      .Add({.path = "var/cache/.wh..wh..opq"})
      .Add({.path = ".wh..wh.plnk"})
      .File("var/cache/new", "n");
  auto r = Unpack(b.Build(Compression::kGzip));
  ASSERT_TRUE(r.ok()) << r.status();
  struct stat st = Lstat(L("etc/passwd"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(GetXattr(L("var/cache"), "trusted.overlay.opaque"), "y");
  EXPECT_EQ(::access(L("var/cache/.wh..wh..opq").c_str(), F_OK), -1);
  EXPECT_EQ(::access(L(".wh..wh.plnk").c_str(), F_OK), -1);
  EXPECT_EQ(::access(L("etc/.wh.passwd").c_str(), F_OK), -1);
}

TEST_F(LayerUnpackTest, AbsoluteNamesLandInsideTheLayer) {
  std::string outside = tmp_.Path("outside");
  TarBuilder b;
  b.File(outside + "/abs", "x").File("/etc/hosts", "h");
  auto r = Unpack(b.Build(Compression::kNone));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(::access(outside.c_str(), F_OK), -1);
  EXPECT_EQ(*ReadFile(L(outside + "/abs")), "x");
  EXPECT_EQ(*ReadFile(L("etc/hosts")), "h");
}

TEST_F(LayerUnpackTest, DotDotIsRejected) {
  TarBuilder b;
  b.File("../escape", "x");
  auto r = Unpack(b.Build(Compression::kNone));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(::access(tmp_.Path("escape").c_str(), F_OK), -1);
  TarBuilder c;
  c.File("a/../../escape2", "x");
  EXPECT_EQ(Unpack(c.Build(Compression::kNone)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(::access(tmp_.Path("escape2").c_str(), F_OK), -1);
}

TEST_F(LayerUnpackTest, SymlinkedParentCannotLeaveTheLayer) {
  // An absolute link to a real directory outside: the member must not be
  // written there. Inside the layer that path does not exist, so the
  // unpack fails.
  std::string outside = tmp_.Path("outside");
  ASSERT_TRUE(MkdirAll(outside).ok());
  TarBuilder b;
  b.Symlink("link", outside).File("link/x", "pwned");
  auto r = Unpack(b.Build(Compression::kNone));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(::access((outside + "/x").c_str(), F_OK), -1);

  // A relative link climbing above the layer is clamped at the layer root.
  ASSERT_TRUE(RemoveAll(layer_).ok());
  ASSERT_TRUE(MkdirAll(layer_).ok());
  TarBuilder c;
  c.Symlink("up", "../../../../../../..")
      .File("up/y", "clamped")
      .Symlink("tmpdir", "/")
      .Dir("tmpdir/sub")
      .File("tmpdir/sub/z", "z");
  r = Unpack(c.Build(Compression::kNone));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*ReadFile(L("y")), "clamped");
  EXPECT_EQ(*ReadFile(L("sub/z")), "z");
  EXPECT_EQ(::access(tmp_.Path("y").c_str(), F_OK), -1);
  EXPECT_EQ(::access("/sub/z", F_OK), -1);
}

TEST_F(LayerUnpackTest, HardLinksMustStayInside) {
  std::string victim = tmp_.Path("victim");
  ASSERT_TRUE(WriteFileAtomic(victim, "secret").ok());
  TarBuilder b;
  b.Dir("a").Dir("a/b").Hardlink("a/b/passwd", "../../etc/passwd");
  EXPECT_EQ(Unpack(b.Build(Compression::kNone)).status().code(),
            absl::StatusCode::kInvalidArgument);
  TarBuilder c;
  c.Hardlink("h", victim);  // absolute: looked up inside the layer, absent
  EXPECT_FALSE(Unpack(c.Build(Compression::kNone)).ok());
  TarBuilder d;
  d.Symlink("out", tmp_.path()).Hardlink("h2", "out/victim");
  EXPECT_FALSE(Unpack(d.Build(Compression::kNone)).ok());
  EXPECT_EQ(Lstat(victim).st_nlink, 1u);
  EXPECT_EQ(*ReadFile(victim), "secret");
}

TEST_F(LayerUnpackTest, FinalSymlinkIsReplacedNotFollowed) {
  std::string victim = tmp_.Path("victim");
  ASSERT_TRUE(WriteFileAtomic(victim, "secret").ok());
  TarBuilder b;
  b.Symlink("passwd", victim).File("passwd", "overwritten?");
  auto r = Unpack(b.Build(Compression::kNone));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*ReadFile(victim), "secret");
  EXPECT_TRUE(S_ISREG(Lstat(L("passwd")).st_mode));
  EXPECT_EQ(*ReadFile(L("passwd")), "overwritten?");
}

TEST_F(LayerUnpackTest, LaterMembersReplaceEarlierOnes) {
  TarBuilder b;
  b.File("x", "file")
      .Dir("x")
      .File("x/inner", "i")
      .Symlink("x", "elsewhere")
      .Dir("d")
      .File("d/keep", "k")
      .Dir("d", 0700);
  auto r = Unpack(b.Build(Compression::kNone));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(S_ISLNK(Lstat(L("x")).st_mode));
  EXPECT_EQ(*ReadFile(L("d/keep")), "k");  // a directory twice merges
  EXPECT_EQ(Lstat(L("d")).st_mode & 07777, 0700u);
}

TEST_F(LayerUnpackTest, RefusesWhatIsNotALayer) {
  EXPECT_FALSE(Unpack("this is not a tar archive at all").ok());
  TarBuilder b;
  b.File("f", "data");
  EXPECT_FALSE(Unpack(b.Build(Compression::kBzip2)).ok());
  std::string gz = b.Build(Compression::kGzip);
  EXPECT_FALSE(Unpack(gz.substr(0, gz.size() / 2)).ok());
}

TEST_F(LayerUnpackTest, EnforcesLimits) {
  TarBuilder b;
  for (int i = 0; i < 20; ++i) b.File("f" + std::to_string(i), std::string(1000, 'x'));
  std::string blob = b.Build(Compression::kGzip);
  EXPECT_EQ(Unpack(blob, {.max_tar_bytes = int64_t{1} << 30, .max_entries = 10}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Unpack(blob, {.max_tar_bytes = 8000, .max_entries = 100}).status().code(),
            absl::StatusCode::kResourceExhausted);
}


// A layer whose tar stream stops right after the last member's data, with
// none (or only part) of the padding and the two zero blocks that end an
// archive, as umoci 0.4.7's `umoci insert` writes them: containerd takes
// such layers, so must crius. The DiffID is of the bytes as they are.
class LayerWithoutTrailerTest : public LayerUnpackTest {
 protected:
  void SetUp() override {
    LayerUnpackTest::SetUp();
    if (IsSkipped()) return;
    TarBuilder b;
    b.File("etc/first", std::string(700, 'y'));
    b.File("etc/last", std::string(100, 'z'));
    tar_ = b.Tar();
    last_data_end_ = tar_.find_last_not_of('\0') + 1;
    first_data_end_ = tar_.rfind('y') + 1;
    ASSERT_GT(tar_.size(), last_data_end_ + 1024) << "the builder wrote no trailer";
  }
  static size_t RoundUp(size_t n) { return (n + 511) / 512 * 512; }

  absl::StatusOr<UnpackResult> UnpackInto(const std::string& name, const std::string& blob) {
    const std::string dir = tmp_.Path(name);
    EXPECT_TRUE(MkdirAll(dir).ok());
    const std::string path = tmp_.Path(name + ".blob");
    EXPECT_TRUE(WriteFileAtomic(path, blob).ok());
    return UnpackLayer(path, dir);
  }

  std::string tar_;
  size_t last_data_end_ = 0;
  size_t first_data_end_ = 0;
};

TEST_F(LayerWithoutTrailerTest, EndingRightAfterTheLastDataUnpacks) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no-padding", tar_.substr(0, last_data_end_)},
      {"padding-only", tar_.substr(0, RoundUp(last_data_end_))},
      {"part-of-the-padding", tar_.substr(0, last_data_end_ + 100)},
      {"one-zero-block", tar_.substr(0, RoundUp(last_data_end_) + 512)},
      {"half-a-zero-block", tar_.substr(0, RoundUp(last_data_end_) + 256)},
  };
  for (const auto& [name, blob] : cases) {
    SCOPED_TRACE(name);
    auto r = UnpackInto(name, blob);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->entries, 2);
    EXPECT_EQ(r->diff_id, Sha256Digest(blob));
    EXPECT_EQ(*ReadFile(tmp_.Path(name + "/etc/first")), std::string(700, 'y'));
    EXPECT_EQ(*ReadFile(tmp_.Path(name + "/etc/last")), std::string(100, 'z'));
  }
  // Compressed the same way.
  auto gz = UnpackInto("gzip", TarBuilder::Compress(tar_.substr(0, last_data_end_), Compression::kGzip));
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(*ReadFile(tmp_.Path("gzip/etc/last")), std::string(100, 'z'));
}

TEST_F(LayerWithoutTrailerTest, AStreamCutInsideDataOrAHeaderIsStillRefused) {
  auto in_last_data = UnpackInto("cut-data", tar_.substr(0, last_data_end_ - 10));
  EXPECT_FALSE(in_last_data.ok());
  auto in_first_data = UnpackInto("cut-first", tar_.substr(0, first_data_end_ - 300));
  EXPECT_FALSE(in_first_data.ok());
  // The second member's header, cut after its first 100 bytes.
  auto in_header = UnpackInto("cut-header", tar_.substr(0, RoundUp(first_data_end_) + 100));
  EXPECT_FALSE(in_header.ok());
  // Cut just after a whole header: the member's data is missing.
  auto after_header = UnpackInto("cut-after-header", tar_.substr(0, RoundUp(first_data_end_) + 512));
  EXPECT_FALSE(after_header.ok());
  auto gz = UnpackInto("cut-gzip", TarBuilder::Compress(tar_.substr(0, last_data_end_ - 10), Compression::kGzip));
  EXPECT_FALSE(gz.ok());
}

}  // namespace
}  // namespace crius::image
