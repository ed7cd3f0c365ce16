#pragma once

// criusctl's side of exec/attach/port-forward once the runtime answered a
// streaming URL: interactive (stdin is pumped while the command runs,
// output is written as it arrives), unlike streaming/client.h's one-shot
// helpers that the server tests use. SPDY/3.1 or WebSocket
// (stream_connection.h); the local side is pumped the same way for both.

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "client/stream_connection.h"

namespace crius::client {

struct RemoteCommandIo {
  StreamTransport transport = StreamTransport::kSpdy;
  bool stdin = false;  // read `in_fd` to EOF and send it
  bool tty = false;    // one output stream, resize stream, raw terminal
  int in_fd = 0;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
};

// Runs exec/attach on `url` to the end. Returns the remote exit code (0 for
// attach), or the error the server reported.
absl::StatusOr<int> RunRemoteCommand(const std::string& url,
                                     const RemoteCommandIo& io);

// Turns what the error stream carried into an exit code: a v4+ Status JSON,
// or (older versions) an error text that is empty on success.
absl::StatusOr<int> ExitCodeFromErrorStream(int version,
                                            const std::string& payload);

// Listens on 127.0.0.1:`local_port` and relays every accepted connection
// to `target.remote_port` through tunnels to `target` (one SPDY session for
// all; over WebSocket a session per connection), until the SPDY session
// ends or SIGINT/SIGTERM arrives (the handlers are installed before the
// listener, so a connectable port means they are in place).
absl::Status RunPortForward(PortTunnelTarget target, int local_port, std::ostream& err);

}  // namespace crius::client
