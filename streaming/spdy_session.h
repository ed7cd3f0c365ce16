#pragma once
// One SPDY/3.1 connection, in either role (the server's streams come from
// the client; criusctl and the tests play the client). Event-driven on the
// transport's single-threaded executor: every method must be called there
// (post to it from other threads), and every callback runs there.
//
// Flow control: each direction has a session window and a window per
// stream, 64 KiB at the start. We always tell the peer what we consumed
// (WINDOW_UPDATE), but we only hold our own sending to the peer's windows
// once the peer has shown it does flow control (a SETTINGS with
// INITIAL_WINDOW_SIZE or any WINDOW_UPDATE): Go's spdystream, which kubelet,
// crictl and client-go use, never sends WINDOW_UPDATE, so a sender that
// waited for one would stall every stream after 64 KiB. Peers that ignore
// our windows are throttled by TCP instead: reading pauses while too many
// received bytes are still unconsumed.

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "streaming/spdy_frame.h"
#include "streaming/transport.h"

namespace crius::streaming {

class SpdySession : public std::enable_shared_from_this<SpdySession> {
 public:
  enum class Role { kClient, kServer };

  struct Callbacks {
    // The peer opened stream `id` (already answered with SYN_REPLY).
    std::function<void(uint32_t id, const spdy::Headers&, bool fin)> on_stream;
    // The peer answered a stream we opened.
    std::function<void(uint32_t id, const spdy::Headers&)> on_reply;
    // Data on a stream; call Consumed(id, size) once it is handled.
    std::function<void(uint32_t id, std::string data)> on_data;
    // The peer half-closed the stream (FIN).
    std::function<void(uint32_t id)> on_fin;
    std::function<void(uint32_t id, uint32_t status)> on_reset;
    // The answer to a PING we sent.
    std::function<void(uint32_t id)> on_pong;
    // Last callback: the connection is gone (OK when closed in order).
    std::function<void(const absl::Status&)> on_closed;
  };

  static std::shared_ptr<SpdySession> Create(std::unique_ptr<Transport> transport, Role role,
                                             Callbacks callbacks);
  ~SpdySession();

  // `initial` holds bytes already read past the HTTP upgrade.
  void Start(std::string initial = "");

  // Opens a stream from our side.
  absl::StatusOr<uint32_t> OpenStream(const spdy::Headers& headers, bool fin = false);
  // Queues data (and FIN) on a stream; `done` runs once the bytes were
  // written to the transport (or dropped because the stream or session
  // ended), which is what producers wait for before sending more.
  void Send(uint32_t id, std::string data, bool fin, std::function<void()> done = nullptr);
  void Reset(uint32_t id, uint32_t status);
  // Gives `n` received bytes of stream `id` back to the peer's windows.
  void Consumed(uint32_t id, size_t n);
  void Ping(uint32_t id);
  // No DATA or new stream for this long closes the session (PINGs do not
  // count: clients send them every few seconds regardless).
  void SetIdleTimeout(absl::Duration d);
  // GOAWAY, then closes the transport after everything queued was written.
  void Close();
  // Drops the connection now.
  void Abort(const absl::Status& why);
  bool closed() const { return finished_; }

 private:
  struct Pending {
    std::string data;
    size_t offset = 0;
    bool fin = false;
    std::function<void()> done;
  };
  struct StreamState {
    bool local_fin = false;
    bool remote_fin = false;
    int64_t send_window = spdy::kDefaultWindow;
    uint32_t unacked = 0;  // consumed but not yet announced by WINDOW_UPDATE
    std::deque<Pending> pending;
  };
  SpdySession(std::unique_ptr<Transport> transport, Role role, Callbacks callbacks);

  void ReadMore();
  void OnRead(const boost::system::error_code& ec, size_t n);
  absl::Status HandleFrame(spdy::Frame& f);
  absl::Status HandleSynStream(const spdy::Frame& f);
  void HandleData(spdy::Frame& f);
  void HandleSettings(const spdy::Frame& f);
  void HandleWindowUpdate(const spdy::Frame& f);
  void FlushStream(uint32_t id);
  void FlushAll();
  void Enqueue(std::string bytes, std::function<void()> done = nullptr);
  void WriteMore();
  void MaybeForget(uint32_t id);
  void DropPending(StreamState& s);
  void TouchIdle();
  void Finish(const absl::Status& why);

  std::unique_ptr<Transport> transport_;
  const Role role_;
  Callbacks cb_;
  spdy::FrameParser parser_;
  spdy::HeaderCompressor compressor_;
  std::map<uint32_t, StreamState> streams_;
  WriteQueue writes_;
  bool reading_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool peer_flow_control_ = false;
  int64_t session_send_window_ = spdy::kDefaultWindow;
  int64_t initial_send_window_ = spdy::kDefaultWindow;
  uint32_t session_unacked_ = 0;
  size_t unconsumed_ = 0;  // received bytes the application still holds
  uint32_t next_stream_id_;
  uint32_t last_peer_stream_id_ = 0;
  char read_buf_[16384];
  boost::asio::steady_timer idle_timer_;
  absl::Duration idle_timeout_ = absl::InfiniteDuration();
};

}  // namespace crius::streaming
