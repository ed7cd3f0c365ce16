#include "stats/fs_usage.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/time/clock.h"
#include "common/files.h"
#include "gtest/gtest.h"

namespace crius::stats {
namespace {

class FsUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/crius-fsusage-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  void Write(const std::string& name, size_t bytes) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + name, std::string(bytes, 'x'), 0644,
                                Durability::kProcessCrash)
                    .ok());
  }
  std::string dir_;
};

TEST_F(FsUsageTest, CountsBytesAndInodesOnceForHardLinks) {
  Write("a", 1 << 20);
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
  Write("sub/b", 4096);
  ASSERT_EQ(link((dir_ + "/a").c_str(), (dir_ + "/sub/a-link").c_str()), 0);
  ASSERT_EQ(symlink("a", (dir_ + "/sym").c_str()), 0);
  auto u = MeasureDir(dir_);
  ASSERT_TRUE(u.ok()) << u.status();
  // root, a, sub, sub/b, sym (the hard link is the same inode as a).
  EXPECT_EQ(u->inodes_used, 5u);
  EXPECT_GE(u->used_bytes, (1u << 20) + 4096u);
  EXPECT_LT(u->used_bytes, (1u << 20) * 2);
}

TEST_F(FsUsageTest, MissingDirIsNotFound) {
  EXPECT_EQ(MeasureDir(dir_ + "/nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FsUsageTest, CacheMeasuresInBackgroundAndRefreshes) {
  FsUsageCache cache({absl::Milliseconds(50)});
  EXPECT_FALSE(cache.Get("c1").has_value());
  cache.Track("c1", dir_);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!cache.Get("c1").has_value() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(cache.Get("c1").has_value());
  EXPECT_EQ(cache.Get("c1")->inodes_used, 1u);

  Write("grown", 2 << 20);
  while (cache.Get("c1")->used_bytes < (2u << 20) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(cache.Get("c1")->used_bytes, 2u << 20);
  EXPECT_EQ(cache.Get("c1")->inodes_used, 2u);

  cache.Untrack("c1");
  EXPECT_FALSE(cache.Get("c1").has_value());
}

}  // namespace
}  // namespace crius::stats
