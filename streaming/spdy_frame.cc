#include "streaming/spdy_frame.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::streaming::spdy {
namespace {

// Decompressed header blocks beyond this are refused: a peer could
// otherwise make us inflate a zlib bomb.
constexpr size_t kMaxHeaderBlock = 1 << 20;

void Put32(std::string& out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}

uint32_t Get32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

// The 8-byte control frame header followed by the payload.
std::string ControlFrame(FrameType type, uint8_t flags, std::string_view payload) {
  std::string out;
  out.reserve(8 + payload.size());
  Put32(out, 0x80000000u | (static_cast<uint32_t>(kVersion) << 16) | type);
  Put32(out, (static_cast<uint32_t>(flags) << 24) | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

}  // namespace

std::optional<std::string> FindHeader(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (absl::EqualsIgnoreCase(k, AbslView(name))) return v;
  }
  return std::nullopt;
}

HeaderCompressor::HeaderCompressor() {
  ok_ = deflateInit(&z_, Z_BEST_COMPRESSION) == Z_OK;
  if (ok_) {
    auto dict = HeaderDictionary();
    ok_ = deflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(dict.data()),
                               static_cast<uInt>(dict.size())) == Z_OK;
  }
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&z_); }

absl::StatusOr<std::string> HeaderCompressor::Compress(const Headers& headers) {
  if (!ok_) return absl::InternalError("spdy: zlib deflate init failed");
  std::string in = SerializeHeaderBlock(headers);
  std::string out;
  z_.next_in = reinterpret_cast<Bytef*>(in.data());
  z_.avail_in = static_cast<uInt>(in.size());
  // A sync flush ends every block on a byte boundary so the peer can
  // inflate it completely from this frame alone.
  do {
    char chunk[4096];
    z_.next_out = reinterpret_cast<Bytef*>(chunk);
    z_.avail_out = sizeof(chunk);
    int rc = deflate(&z_, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InternalError(absl::StrCat("spdy: deflate failed: ", rc));
    }
    out.append(chunk, sizeof(chunk) - z_.avail_out);
  } while (z_.avail_out == 0);
  return out;
}

HeaderDecompressor::HeaderDecompressor() { ok_ = inflateInit(&z_) == Z_OK; }

HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&z_); }

absl::StatusOr<Headers> HeaderDecompressor::Decompress(std::string_view block) {
  if (!ok_) return absl::InternalError("spdy: zlib inflate init failed");
  std::string out;
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z_.avail_in = static_cast<uInt>(block.size());
  while (z_.avail_in > 0) {
    char chunk[4096];
    z_.next_out = reinterpret_cast<Bytef*>(chunk);
    z_.avail_out = sizeof(chunk);
    int rc = inflate(&z_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      auto dict = HeaderDictionary();
      if (inflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(dict.data()),
                               static_cast<uInt>(dict.size())) != Z_OK) {
        ok_ = false;
        return absl::InvalidArgumentError("spdy: header block wants another dictionary");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      ok_ = false;  // the stream is out of sync for good
      return absl::InvalidArgumentError(absl::StrCat("spdy: corrupt header block (zlib ", rc, ")"));
    }
    out.append(chunk, sizeof(chunk) - z_.avail_out);
    if (out.size() > kMaxHeaderBlock) {
      ok_ = false;
      return absl::InvalidArgumentError("spdy: header block too large");
    }
    if (rc == Z_BUF_ERROR && z_.avail_out != 0) break;  // no progress possible
  }
  return ParseHeaderBlock(out);
}

std::string SerializeHeaderBlock(const Headers& headers) {
  // Repeated names travel as one entry whose values are NUL-separated.
  std::vector<std::pair<std::string, std::string>> merged;
  for (const auto& [name, value] : headers) {
    std::string lower = absl::AsciiStrToLower(name);
    bool found = false;
    for (auto& [n, v] : merged) {
      if (n == lower) {
        v.push_back('\0');
        v.append(value);
        found = true;
        break;
      }
    }
    if (!found) merged.emplace_back(std::move(lower), value);
  }
  std::string out;
  Put32(out, static_cast<uint32_t>(merged.size()));
  for (const auto& [name, value] : merged) {
    Put32(out, static_cast<uint32_t>(name.size()));
    out.append(name);
    Put32(out, static_cast<uint32_t>(value.size()));
    out.append(value);
  }
  return out;
}

absl::StatusOr<Headers> ParseHeaderBlock(std::string_view block) {
  auto truncated = [] { return absl::InvalidArgumentError("spdy: truncated header block"); };
  if (block.size() < 4) return truncated();
  uint32_t count = Get32(block, 0);
  size_t at = 4;
  Headers out;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view parts[2];
    for (auto& part : parts) {
      if (block.size() - at < 4) return truncated();
      uint32_t len = Get32(block, at);
      at += 4;
      if (block.size() - at < len) return truncated();
      part = block.substr(at, len);
      at += len;
    }
    if (parts[0].empty()) return absl::InvalidArgumentError("spdy: empty header name");
    for (absl::string_view v : absl::StrSplit(AbslView(parts[1]), '\0')) {
      out.emplace_back(absl::AsciiStrToLower(AbslView(parts[0])), std::string(v));
    }
  }
  if (at != block.size()) return absl::InvalidArgumentError("spdy: junk after header block");
  return out;
}

std::string EncodeData(uint32_t stream_id, uint8_t flags, std::string_view data) {
  std::string out;
  out.reserve(8 + data.size());
  Put32(out, stream_id & 0x7fffffffu);
  Put32(out, (static_cast<uint32_t>(flags) << 24) | static_cast<uint32_t>(data.size()));
  out.append(data);
  return out;
}

absl::StatusOr<std::string> EncodeSynStream(HeaderCompressor& c, uint32_t stream_id,
                                            uint8_t flags, uint8_t priority,
                                            const Headers& headers) {
  ASSIGN_OR_RETURN(std::string block, c.Compress(headers));
  std::string p;
  Put32(p, stream_id & 0x7fffffffu);
  Put32(p, 0);  // associated-to-stream-id: no server push here
  p.push_back(static_cast<char>((priority & 0x7) << 5));
  p.push_back(0);  // slot (credential frames, unused)
  p.append(block);
  return ControlFrame(kSynStream, flags, p);
}

absl::StatusOr<std::string> EncodeSynReply(HeaderCompressor& c, uint32_t stream_id,
                                           uint8_t flags, const Headers& headers) {
  ASSIGN_OR_RETURN(std::string block, c.Compress(headers));
  std::string p;
  Put32(p, stream_id & 0x7fffffffu);
  p.append(block);
  return ControlFrame(kSynReply, flags, p);
}

absl::StatusOr<std::string> EncodeHeaders(HeaderCompressor& c, uint32_t stream_id,
                                          uint8_t flags, const Headers& headers) {
  ASSIGN_OR_RETURN(std::string block, c.Compress(headers));
  std::string p;
  Put32(p, stream_id & 0x7fffffffu);
  p.append(block);
  return ControlFrame(kHeaders, flags, p);
}

std::string EncodeRstStream(uint32_t stream_id, uint32_t status) {
  std::string p;
  Put32(p, stream_id & 0x7fffffffu);
  Put32(p, status);
  return ControlFrame(kRstStream, 0, p);
}

std::string EncodeSettings(const std::vector<Setting>& settings) {
  std::string p;
  Put32(p, static_cast<uint32_t>(settings.size()));
  for (const Setting& s : settings) {
    Put32(p, (static_cast<uint32_t>(s.flags) << 24) | (s.id & 0xffffffu));
    Put32(p, s.value);
  }
  return ControlFrame(kSettings, 0, p);
}

std::string EncodePing(uint32_t id) {
  std::string p;
  Put32(p, id);
  return ControlFrame(kPing, 0, p);
}

std::string EncodeGoAway(uint32_t last_good_id, uint32_t status) {
  std::string p;
  Put32(p, last_good_id & 0x7fffffffu);
  Put32(p, status);
  return ControlFrame(kGoAway, 0, p);
}

std::string EncodeWindowUpdate(uint32_t stream_id, uint32_t delta) {
  std::string p;
  Put32(p, stream_id & 0x7fffffffu);
  Put32(p, delta & 0x7fffffffu);
  return ControlFrame(kWindowUpdate, 0, p);
}

absl::StatusOr<std::optional<Frame>> FrameParser::Next() {
  if (buf_.size() - pos_ < 8) return std::nullopt;
  std::string_view view(buf_);
  uint32_t w0 = Get32(view, pos_);
  uint32_t w1 = Get32(view, pos_ + 4);
  uint32_t length = w1 & 0xffffffu;
  if (length > kMaxFramePayload) return absl::InvalidArgumentError("spdy: frame too large");
  if (buf_.size() - pos_ - 8 < length) return std::nullopt;
  std::string_view payload = view.substr(pos_ + 8, length);
  Frame f;
  f.flags = static_cast<uint8_t>(w1 >> 24);
  if (w0 & 0x80000000u) {
    uint16_t version = (w0 >> 16) & 0x7fff;
    if (version != kVersion) {
      return absl::InvalidArgumentError(absl::StrCat("spdy: unsupported version ", version));
    }
    RETURN_IF_ERROR(ParseControl(static_cast<uint16_t>(w0 & 0xffff), payload, f));
  } else {
    f.type = kData;
    f.stream_id = w0 & 0x7fffffffu;
    if (f.stream_id == 0) return absl::InvalidArgumentError("spdy: data frame on stream 0");
    f.data.assign(payload);
  }
  pos_ += 8 + length;
  // Compact once the consumed prefix dominates, keeping appends cheap.
  if (pos_ > 65536 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return f;
}

absl::Status FrameParser::ParseControl(uint16_t type, std::string_view p, Frame& f) {
  auto need = [&](size_t n) -> absl::Status {
    if (p.size() < n) {
      return absl::InvalidArgumentError(absl::StrCat("spdy: control frame type ", type,
                                                     " too short (", p.size(), " bytes)"));
    }
    return absl::OkStatus();
  };
  switch (type) {
    case kSynStream: {
      RETURN_IF_ERROR(need(10));
      f.type = kSynStream;
      f.stream_id = Get32(p, 0) & 0x7fffffffu;
      f.associated_id = Get32(p, 4) & 0x7fffffffu;
      f.priority = static_cast<uint8_t>(p[8]) >> 5;
      ASSIGN_OR_RETURN(f.headers, headers_.Decompress(p.substr(10)));
      break;
    }
    case kSynReply:
    case kHeaders: {
      RETURN_IF_ERROR(need(4));
      f.type = static_cast<FrameType>(type);
      f.stream_id = Get32(p, 0) & 0x7fffffffu;
      ASSIGN_OR_RETURN(f.headers, headers_.Decompress(p.substr(4)));
      break;
    }
    case kRstStream:
      RETURN_IF_ERROR(need(8));
      f.type = kRstStream;
      f.stream_id = Get32(p, 0) & 0x7fffffffu;
      f.status = Get32(p, 4);
      break;
    case kSettings: {
      RETURN_IF_ERROR(need(4));
      f.type = kSettings;
      uint32_t n = Get32(p, 0);
      if ((p.size() - 4) / 8 < n) return absl::InvalidArgumentError("spdy: short SETTINGS");
      for (uint32_t i = 0; i < n; ++i) {
        uint32_t w = Get32(p, 4 + 8 * i);
        f.settings.push_back(
            {static_cast<uint8_t>(w >> 24), w & 0xffffffu, Get32(p, 8 + 8 * i)});
      }
      break;
    }
    case kPing:
      RETURN_IF_ERROR(need(4));
      f.type = kPing;
      f.ping_id = Get32(p, 0);
      break;
    case kGoAway:
      RETURN_IF_ERROR(need(4));
      f.type = kGoAway;
      f.last_good_id = Get32(p, 0) & 0x7fffffffu;
      f.status = p.size() >= 8 ? Get32(p, 4) : 0;
      break;
    case kWindowUpdate:
      RETURN_IF_ERROR(need(8));
      f.type = kWindowUpdate;
      f.stream_id = Get32(p, 0) & 0x7fffffffu;
      f.delta = Get32(p, 4) & 0x7fffffffu;
      break;
    default:
      // The draft has endpoints ignore control frames they do not know.
      f.type = static_cast<FrameType>(type);
      break;
  }
  return absl::OkStatus();
}

}  // namespace crius::streaming::spdy
