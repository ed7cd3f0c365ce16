#pragma once
// The client role of the streaming protocols over SPDY/3.1: what criusctl
// and the tests use to drive a URL the Exec/Attach/PortForward RPCs
// returned. Blocking calls; each runs its own io_context on the caller's
// thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "streaming/backend.h"

namespace crius::streaming {

struct UpgradeResult {
  int status = 0;        // HTTP status of the answer
  std::string headers;   // the raw answer head
  std::string body;      // for non-101 answers (read to EOF)
  std::string protocol;  // X-Stream-Protocol-Version (SPDY) or Sec-WebSocket-Protocol
  std::string ws_accept;  // Sec-WebSocket-Accept
  std::string leftover;  // bytes after the head (protocol frames)
};

// Sends an HTTP/1.1 upgrade request for `url` (http://host:port/path) over
// a fresh connection and reads the answer head. `extra` is put verbatim
// into the request head (each line ending in \r\n).
absl::StatusOr<UpgradeResult> DialUpgrade(boost::asio::ip::tcp::socket& socket,
                                          const std::string& url, const std::string& method,
                                          const std::string& extra);

// Opens a WebSocket (RFC 6455 section 4.1) on `url` offering `protocols`,
// preferred first: a random key, and the answer must be 101 with the
// matching Sec-WebSocket-Accept and one of the offered protocols. A refusal
// is FAILED_PRECONDITION naming the HTTP status (NOT_FOUND for 404: an
// unknown, used or expired token).
absl::StatusOr<UpgradeResult> DialWebSocket(boost::asio::ip::tcp::socket& socket,
                                            const std::string& url,
                                            const std::vector<std::string>& protocols);

struct RemoteCommandOptions {
  std::vector<std::string> protocols = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                        "v2.channel.k8s.io", "channel.k8s.io"};
  bool stdin = false;
  bool stdout = true;
  bool stderr = true;
  bool tty = false;
  std::string stdin_data;        // sent, then stdin is closed
  bool keep_stdin_open = false;  // do not close stdin after stdin_data
  std::vector<TerminalSize> resizes;
  std::chrono::seconds timeout{30};
};

struct RemoteCommandResult {
  std::string protocol;
  std::string out;
  std::string err;
  std::string error;  // what the error stream carried
};

// Runs exec or attach on `url` to the end.
absl::StatusOr<RemoteCommandResult> RunSpdyRemoteCommand(const std::string& url,
                                                         const RemoteCommandOptions& options);

// Forwards one connection: sends `data` to `port`, half-closes, and returns
// what came back on the data stream and the error stream.
struct PortForwardResult {
  std::string data;
  std::string error;
};
absl::StatusOr<PortForwardResult> RunSpdyPortForwardOnce(
    const std::string& url, int port, const std::string& data,
    std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace crius::streaming
