#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius {
namespace {

using ::crius::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::set<std::string> List(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.insert(n);
  }
  ::closedir(d);
  return names;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

TEST(WriteFileAtomicTest, CreatesWithContentAndExactMode) {
  TempDir dir;
  mode_t old_umask = ::umask(077);
  absl::Status s = WriteFileAtomic(dir.Path("f"), "hello", 0644);
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*ReadFile(dir.Path("f")), "hello");
  EXPECT_EQ(ModeOf(dir.Path("f")) & 07777, 0644u);
}

TEST(WriteFileAtomicTest, ReplacesContentAndLeavesNoTempFiles) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("state.json"), "a much longer first version").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("state.json"), "v2", 0600).ok());
  EXPECT_EQ(*ReadFile(dir.Path("state.json")), "v2");
  EXPECT_EQ(ModeOf(dir.Path("state.json")) & 07777, 0600u);
  EXPECT_THAT(List(dir.path()), ElementsAre("state.json"));
}

TEST(WriteFileAtomicTest, WritesEmptyAndBinaryData) {
  TempDir dir;
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(WriteFileAtomic(dir.Path("bin"), binary).ok());
  EXPECT_EQ(*ReadFile(dir.Path("bin")), binary);
  ASSERT_TRUE(WriteFileAtomic(dir.Path("bin"), "").ok());
  EXPECT_EQ(*ReadFile(dir.Path("bin")), "");
}

TEST(WriteFileAtomicTest, MissingDirectoryFailsCleanly) {
  TempDir dir;
  absl::Status s = WriteFileAtomic(dir.Path("missing/f"), "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr(dir.Path("missing")));
  EXPECT_TRUE(List(dir.path()).empty());
}

TEST(WriteFileAtomicTest, FailedRenameRemovesTheTempFile) {
  TempDir dir;
  // A non-empty directory where the file should go makes rename() fail
  // after the temp file was fully written.
  ASSERT_TRUE(MkdirAll(dir.Path("target/sub")).ok());
  absl::Status s = WriteFileAtomic(dir.Path("target"), "x");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("rename"));
  EXPECT_THAT(List(dir.path()), ElementsAre("target"));
  EXPECT_TRUE(S_ISDIR(ModeOf(dir.Path("target"))));
}

TEST(ReadFileTest, MissingFileIsNotFound) {
  TempDir dir;
  absl::StatusOr<std::string> r = ReadFile(dir.Path("nope"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr(dir.Path("nope")));
}

TEST(ReadFileTest, EnforcesTheCap) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("f"), std::string(100, 'x')).ok());
  EXPECT_EQ(ReadFile(dir.Path("f"), 100)->size(), 100u);
  absl::StatusOr<std::string> r = ReadFile(dir.Path("f"), 99);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ReadFileTest, ReadsLargeFilesAndProcFiles) {
  TempDir dir;
  std::string big(1 << 20, 'z');
  big[12345] = 'q';
  ASSERT_TRUE(WriteFileAtomic(dir.Path("big"), big).ok());
  EXPECT_EQ(*ReadFile(dir.Path("big")), big);
  // /proc files report size 0; the content must still come through.
  absl::StatusOr<std::string> status = ReadFile("/proc/self/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_THAT(*status, HasSubstr("Pid:"));
}

TEST(MkdirAllTest, CreatesNestedAndToleratesExisting) {
  TempDir dir;
  ASSERT_TRUE(MkdirAll(dir.Path("a/b/c"), 0700).ok());
  EXPECT_TRUE(S_ISDIR(ModeOf(dir.Path("a/b/c"))));
  EXPECT_TRUE(MkdirAll(dir.Path("a/b/c")).ok());
  EXPECT_TRUE(MkdirAll(dir.Path("a/b/c/")).ok());
}

TEST(MkdirAllTest, FileInTheWayIsFailedPrecondition) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("file"), "").ok());
  absl::Status s = MkdirAll(dir.Path("file/sub"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("not a directory"));
}

TEST(MkdirAllTest, FollowsSymlinkToDirectory) {
  TempDir dir;
  ASSERT_TRUE(MkdirAll(dir.Path("real")).ok());
  ASSERT_EQ(::symlink(dir.Path("real").c_str(), dir.Path("link").c_str()), 0);
  ASSERT_TRUE(MkdirAll(dir.Path("link/x")).ok());
  EXPECT_TRUE(S_ISDIR(ModeOf(dir.Path("real/x"))));
}

TEST(RemoveAllTest, RemovesTreeButNeverFollowsSymlinks) {
  TempDir dir;
  ASSERT_TRUE(MkdirAll(dir.Path("outside")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("outside/keep"), "k").ok());
  ASSERT_TRUE(MkdirAll(dir.Path("tree/a/b")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("tree/a/b/f"), "x").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("tree/top"), "x").ok());
  ASSERT_EQ(::symlink(dir.Path("outside").c_str(), dir.Path("tree/a/link").c_str()), 0);
  ASSERT_EQ(::symlink("/nonexistent", dir.Path("tree/dangling").c_str()), 0);

  ASSERT_TRUE(RemoveAll(dir.Path("tree")).ok());
  EXPECT_THAT(List(dir.path()), ElementsAre("outside"));
  EXPECT_EQ(*ReadFile(dir.Path("outside/keep")), "k");
}

TEST(RemoveAllTest, SymlinkAtTheTopIsRemovedNotFollowed) {
  TempDir dir;
  ASSERT_TRUE(MkdirAll(dir.Path("real/inner")).ok());
  ASSERT_EQ(::symlink(dir.Path("real").c_str(), dir.Path("link").c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir.Path("link")).ok());
  EXPECT_THAT(List(dir.path()), ElementsAre("real"));
  EXPECT_THAT(List(dir.Path("real")), ElementsAre("inner"));
}

TEST(RemoveAllTest, MissingPathAndPlainFile) {
  TempDir dir;
  EXPECT_TRUE(RemoveAll(dir.Path("nothing/here")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.Path("f"), "x").ok());
  EXPECT_TRUE(RemoveAll(dir.Path("f")).ok());
  EXPECT_TRUE(List(dir.path()).empty());
  EXPECT_EQ(RemoveAll("").code(), absl::StatusCode::kInvalidArgument);
}

TEST(JoinPathTest, JoinsWithSingleSlashes) {
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a/", "b"), "/a/b");
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("/rootfs", "/etc/hosts"), "/rootfs/etc/hosts");
  EXPECT_EQ(JoinPath("a", "", "b", "c/"), "a/b/c/");
  EXPECT_EQ(JoinPath("", "/x"), "/x");
  std::string s = "/run";
  EXPECT_EQ(JoinPath(s, std::string_view("crius"), "sock"), "/run/crius/sock");
}

}  // namespace
}  // namespace crius
