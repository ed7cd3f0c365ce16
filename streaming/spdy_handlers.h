#pragma once
// The server side of remotecommand (exec/attach) and portforward over an
// upgraded SPDY/3.1 connection. Each call takes ownership of the transport
// and keeps itself alive until the connection ends.

#include <memory>
#include <string>

#include "streaming/handler_context.h"
#include "streaming/tokens.h"
#include "streaming/transport.h"

namespace crius::streaming {

// `protocol` is the negotiated X-Stream-Protocol-Version ("" for none).
void ServeSpdyRemoteCommand(const HandlerContext& ctx, PendingRequest req, std::string protocol,
                            std::unique_ptr<Transport> transport, std::string initial);

void ServeSpdyPortForward(const HandlerContext& ctx, PendingRequest req,
                          std::unique_ptr<Transport> transport, std::string initial);

}  // namespace crius::streaming
