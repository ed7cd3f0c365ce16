#include "streaming/ws_frame.h"

#include <openssl/sha.h>
#include <sys/random.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace crius::streaming::ws {

std::string AcceptKey(std::string_view client_key) {
  // The GUID RFC 6455 section 1.3 appends to the key before hashing.
  std::string input = absl::StrCat(absl::string_view(client_key.data(), client_key.size()),
                                   "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string EncodeFrame(Opcode op, std::string_view payload, bool mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>(0x80 | op));
  uint8_t mask_bit = mask ? 0x80 : 0;
  size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  }
  if (!mask) {
    out.append(payload);
    return out;
  }
  char key[4] = {0, 0, 0, 0};
  (void)!getrandom(key, sizeof(key), 0);
  out.append(key, 4);
  size_t start = out.size();
  out.append(payload);
  for (size_t i = 0; i < n; ++i) out[start + i] ^= key[i % 4];
  return out;
}

absl::StatusOr<std::optional<Message>> FrameReader::Next() {
  while (true) {
    if (buf_.size() < 2) return std::nullopt;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(buf_[i]); };
    bool fin = byte(0) & 0x80;
    if (byte(0) & 0x70) return absl::InvalidArgumentError("websocket: reserved bits set");
    auto op = static_cast<Opcode>(byte(0) & 0x0f);
    bool masked = byte(1) & 0x80;
    if (masked != expect_masked_) {
      return absl::InvalidArgumentError(expect_masked_ ? "websocket: unmasked client frame"
                                                       : "websocket: masked server frame");
    }
    uint64_t len = byte(1) & 0x7f;
    size_t at = 2;
    if (len == 126) {
      if (buf_.size() < 4) return std::nullopt;
      len = (uint64_t{byte(2)} << 8) | byte(3);
      at = 4;
    } else if (len == 127) {
      if (buf_.size() < 10) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | byte(2 + i);
      at = 10;
    }
    if (len > kMaxMessage) return absl::InvalidArgumentError("websocket: frame too large");
    size_t key_at = at;
    if (masked) at += 4;
    if (buf_.size() < at + len) return std::nullopt;
    std::string payload = buf_.substr(at, len);
    if (masked) {
      for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= buf_[key_at + i % 4];
    }
    buf_.erase(0, at + len);
    bool control = op & 0x8;
    if (control) {
      if (!fin || len > 125) return absl::InvalidArgumentError("websocket: bad control frame");
      return Message{op, std::move(payload)};
    }
    if (op == kContinuation) {
      if (!partial_op_) return absl::InvalidArgumentError("websocket: stray continuation");
    } else if (op == kText || op == kBinary) {
      if (partial_op_) return absl::InvalidArgumentError("websocket: interleaved message");
      partial_op_ = op;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("websocket: unknown opcode ", op));
    }
    partial_.append(payload);
    if (partial_.size() > kMaxMessage) return absl::InvalidArgumentError("websocket: message too large");
    if (fin) {
      Message m{*partial_op_, std::move(partial_)};
      partial_.clear();
      partial_op_.reset();
      return m;
    }
  }
}

}  // namespace crius::streaming::ws
