#pragma once
// SPDY/3.1 framing (the SPDY protocol draft 3.1): encoding and parsing of
// the frames Kubernetes' streaming protocols use, and the zlib header-block
// compression with the SPDY/3 dictionary. Pure byte work, no I/O, so the
// session (spdy_session.h) and the tests share one codec.
//
// Wire layout (all integers big-endian):
//   control: |1|version(15)|type(16)|flags(8)|length(24)|payload
//   data:    |0|stream-id(31)|flags(8)|length(24)|payload

#include <zlib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crius::streaming::spdy {

inline constexpr uint16_t kVersion = 3;

enum FrameType : uint16_t {
  kData = 0,  // not a control type: data frames have no type field
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagUnidirectional = 0x02;

// RST_STREAM status codes.
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// SETTINGS ids used here.
inline constexpr uint32_t kSettingsMaxConcurrentStreams = 4;
inline constexpr uint32_t kSettingsInitialWindowSize = 7;

inline constexpr uint32_t kDefaultWindow = 64 * 1024;
// Largest frame payload accepted from a peer; SPDY's length field allows
// 16 MiB, nothing here needs more than a few KiB of headers or 64 KiB data.
inline constexpr uint32_t kMaxFramePayload = 1 << 24;

// Names are lowercase; a name may repeat (SPDY joins repeated values with a
// NUL, and the decoder splits them again).
using Headers = std::vector<std::pair<std::string, std::string>>;

// First value of `name` in `h`, or nullopt.
std::optional<std::string> FindHeader(const Headers& h, std::string_view name);

struct Setting {
  uint8_t flags = 0;
  uint32_t id = 0;
  uint32_t value = 0;
};

// One decoded frame; which fields mean something depends on `type`.
struct Frame {
  FrameType type = kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;      // data, syn, reply, rst, headers, window update
  uint32_t associated_id = 0;  // syn_stream
  uint8_t priority = 0;        // syn_stream (3 bits)
  uint32_t status = 0;         // rst_stream, goaway
  uint32_t ping_id = 0;        // ping
  uint32_t last_good_id = 0;   // goaway
  uint32_t delta = 0;          // window update
  std::vector<Setting> settings;
  Headers headers;
  std::string data;
};

// The dictionary both zlib streams of a connection are primed with.
std::string_view HeaderDictionary();

// One deflate stream for every header block this side sends on a
// connection (SPDY keeps the compression context across frames).
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  // The compressed name/value block, ending on a sync flush.
  absl::StatusOr<std::string> Compress(const Headers& headers);

 private:
  z_stream z_{};
  bool ok_ = false;
};

// The peer's counterpart: one inflate stream per connection.
class HeaderDecompressor {
 public:
  HeaderDecompressor();
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  absl::StatusOr<Headers> Decompress(std::string_view block);

 private:
  z_stream z_{};
  bool ok_ = false;
};

// The uncompressed name/value block: count, then length-prefixed names and
// values (32-bit lengths in SPDY/3). Exposed for the codec tests.
std::string SerializeHeaderBlock(const Headers& headers);
absl::StatusOr<Headers> ParseHeaderBlock(std::string_view block);

// Encoders return the complete frame bytes.
std::string EncodeData(uint32_t stream_id, uint8_t flags, std::string_view data);
absl::StatusOr<std::string> EncodeSynStream(HeaderCompressor& c, uint32_t stream_id,
                                            uint8_t flags, uint8_t priority,
                                            const Headers& headers);
absl::StatusOr<std::string> EncodeSynReply(HeaderCompressor& c, uint32_t stream_id,
                                           uint8_t flags, const Headers& headers);
absl::StatusOr<std::string> EncodeHeaders(HeaderCompressor& c, uint32_t stream_id,
                                          uint8_t flags, const Headers& headers);
std::string EncodeRstStream(uint32_t stream_id, uint32_t status);
std::string EncodeSettings(const std::vector<Setting>& settings);
std::string EncodePing(uint32_t id);
std::string EncodeGoAway(uint32_t last_good_id, uint32_t status);
std::string EncodeWindowUpdate(uint32_t stream_id, uint32_t delta);

// Incremental parser for one direction of a connection: append what the
// socket delivered, then take frames until Next() yields nullopt (needs more
// bytes). Any error means the peer is not speaking SPDY/3 correctly; the
// caller drops the connection.
class FrameParser {
 public:
  void Append(std::string_view bytes) { buf_.append(bytes); }
  absl::StatusOr<std::optional<Frame>> Next();
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  absl::Status ParseControl(uint16_t type, std::string_view payload, Frame& f);

  std::string buf_;
  size_t pos_ = 0;
  HeaderDecompressor headers_;
};

}  // namespace crius::streaming::spdy
