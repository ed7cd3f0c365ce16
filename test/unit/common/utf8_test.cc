// ToValidUtf8 keeps valid UTF-8 as it is and replaces every byte of a
// broken, overlong, surrogate or out-of-range sequence with U+FFFD.

#include "common/utf8.h"

#include "gtest/gtest.h"

namespace crius {
namespace {

constexpr char kFffd[] = "\xEF\xBF\xBD";

TEST(Utf8Test, ValidTextIsKept) {
  for (std::string s : {std::string(""), std::string("plain ascii\n"), std::string("caf\xC3\xA9"),
                        std::string("\xE2\x82\xAC 100"), std::string("\xF0\x9F\x98\x80"),
                        std::string("nul\0inside", 10), std::string("\xF4\x8F\xBF\xBF")}) {
    EXPECT_EQ(ToValidUtf8(s), s);
  }
}

TEST(Utf8Test, InvalidBytesBecomeReplacementCharacters) {
  const std::string r = kFffd;
  EXPECT_EQ(ToValidUtf8("bad \xFF\xFE bytes"), "bad " + r + r + " bytes");
  EXPECT_EQ(ToValidUtf8("\xC3"), r);  // cut short
  EXPECT_EQ(ToValidUtf8("\xC3"
                        "A"),
            r + "A");                                         // no continuation
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xE0\x80\xAF"), r + r + r);          // overlong
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), r + r + r);          // surrogate
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(ToValidUtf8("\x80"
                        "ok"),
            r + "ok");  // stray continuation
  EXPECT_EQ(ToValidUtf8("\xE2\x82"
                        "\xE2\x82\xAC"),
            r + r + "\xE2\x82\xAC");
}

}  // namespace
}  // namespace crius
