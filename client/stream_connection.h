#pragma once

// The transport half of criusctl's streaming commands: a connected
// exec/attach session and the per-connection tunnels of port-forward, over
// SPDY/3.1 or WebSocket, behind one interface each. stream_client.cc and
// port_forward.cc pump the local stdio and sockets through them, once for
// both transports. Everything runs on the caller's io_context.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crius::client {

enum class StreamTransport { kSpdy, kWebSocket };

// "spdy" or "websocket".
absl::StatusOr<StreamTransport> ParseStreamTransport(std::string_view name);

// One exec/attach session after the upgrade and the stream set-up.
class RemoteCommandConnection {
 public:
  enum class Output { kStdout, kStderr, kError };
  struct Callbacks {
    // Bytes of one remote stream, in order.
    std::function<void(Output, std::string)> on_output;
    // The session ended (the last callback).
    std::function<void(const absl::Status&)> on_closed;
  };
  struct Streams {
    bool stdin = false;
    bool tty = false;  // no stderr stream, a resize stream
  };
  virtual ~RemoteCommandConnection() = default;
  // The negotiated remotecommand version (1..5).
  virtual int version() const = 0;
  // Stdin, in order; `fin` ends it (SPDY FIN, or the v5 WebSocket close
  // signal; a v4 WebSocket cannot end stdin alone). `done` runs once the
  // bytes were written or dropped.
  virtual void SendStdin(std::string data, bool fin, std::function<void()> done) = 0;
  // One resize message, when the session has a resize stream.
  virtual void SendResize(std::string message) = 0;
  virtual bool closed() const = 0;
};

absl::StatusOr<std::shared_ptr<RemoteCommandConnection>> ConnectRemoteCommand(
    boost::asio::io_context& io, StreamTransport transport, const std::string& url,
    RemoteCommandConnection::Streams streams, RemoteCommandConnection::Callbacks cb);

// The path of one forwarded local connection to the pod's port.
class PortTunnel {
 public:
  struct Callbacks {
    // Pod bytes; call Consumed(size) once they were written locally.
    std::function<void(std::string)> on_data;
    // The pod closed its side: no more data (over WebSocket, the session).
    std::function<void()> on_fin;
    // The server could not forward (dial refused, ...).
    std::function<void(std::string)> on_error;
    // The tunnel broke (stream reset, session lost).
    std::function<void()> on_reset;
  };
  virtual ~PortTunnel() = default;
  // Local bytes toward the pod; `done` once written (or dropped).
  virtual void Send(std::string data, std::function<void()> done) = 0;
  // The local side sent EOF (SPDY: FIN on the data stream; a WebSocket
  // channel cannot be half-closed, the tunnel then waits for the pod).
  virtual void FinishSending() = 0;
  virtual void Consumed(size_t n) = 0;
  // Abandons the tunnel; no callback runs after this.
  virtual void Reset() = 0;
};

// Opens tunnels for one PortForward target. SPDY carries every tunnel on
// one session (one URL); over WebSocket each tunnel is a session of its own
// and needs a fresh single-use URL from `next_url`.
class PortTunnels {
 public:
  virtual ~PortTunnels() = default;
  virtual absl::StatusOr<std::unique_ptr<PortTunnel>> Open(PortTunnel::Callbacks cb) = 0;
  // Ends the session(s); open tunnels get on_reset.
  virtual void Shutdown() = 0;
};

struct PortTunnelTarget {
  StreamTransport transport = StreamTransport::kSpdy;
  std::string url;  // answered by the PortForward RPC
  // WebSocket: a fresh URL for a further tunnel (another PortForward call).
  std::function<absl::StatusOr<std::string>()> next_url;
  int remote_port = 0;
};

// Connects now (SPDY: dials and upgrades `url`; WebSocket: nothing until
// the first Open). `on_lost` runs when the shared SPDY session ends.
absl::StatusOr<std::unique_ptr<PortTunnels>> ConnectPortTunnels(
    boost::asio::io_context& io, PortTunnelTarget target,
    std::function<void(const absl::Status&)> on_lost);

}  // namespace crius::client
