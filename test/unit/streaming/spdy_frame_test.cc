#include "streaming/spdy_frame.h"

#include <zlib.h>

#include <gtest/gtest.h>

namespace crius::streaming::spdy {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

Frame ParseOne(const std::string& bytes) {
  FrameParser p;
  p.Append(bytes);
  auto f = p.Next();
  EXPECT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->has_value());
  EXPECT_EQ(p.buffered(), 0u);
  return **f;
}

// Expected bytes worked out by hand from the SPDY/3 draft's layouts.
TEST(SpdyFrameTest, ControlFramesMatchTheDraftLayout) {
  EXPECT_EQ(EncodePing(1), Bytes({0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1}));
  EXPECT_EQ(EncodeRstStream(3, kCancel),
            Bytes({0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 3, 0, 0, 0, 5}));
  EXPECT_EQ(EncodeWindowUpdate(1, 0x10000),
            Bytes({0x80, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 1, 0, 1, 0, 0}));
  EXPECT_EQ(EncodeGoAway(5, 0),
            Bytes({0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0, 0, 0, 5, 0, 0, 0, 0}));
  EXPECT_EQ(EncodeSettings({{0, kSettingsInitialWindowSize, 65536}}),
            Bytes({0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0c, 0, 0, 0, 1, 0, 0, 0, 7, 0,
                   1, 0, 0}));
}

TEST(SpdyFrameTest, DataFrameCarriesStreamIdFlagsAndLength) {
  EXPECT_EQ(EncodeData(1, kFlagFin, "hi"),
            Bytes({0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02, 'h', 'i'}));
  Frame f = ParseOne(EncodeData(0x7fffffff, 0, std::string(70000, 'x')));
  EXPECT_EQ(f.type, kData);
  EXPECT_EQ(f.stream_id, 0x7fffffffu);
  EXPECT_EQ(f.data.size(), 70000u);
}

TEST(SpdyFrameTest, HeaderBlockLayoutAndRepeatedNames) {
  EXPECT_EQ(SerializeHeaderBlock({{"a", "b"}}),
            Bytes({0, 0, 0, 1, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b'}));
  // Repeated names share one entry with NUL-separated values, lowercased.
  std::string block = SerializeHeaderBlock({{"X-V", "1"}, {"x-v", "2"}});
  EXPECT_EQ(block, Bytes({0, 0, 0, 1, 0, 0, 0, 3, 'x', '-', 'v', 0, 0, 0, 3, '1', 0, '2'}));
  auto h = ParseHeaderBlock(block);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, (Headers{{"x-v", "1"}, {"x-v", "2"}}));
  EXPECT_FALSE(ParseHeaderBlock(Bytes({0, 0, 0, 2, 0, 0, 0, 1, 'a'})).ok());
}

TEST(SpdyFrameTest, DictionaryIsTheDraftsOne) {
  EXPECT_EQ(HeaderDictionary().size(), 1423u);
  EXPECT_EQ(HeaderDictionary().substr(0, 11), std::string_view("\0\0\0\7options", 11));
}

TEST(SpdyFrameTest, HeaderCompressionUsesTheDictionaryAndOneStream) {
  HeaderCompressor c;
  auto first = c.Compress({{"streamtype", "error"}});
  ASSERT_TRUE(first.ok());
  // A plain inflate must ask for the SPDY dictionary (by its Adler-32).
  z_stream z{};
  ASSERT_EQ(inflateInit(&z), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(first->data());
  z.avail_in = static_cast<uInt>(first->size());
  char out[256];
  z.next_out = reinterpret_cast<Bytef*>(out);
  z.avail_out = sizeof(out);
  EXPECT_EQ(inflate(&z, Z_SYNC_FLUSH), Z_NEED_DICT);
  auto dict = HeaderDictionary();
  EXPECT_EQ(z.adler, adler32(1, reinterpret_cast<const Bytef*>(dict.data()),
                             static_cast<uInt>(dict.size())));
  inflateEnd(&z);

  // Later blocks depend on earlier ones: one decompressor per connection
  // decodes them all in order.
  auto second = c.Compress({{"streamtype", "stdout"}, {"port", "80"}});
  ASSERT_TRUE(second.ok());
  HeaderDecompressor d;
  auto h1 = d.Decompress(*first);
  ASSERT_TRUE(h1.ok()) << h1.status();
  EXPECT_EQ(*h1, (Headers{{"streamtype", "error"}}));
  auto h2 = d.Decompress(*second);
  ASSERT_TRUE(h2.ok()) << h2.status();
  EXPECT_EQ(*h2, (Headers{{"streamtype", "stdout"}, {"port", "80"}}));
}

TEST(SpdyFrameTest, SynStreamAndReplyRoundTrip) {
  HeaderCompressor c;
  auto syn = EncodeSynStream(c, 5, kFlagFin, 3, {{"streamtype", "stdin"}});
  ASSERT_TRUE(syn.ok());
  auto reply = EncodeSynReply(c, 5, 0, {});
  ASSERT_TRUE(reply.ok());
  FrameParser p;
  // Fed a byte at a time: frames appear only once complete.
  std::string all = *syn + *reply;
  std::vector<Frame> frames;
  for (char ch : all) {
    p.Append(std::string(1, ch));
    auto f = p.Next();
    ASSERT_TRUE(f.ok()) << f.status();
    if (f->has_value()) frames.push_back(**f);
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, kSynStream);
  EXPECT_EQ(frames[0].stream_id, 5u);
  EXPECT_EQ(frames[0].flags, kFlagFin);
  EXPECT_EQ(frames[0].priority, 3);
  EXPECT_EQ(frames[0].headers, (Headers{{"streamtype", "stdin"}}));
  EXPECT_EQ(frames[1].type, kSynReply);
  EXPECT_TRUE(frames[1].headers.empty());
}

TEST(SpdyFrameTest, ParsesEveryControlFrame) {
  Frame f = ParseOne(EncodeSettings({{1, kSettingsInitialWindowSize, 1000}, {0, 4, 100}}));
  ASSERT_EQ(f.type, kSettings);
  ASSERT_EQ(f.settings.size(), 2u);
  EXPECT_EQ(f.settings[0].flags, 1);
  EXPECT_EQ(f.settings[0].id, kSettingsInitialWindowSize);
  EXPECT_EQ(f.settings[0].value, 1000u);
  f = ParseOne(EncodeWindowUpdate(0, 12345));
  EXPECT_EQ(f.type, kWindowUpdate);
  EXPECT_EQ(f.stream_id, 0u);
  EXPECT_EQ(f.delta, 12345u);
  f = ParseOne(EncodeRstStream(9, kFlowControlError));
  EXPECT_EQ(f.type, kRstStream);
  EXPECT_EQ(f.status, kFlowControlError);
  f = ParseOne(EncodeGoAway(7, 2));
  EXPECT_EQ(f.last_good_id, 7u);
  EXPECT_EQ(f.status, 2u);
  f = ParseOne(EncodePing(42));
  EXPECT_EQ(f.ping_id, 42u);
}

TEST(SpdyFrameTest, RejectsGarbage) {
  {
    FrameParser p;  // SPDY/2 control frame
    p.Append(Bytes({0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1}));
    EXPECT_FALSE(p.Next().ok());
  }
  {
    FrameParser p;  // a SYN_STREAM whose header block is not zlib
    p.Append(Bytes({0x80, 0x03, 0x00, 0x01, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3,
                    4}));
    EXPECT_FALSE(p.Next().ok());
  }
  {
    FrameParser p;  // data on stream 0
    p.Append(Bytes({0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_FALSE(p.Next().ok());
  }
  {
    FrameParser p;  // a truncated ping
    p.Append(Bytes({0x80, 0x03, 0x00, 0x06, 0, 0, 0, 2, 0, 0}));
    EXPECT_FALSE(p.Next().ok());
  }
}

}  // namespace
}  // namespace crius::streaming::spdy
