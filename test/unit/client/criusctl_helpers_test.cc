// Pure helpers behind criusctl: flag parsing, durations, table and size
// formatting, and the CRI log format.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "client/cri_log.h"
#include "client/criusctl_flags.h"
#include "client/criusctl_format.h"

namespace crius::client {
namespace {

using ::testing::ElementsAre;

const std::vector<FlagSpec> kSpecs = {
    {{"-a", "--all"}, false, "", ""},
    {{"-q", "--quiet"}, false, "", ""},
    {{"--name"}, true, "", ""},
    {{"--label"}, true, "", ""},
};

TEST(ParseFlagsTest, SpellingsCrictlUsersType) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(
      {"ps", "-aq", "--name=web", "-label", "a=1", "--label", "b=2", "x"}, 1,
      kSpecs, /*stop_at_positional=*/false);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_TRUE(flags->GetBool("all"));
  EXPECT_TRUE(flags->GetBool("quiet"));
  EXPECT_EQ(flags->Get("name"), "web");
  EXPECT_THAT(flags->GetAll("label"), ElementsAre("a=1", "b=2"));
  EXPECT_THAT(flags->positional(), ElementsAre("x"));
}

TEST(ParseFlagsTest, StopAtPositionalKeepsCommandFlags) {
  absl::StatusOr<ParsedFlags> flags =
      ParseFlags({"-a", "id", "ls", "-q"}, 0, kSpecs, true);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_TRUE(flags->GetBool("all"));
  EXPECT_FALSE(flags->GetBool("quiet"));
  EXPECT_THAT(flags->positional(), ElementsAre("id", "ls", "-q"));
}

TEST(ParseFlagsTest, DoubleDashEndsFlagsAndFalseTurnsOff) {
  absl::StatusOr<ParsedFlags> flags =
      ParseFlags({"--all=false", "--", "-q"}, 0, kSpecs, false);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_FALSE(flags->GetBool("all"));
  EXPECT_THAT(flags->positional(), ElementsAre("-q"));
}

TEST(ParseFlagsTest, Errors) {
  EXPECT_FALSE(ParseFlags({"--bogus"}, 0, kSpecs, false).ok());
  EXPECT_FALSE(ParseFlags({"--name"}, 0, kSpecs, false).ok());
  EXPECT_FALSE(ParseFlags({"--all=maybe"}, 0, kSpecs, false).ok());
  EXPECT_FALSE(ParseFlags({"-az"}, 0, kSpecs, false).ok());
}

TEST(ParseGoDurationTest, GoSyntax) {
  EXPECT_EQ(*ParseGoDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseGoDuration("2m"), absl::Minutes(2));
  EXPECT_EQ(*ParseGoDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("45"), absl::Seconds(45));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_FALSE(ParseGoDuration("inf").ok());
  EXPECT_FALSE(ParseGoDuration("-5s").ok());
  EXPECT_FALSE(ParseGoDuration("ten seconds").ok());
  EXPECT_FALSE(ParseGoDuration("").ok());
}

TEST(FormatTest, HumanSizeUsesDecimalUnitsAndThreeDigits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(1234567), "1.23MB");
  EXPECT_EQ(HumanSize(4260000), "4.26MB");
  EXPECT_EQ(HumanSize(77800000000ULL), "77.8GB");
}

TEST(FormatTest, HumanDurationBuckets) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(300)), "Less than a second");
  EXPECT_EQ(HumanDuration(absl::Seconds(1)), "1 second");
  EXPECT_EQ(HumanDuration(absl::Seconds(42)), "42 seconds");
  EXPECT_EQ(HumanDuration(absl::Seconds(90)), "About a minute");
  EXPECT_EQ(HumanDuration(absl::Minutes(59)), "59 minutes");
  EXPECT_EQ(HumanDuration(absl::Minutes(89)), "About an hour");
  EXPECT_EQ(HumanDuration(absl::Minutes(90)), "2 hours");
  EXPECT_EQ(HumanDuration(absl::Hours(47)), "47 hours");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 3)), "3 days");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 21)), "3 weeks");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 90)), "3 months");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 365 * 3)), "3 years");
}

TEST(FormatTest, TruncateIdDropsAlgorithmPrefix) {
  EXPECT_EQ(TruncateId("sha256:0123456789abcdef0123"), "0123456789abc");
  EXPECT_EQ(TruncateId("0123456789abcdef"), "0123456789abc");
  EXPECT_EQ(TruncateId("short"), "short");
}

TEST(FormatTest, TableAlignsLikeTabwriter) {
  Table table({"A", "LONG HEADER", "LAST"});
  table.AddRow({"a-value-longer-than-twenty", "x", "tail that is not padded"});
  std::ostringstream out;
  table.Print(out);
  // Column 1 is its widest cell (26) plus padding 3; column 2 is the
  // minimum of 20; the last column is not padded.
  EXPECT_EQ(out.str(),
            "A" + std::string(28, ' ') + "LONG HEADER" + std::string(9, ' ') +
                "LAST\n" + "a-value-longer-than-twenty" + std::string(3, ' ') +
                "x" + std::string(19, ' ') + "tail that is not padded\n");
}

TEST(CriLogTest, ParsesTheThreeFields) {
  absl::StatusOr<CriLogEntry> entry =
      ParseCriLogLine("2024-01-02T03:04:05.123456789+00:00 stderr P a b ");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->timestamp, "2024-01-02T03:04:05.123456789+00:00");
  EXPECT_EQ(entry->stream, LogStream::kStderr);
  EXPECT_TRUE(entry->partial);
  EXPECT_EQ(entry->text, "a b ");
}

TEST(CriLogTest, EmptyFullLineWithOrWithoutSeparator) {
  EXPECT_EQ(ParseCriLogLine("t stdout F ")->text, "");
  EXPECT_EQ(ParseCriLogLine("t stdout F")->text, "");
  EXPECT_FALSE(ParseCriLogLine("t stdout F")->partial);
}

TEST(CriLogTest, RejectsOtherFormats) {
  EXPECT_FALSE(ParseCriLogLine("").ok());
  EXPECT_FALSE(ParseCriLogLine("t stdin F x").ok());
  EXPECT_FALSE(ParseCriLogLine("t stdout X x").ok());
  EXPECT_FALSE(ParseCriLogLine(R"({"log":"docker json"})").ok());
}

TEST(CriLogTest, JoinsPerStreamAndKeepsUnfinishedLines) {
  std::vector<CriLogLine> lines = ParseCriLog(
      "t1 stdout P ab\n"
      "t2 stderr P x\n"
      "t3 stdout F c\n"
      "garbage\n"
      "t4 stderr P y");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "abc");
  EXPECT_EQ(lines[0].timestamp, "t1");
  EXPECT_TRUE(lines[0].complete);
  EXPECT_EQ(lines[1].stream, LogStream::kStderr);
  EXPECT_EQ(lines[1].text, "xy");
  EXPECT_FALSE(lines[1].complete);
}

}  // namespace
}  // namespace crius::client
