#include "common/log.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crius::log {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

TEST(LogLevelTest, ParsesNamesInAnyCase) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("INFO"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("Warning"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
}

TEST(LogLevelTest, RejectsUnknownNamesWithTheName) {
  absl::StatusOr<Level> l = ParseLevel("loud");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(l.status().message(), HasSubstr("loud"));
}

TEST(LogLevelTest, NamesRoundTrip) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    EXPECT_EQ(*ParseLevel(LevelName(l)), l);
  }
}

// Restores the process-wide level however the test ends.
class LogOutputTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = GetLevel(); }
  void TearDown() override { SetLevel(saved_); }
  Level saved_ = Level::kInfo;
};

TEST_F(LogOutputTest, LevelFiltersLines) {
  SetLevel(Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  ::testing::internal::CaptureStderr();
  CRIUS_LOG(kInfo) << "hidden";
  CRIUS_LOG(kWarn) << "shown " << 42;
  std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, ::testing::Not(HasSubstr("hidden")));
  EXPECT_THAT(out, HasSubstr(" warn log_test.cc:"));
  EXPECT_THAT(out, EndsWith("] shown 42\n"));
}

}  // namespace
}  // namespace crius::log
