#pragma once
// The server side of remotecommand and portforward over WebSocket
// (RFC 6455) with Kubernetes' channel subprotocols.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include "absl/status/statusor.h"
#include "streaming/handler_context.h"
#include "streaming/tokens.h"
#include "streaming/transport.h"

namespace crius::streaming {

struct WebSocketStart {
  std::string response;  // the 101 answer to write first
  // Runs the session once the answer is written.
  std::function<void(const HandlerContext&, std::unique_ptr<Transport>, std::string initial)> start;
};

// Validates the handshake and negotiates the subprotocol; errors are the
// 400 text for the client.
absl::StatusOr<WebSocketStart> PrepareWebSocket(
    const boost::beast::http::request<boost::beast::http::empty_body>& req,
    std::string_view target, PendingRequest pending);

}  // namespace crius::streaming
