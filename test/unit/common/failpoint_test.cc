// The crash-point facility: names are unique and known, an unknown name is
// refused, an unarmed point does nothing and an armed one kills the whole
// process with SIGKILL, saying which point fired.

#include "common/failpoint.h"

#include <signal.h>

#include <set>
#include <string>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace crius::failpoint
