// ExitWatcher and the exit-file readers, against files written the way
// conmon writes them (a temporary "<id>.XXXXXX" renamed into place).

#include "oci/exit_watcher.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "test/unit/monitor/monitor_test_util.h"

namespace crius::oci {
namespace {

using testing::Recorder;
using testing::TempDir;
using testing::WriteLikeConmon;

TEST(ReadExitFileTest, ReadsCodeAndMtime) {
  TempDir dir;
  WriteLikeConmon(dir.path(), "abc", "137");
  struct timespec times[2] = {{1700000000, 123456789}, {1700000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, JoinPath(dir.path(), "abc").c_str(), times, 0), 0);
  auto e = ReadExitFile(dir.path(), "abc");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->id, "abc");
  EXPECT_EQ(e->exit_code, 137);
  EXPECT_EQ(e->finished_at, absl::FromUnixNanos(1700000000123456789));
}

TEST(ReadExitFileTest, MissingIsNotFoundAndGarbageIsAnError) {
  TempDir dir;
  EXPECT_TRUE(absl::IsNotFound(ReadExitFile(dir.path(), "nope").status()));
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir.path(), "bad"), "x1").ok());
  auto bad = ReadExitFile(dir.path(), "bad");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInternal);
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir.path(), "neg"), "-1\n").ok());
  auto neg = ReadExitFile(dir.path(), "neg");
  ASSERT_TRUE(neg.ok()) << neg.status();
  EXPECT_EQ(neg->exit_code, -1);
}

TEST(ScanExitDirTest, SkipsTemporaryFilesAndMissingDir) {
  TempDir dir;
  WriteLikeConmon(dir.path(), "one", "0");
  WriteLikeConmon(dir.path(), "two", "2");
  ASSERT_TRUE(WriteFileAtomic(JoinPath(dir.path(), "three.XyZ123"), "3").ok());
  auto events = ScanExitDir(dir.path());
  ASSERT_TRUE(events.ok()) << events.status();
  std::map<std::string, int> codes;
  for (const auto& e : *events) codes[e.id] = e.exit_code;
  EXPECT_EQ(codes, (std::map<std::string, int>{{"one", 0}, {"two", 2}}));
  auto none = ScanExitDir(JoinPath(dir.path(), "missing"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ExitWatcherTest, ReportsRenamedAndInPlaceWritesPromptly) {
  TempDir dir;
  Recorder rec;
  auto watcher = ExitWatcher::Start(dir.path(), rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();

  absl::Time before = absl::Now();
  WriteLikeConmon(dir.path(), "c1", "3");
  ExitEvent e;
  ASSERT_TRUE(rec.WaitFor("c1", &e));
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_GE(e.finished_at, before - absl::Seconds(1));
  EXPECT_LE(e.finished_at, absl::Now() + absl::Seconds(1));

  // Written directly (not renamed): reported when the writer closes it.
  int fd = ::open(JoinPath(dir.path(), "c2").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "42", 2), 2);
  ::close(fd);
  ASSERT_TRUE(rec.WaitFor("c2", &e));
  EXPECT_EQ(e.exit_code, 42);
  // conmon's temporary file was never reported under its own name.
  EXPECT_EQ(rec.Count("c1.Ab12Cd"), 0);
}

TEST(ExitWatcherTest, ReportsExitsWrittenBeforeStart) {
  TempDir dir;
  WriteLikeConmon(dir.path(), "early", "9");
  Recorder rec;
  auto watcher = ExitWatcher::Start(dir.path(), rec.callback(), /*report_existing=*/true);
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ExitEvent e;
  ASSERT_TRUE(rec.WaitFor("early", &e));
  EXPECT_EQ(e.exit_code, 9);
}

TEST(ExitWatcherTest, NoCallbackAfterDestruction) {
  TempDir dir;
  Recorder rec;
  {
    auto watcher = ExitWatcher::Start(dir.path(), rec.callback(), /*report_existing=*/false);
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    WriteLikeConmon(dir.path(), "seen", "0");
    ASSERT_TRUE(rec.WaitFor("seen", nullptr));
  }
  WriteLikeConmon(dir.path(), "after", "0");
  // The watcher's thread is joined, so nothing can be in flight.
  EXPECT_EQ(rec.Count("after"), 0);
  EXPECT_EQ(rec.Distinct(), 1u);
}

TEST(ExitWatcherTest, CreatesTheDirectory) {
  TempDir dir;
  std::string sub = JoinPath(dir.path(), "exits");
  Recorder rec;
  auto watcher = ExitWatcher::Start(sub, rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  WriteLikeConmon(sub, "x", "1");
  ASSERT_TRUE(rec.WaitFor("x", nullptr));
}

}  // namespace
}  // namespace crius::oci
