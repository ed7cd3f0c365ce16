#pragma once
// One WebSocket connection on the transport's executor: messages in,
// messages out in order, pings answered, close handshake, idle timeout.
// The server role (the streaming server) expects masked frames and sends
// unmasked ones; the client role (criusctl) the other way round, as RFC 6455
// section 5.1 demands. Like SpdySession, every call and callback happens on
// the connection's single-threaded executor.

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "streaming/transport.h"
#include "streaming/ws_frame.h"

namespace crius::streaming {

class WsConnection : public std::enable_shared_from_this<WsConnection> {
 public:
  struct Callbacks {
    // A text or binary message; call `consumed` once it is handled (reading
    // pauses while too much is unconsumed).
    std::function<void(ws::Opcode, std::string, std::function<void()> consumed)> on_message;
    // Last callback.
    std::function<void(const absl::Status&)> on_closed;
  };
  enum class Role { kServer, kClient };
  static std::shared_ptr<WsConnection> Create(std::unique_ptr<Transport> t, Callbacks cb,
                                              Role role = Role::kServer);
  void Start(std::string initial);
  // `done` runs once written (or dropped with the connection).
  void Send(ws::Opcode op, std::string payload, std::function<void()> done = nullptr);
  void SetIdleTimeout(absl::Duration d);
  // Close frame (normal closure), then the transport once it is written.
  void Close();
  void Abort(const absl::Status& why);
  // Closing or closed: what is sent now is dropped.
  bool closed() const { return closing_ || finished_; }

 private:
  WsConnection(std::unique_ptr<Transport> t, Callbacks cb, Role role);
  std::string Frame(ws::Opcode op, std::string_view payload) const;
  void ReadMore();
  void OnBytes();
  void Enqueue(std::string bytes, std::function<void()> done);
  void WriteMore();
  void TouchIdle();
  void Finish(const absl::Status& why);

  std::unique_ptr<Transport> transport_;
  Callbacks cb_;
  const bool client_;  // masks what it sends, expects unmasked frames
  ws::FrameReader reader_;
  WriteQueue writes_;
  bool reading_ = false;
  bool closing_ = false;
  bool finished_ = false;
  size_t unconsumed_ = 0;
  char read_buf_[16384];
  boost::asio::steady_timer idle_timer_;
  absl::Duration idle_timeout_ = absl::InfiniteDuration();
};

}  // namespace crius::streaming
