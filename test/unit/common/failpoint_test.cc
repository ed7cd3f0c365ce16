// The crash-point facility: names are unique and known, an unknown name is
// refused, an unarmed point does nothing and an armed one kills the whole
// process with SIGKILL, saying which point fired.

#include "common/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::failpoint {
namespace {

TEST(FailpointTest, AtLeastTwentyUniqueNames) {
  std::set<std::string_view> names;
  for (std::string_view n : AllNames()) {
    EXPECT_FALSE(n.empty());
    EXPECT_EQ(n.find(','), std::string_view::npos) << n;
    EXPECT_TRUE(names.insert(n).second) << "duplicate " << n;
  }
  EXPECT_GE(names.size(), 20u);
  EXPECT_EQ(Name(Point::kRunPodAfterCniAdd), "run-pod-after-cni-add");
}

TEST(FailpointTest, UnknownNamesAreRefusedAndArmNothing) {
  DisarmAll();
  absl::Status s = Arm("run-pod-after-cni-add,no-such-point");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no-such-point"), absl::string_view::npos);
  EXPECT_FALSE(Armed(Point::kRunPodAfterCniAdd));
}

TEST(FailpointTest, ArmsExactlyTheNamedPoints) {
  DisarmAll();
  ASSERT_TRUE(Arm(" run-pod-after-cni-add , pull-image-mid-layer").ok());
  EXPECT_TRUE(Armed(Point::kRunPodAfterCniAdd));
  EXPECT_TRUE(Armed(Point::kPullImageMidLayer));
  EXPECT_FALSE(Armed(Point::kRunPodAfterIntent));
  DisarmAll();
  EXPECT_FALSE(Armed(Point::kRunPodAfterCniAdd));
}

TEST(FailpointTest, AnUnarmedPointDoesNothing) {
  DisarmAll();
  for (uint32_t i = 0; i < static_cast<uint32_t>(Point::kCount); ++i) Hit(static_cast<Point>(i));
  SUCCEED();
}

TEST(FailpointDeathTest, AnArmedPointKillsTheProcessWithSigkill) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DisarmAll();
        if (!Arm("stop-pod-before-cni-del").ok()) std::_Exit(3);
        Hit(Point::kStopPodAfterCniDel);  // not armed: passes
        Hit(Point::kStopPodBeforeCniDel);
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "failpoint stop-pod-before-cni-del reached");
}

// A held point stops the thread that reaches it, shows the hold as a file
// and lets the thread go on once the file is removed; other points pass.
TEST(FailpointTest, AHeldPointWaitsUntilItsFileIsRemoved) {
  DisarmAll();
  crius::testing::TempDir dir;
  ASSERT_TRUE(ArmHold("container-exit-record-write", dir.path()).ok());
  EXPECT_TRUE(Armed(Point::kContainerExitRecordWrite));
  Hit(Point::kStartContainerRecordWrite);  // not armed: passes
  std::atomic<bool> passed{false};
  std::thread t([&] {
    Hit(Point::kContainerExitRecordWrite);
    passed = true;
  });
  const std::string file = dir.path() + "/container-exit-record-write";
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (::access(file.c_str(), F_OK) != 0 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(::access(file.c_str(), F_OK), 0) << "the hold never showed";
  EXPECT_FALSE(passed);  // the file is still there, so the thread still waits
  ASSERT_EQ(::unlink(file.c_str()), 0);
  t.join();
  EXPECT_TRUE(passed);
  DisarmAll();
}

TEST(FailpointTest, HoldingNeedsADirectory) {
  DisarmAll();
  EXPECT_EQ(ArmHold("container-exit-record-write", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ArmHold("no-such-point", "/tmp").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Armed(Point::kContainerExitRecordWrite));
}

}  // namespace
}  // namespace crius::failpoint
