#include "streaming/ws_handlers.h"

namespace crius::streaming {

absl::StatusOr<WebSocketStart> PrepareWebSocket(
    const boost::beast::http::request<boost::beast::http::empty_body>&, std::string_view,
    PendingRequest) {
  return absl::UnimplementedError("websocket: not supported yet");
}

}  // namespace crius::streaming
