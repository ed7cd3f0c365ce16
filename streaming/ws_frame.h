#pragma once
// WebSocket framing (RFC 6455 section 5) and the handshake's accept key,
// for both roles: clients mask what they send, servers never do.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crius::streaming::ws {

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xa,
};

// Messages larger than this end the connection (a channel message is one
// read of a pipe or socket, a few KiB).
inline constexpr size_t kMaxMessage = 16 * 1024 * 1024;

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string AcceptKey(std::string_view client_key);

// One complete (FIN) frame; `mask` with a random key for the client role.
std::string EncodeFrame(Opcode op, std::string_view payload, bool mask);

struct Message {
  Opcode opcode = kBinary;  // text/binary (continuations joined) or a control frame
  std::string payload;
};

// Incremental reader of the peer's frames; joins fragmented messages.
class FrameReader {
 public:
  // `expect_masked`: a server requires masked frames from clients.
  explicit FrameReader(bool expect_masked) : expect_masked_(expect_masked) {}
  void Append(std::string_view bytes) { buf_.append(bytes); }
  // nullopt: needs more bytes. Errors are protocol violations.
  absl::StatusOr<std::optional<Message>> Next();

 private:
  bool expect_masked_;
  std::string buf_;
  std::string partial_;
  std::optional<Opcode> partial_op_;
};

}  // namespace crius::streaming::ws
