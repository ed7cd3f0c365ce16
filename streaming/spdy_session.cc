#include "streaming/spdy_session.h"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;

// DATA frames carry at most this much, so one busy stream cannot hold the
// connection for long and PING answers stay prompt.
constexpr size_t kMaxDataChunk = 16 * 1024;
// Reading from the peer pauses while the application holds this many
// received bytes it has not consumed yet.
constexpr size_t kMaxUnconsumed = 4 * 1024 * 1024;
// Writes coalesce queued frames up to this size.

}  // namespace

std::shared_ptr<SpdySession> SpdySession::Create(std::unique_ptr<Transport> transport, Role role,
                                                 Callbacks callbacks) {
  return std::shared_ptr<SpdySession>(
      new SpdySession(std::move(transport), role, std::move(callbacks)));
}

SpdySession::SpdySession(std::unique_ptr<Transport> transport, Role role, Callbacks callbacks)
    : transport_(std::move(transport)),
      role_(role),
      cb_(std::move(callbacks)),
      // Clients open odd streams, servers even ones.
      next_stream_id_(role == Role::kClient ? 1 : 2),
      idle_timer_(transport_->executor()) {}

SpdySession::~SpdySession() = default;

void SpdySession::Start(std::string initial) {
  if (role_ == Role::kClient) {
    // Announce our receive window explicitly: this is also what tells a
    // crius server that we do flow control.
    Enqueue(spdy::EncodeSettings({{0, spdy::kSettingsInitialWindowSize, spdy::kDefaultWindow}}));
  }
  TouchIdle();
  if (!initial.empty()) {
    parser_.Append(initial);
    OnRead({}, 0);
  } else {
    ReadMore();
  }
}

void SpdySession::ReadMore() {
  if (reading_ || finished_ || unconsumed_ > kMaxUnconsumed) return;
  reading_ = true;
  transport_->AsyncReadSome(
      asio::buffer(read_buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        self->reading_ = false;
        if (ec) {
          self->Finish(ec == asio::error::eof || ec == asio::error::operation_aborted
                           ? absl::OkStatus()
                           : absl::UnavailableError(absl::StrCat("spdy: read: ", ec.message())));
          return;
        }
        self->parser_.Append(std::string_view(self->read_buf_, n));
        self->OnRead(ec, n);
      });
}

void SpdySession::OnRead(const boost::system::error_code&, size_t) {
  auto self = shared_from_this();  // callbacks may drop the last outside reference
  while (!finished_) {
    auto next = parser_.Next();
    if (!next.ok()) {
      CRIUS_LOG(kWarn) << "streaming: dropping SPDY connection: " << next.status().message();
      Abort(next.status());
      return;
    }
    if (!next->has_value()) break;
    absl::Status s = HandleFrame(**next);
    if (!s.ok()) {
      CRIUS_LOG(kWarn) << "streaming: dropping SPDY connection: " << s.message();
      Abort(s);
      return;
    }
  }
  ReadMore();
}

absl::Status SpdySession::HandleFrame(spdy::Frame& f) {
  switch (f.type) {
    case spdy::kSynStream:
      return HandleSynStream(f);
    case spdy::kSynReply:
      if (cb_.on_reply && streams_.count(f.stream_id)) cb_.on_reply(f.stream_id, f.headers);
      if (f.flags & spdy::kFlagFin) {
        auto it = streams_.find(f.stream_id);
        if (it != streams_.end()) {
          it->second.remote_fin = true;
          if (cb_.on_fin) cb_.on_fin(f.stream_id);
          MaybeForget(f.stream_id);
        }
      }
      return absl::OkStatus();
    case spdy::kData:
      HandleData(f);
      return absl::OkStatus();
    case spdy::kRstStream: {
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end()) return absl::OkStatus();
      DropPending(it->second);
      streams_.erase(it);
      if (cb_.on_reset) cb_.on_reset(f.stream_id, f.status);
      return absl::OkStatus();
    }
    case spdy::kSettings:
      HandleSettings(f);
      return absl::OkStatus();
    case spdy::kPing:
      // Our own pings have our parity (odd for clients, even for servers);
      // anything else is the peer's and is echoed back.
      if ((f.ping_id & 1) == (role_ == Role::kClient ? 1u : 0u)) {
        if (cb_.on_pong) cb_.on_pong(f.ping_id);
      } else {
        Enqueue(spdy::EncodePing(f.ping_id));
      }
      return absl::OkStatus();
    case spdy::kGoAway:
      // The peer opens nothing new; the streams it has keep working.
      if (streams_.empty()) Close();
      return absl::OkStatus();
    case spdy::kWindowUpdate:
      HandleWindowUpdate(f);
      return absl::OkStatus();
    default:
      return absl::OkStatus();  // HEADERS and unknown control frames
  }
}

absl::Status SpdySession::HandleSynStream(const spdy::Frame& f) {
  bool peer_is_client = role_ == Role::kServer;
  if (f.stream_id == 0 || (f.stream_id % 2 == 1) != peer_is_client) {
    return absl::InvalidArgumentError(absl::StrCat("spdy: bad stream id ", f.stream_id));
  }
  if (f.stream_id <= last_peer_stream_id_) {
    Enqueue(spdy::EncodeRstStream(f.stream_id, spdy::kProtocolError));
    return absl::OkStatus();
  }
  if (closing_) {
    Enqueue(spdy::EncodeRstStream(f.stream_id, spdy::kRefusedStream));
    return absl::OkStatus();
  }
  last_peer_stream_id_ = f.stream_id;
  StreamState& s = streams_[f.stream_id];
  s.send_window = initial_send_window_;
  s.remote_fin = f.flags & spdy::kFlagFin;
  s.local_fin = f.flags & spdy::kFlagUnidirectional;
  if (!s.local_fin) {
    // Clients (spdystream) block until the stream is answered.
    ASSIGN_OR_RETURN(std::string reply, spdy::EncodeSynReply(compressor_, f.stream_id, 0, {}));
    Enqueue(std::move(reply));
  }
  TouchIdle();
  if (cb_.on_stream) cb_.on_stream(f.stream_id, f.headers, s.remote_fin);
  MaybeForget(f.stream_id);
  return absl::OkStatus();
}

void SpdySession::HandleData(spdy::Frame& f) {
  auto it = streams_.find(f.stream_id);
  if (it == streams_.end()) {
    Enqueue(spdy::EncodeRstStream(f.stream_id, spdy::kInvalidStream));
    return;
  }
  if (it->second.remote_fin) {
    Enqueue(spdy::EncodeRstStream(f.stream_id, spdy::kStreamAlreadyClosed));
    return;
  }
  TouchIdle();
  bool fin = f.flags & spdy::kFlagFin;
  if (!f.data.empty()) {
    unconsumed_ += f.data.size();
    if (cb_.on_data) {
      cb_.on_data(f.stream_id, std::move(f.data));
    } else {
      Consumed(f.stream_id, f.data.size());
    }
  }
  if (fin) {
    it = streams_.find(f.stream_id);
    if (it == streams_.end()) return;
    it->second.remote_fin = true;
    if (cb_.on_fin) cb_.on_fin(f.stream_id);
    MaybeForget(f.stream_id);
  }
}

void SpdySession::HandleSettings(const spdy::Frame& f) {
  for (const spdy::Setting& s : f.settings) {
    if (s.id != spdy::kSettingsInitialWindowSize) continue;
    peer_flow_control_ = true;
    // A new initial window shifts every open stream's window by the change.
    int64_t delta = static_cast<int64_t>(s.value) - initial_send_window_;
    initial_send_window_ = s.value;
    for (auto& [id, st] : streams_) st.send_window += delta;
  }
  FlushAll();
}

void SpdySession::HandleWindowUpdate(const spdy::Frame& f) {
  peer_flow_control_ = true;
  if (f.stream_id == 0) {
    session_send_window_ += f.delta;
  } else {
    auto it = streams_.find(f.stream_id);
    if (it == streams_.end()) return;
    it->second.send_window += f.delta;
  }
  FlushAll();
}

absl::StatusOr<uint32_t> SpdySession::OpenStream(const spdy::Headers& headers, bool fin) {
  if (finished_ || closing_) return absl::UnavailableError("spdy: session closed");
  uint32_t id = next_stream_id_;
  next_stream_id_ += 2;
  ASSIGN_OR_RETURN(std::string frame,
                   spdy::EncodeSynStream(compressor_, id, fin ? spdy::kFlagFin : 0, 0, headers));
  StreamState& s = streams_[id];
  s.send_window = initial_send_window_;
  s.local_fin = fin;
  Enqueue(std::move(frame));
  TouchIdle();
  return id;
}

void SpdySession::Send(uint32_t id, std::string data, bool fin, std::function<void()> done) {
  auto it = streams_.find(id);
  if (finished_ || it == streams_.end() || it->second.local_fin) {
    if (done) asio::post(transport_->executor(), std::move(done));
    return;
  }
  it->second.pending.push_back({std::move(data), 0, fin, std::move(done)});
  if (fin) it->second.local_fin = true;
  FlushStream(id);
}

void SpdySession::FlushStream(uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  StreamState& s = it->second;
  while (!s.pending.empty()) {
    Pending& p = s.pending.front();
    size_t left = p.data.size() - p.offset;
    size_t n = std::min(left, kMaxDataChunk);
    if (peer_flow_control_) {
      int64_t window = std::min(s.send_window, session_send_window_);
      if (window <= 0 && left > 0) return;  // resumes on WINDOW_UPDATE
      n = std::min<size_t>(n, static_cast<size_t>(std::max<int64_t>(window, 0)));
    }
    bool last = n == left;
    std::string frame = spdy::EncodeData(id, last && p.fin ? spdy::kFlagFin : 0,
                                         std::string_view(p.data).substr(p.offset, n));
    p.offset += n;
    s.send_window -= static_cast<int64_t>(n);
    session_send_window_ -= static_cast<int64_t>(n);
    if (last) {
      Enqueue(std::move(frame), std::move(p.done));
      s.pending.pop_front();
    } else {
      Enqueue(std::move(frame));
    }
  }
  MaybeForget(id);
}

void SpdySession::FlushAll() {
  std::vector<uint32_t> ids;
  for (const auto& [id, s] : streams_) {
    if (!s.pending.empty()) ids.push_back(id);
  }
  for (uint32_t id : ids) FlushStream(id);
}

void SpdySession::Reset(uint32_t id, uint32_t status) {
  auto it = streams_.find(id);
  if (it == streams_.end() || finished_) return;
  DropPending(it->second);
  streams_.erase(it);
  Enqueue(spdy::EncodeRstStream(id, status));
}

void SpdySession::Consumed(uint32_t id, size_t n) {
  if (finished_) return;
  unconsumed_ -= std::min(unconsumed_, n);
  session_unacked_ += n;
  // Announce in half-window steps: often enough that a peer honouring the
  // 64 KiB window never stalls, rarely enough to stay cheap.
  constexpr uint32_t kStep = spdy::kDefaultWindow / 2;
  auto it = streams_.find(id);
  if (it != streams_.end() && !it->second.remote_fin) {
    it->second.unacked += n;
    if (it->second.unacked >= kStep) {
      Enqueue(spdy::EncodeWindowUpdate(id, it->second.unacked));
      it->second.unacked = 0;
    }
  }
  if (session_unacked_ >= kStep) {
    Enqueue(spdy::EncodeWindowUpdate(0, session_unacked_));
    session_unacked_ = 0;
  }
  ReadMore();
}

void SpdySession::Ping(uint32_t id) { Enqueue(spdy::EncodePing(id)); }

void SpdySession::SetIdleTimeout(absl::Duration d) {
  idle_timeout_ = d;
  TouchIdle();
}

void SpdySession::TouchIdle() {
  if (finished_ || idle_timeout_ == absl::InfiniteDuration()) return;
  idle_timer_.expires_after(absl::ToChronoNanoseconds(idle_timeout_));
  idle_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;  // rearmed or cancelled
    if (auto self = weak.lock()) self->Abort(absl::DeadlineExceededError("spdy: idle timeout"));
  });
}

void SpdySession::Close() {
  if (closing_ || finished_) return;
  closing_ = true;
  Enqueue(spdy::EncodeGoAway(last_peer_stream_id_, 0));
}

void SpdySession::Abort(const absl::Status& why) {
  if (finished_) return;
  transport_->Close();
  Finish(why);
}

void SpdySession::Enqueue(std::string bytes, std::function<void()> done) {
  if (finished_) {
    if (done) asio::post(transport_->executor(), std::move(done));
    return;
  }
  writes_.Push(std::move(bytes), std::move(done));
  WriteMore();
}

void SpdySession::WriteMore() {
  if (writes_.writing() || finished_) return;
  if (writes_.empty()) {
    if (closing_) {
      transport_->Close();
      Finish(absl::OkStatus());
    }
    return;
  }
  writes_.Flush(*transport_, [self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) {
      self->Abort(absl::UnavailableError(absl::StrCat("spdy: write: ", ec.message())));
      return;
    }
    self->WriteMore();
  });
}

void SpdySession::MaybeForget(uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const StreamState& s = it->second;
  if (s.local_fin && s.remote_fin && s.pending.empty()) streams_.erase(it);
}

void SpdySession::DropPending(StreamState& s) {
  for (Pending& p : s.pending) {
    if (p.done) asio::post(transport_->executor(), std::move(p.done));
  }
  s.pending.clear();
}

void SpdySession::Finish(const absl::Status& why) {
  if (finished_) return;
  finished_ = true;
  auto self = shared_from_this();
  idle_timer_.cancel();
  for (auto& [id, s] : streams_) DropPending(s);
  streams_.clear();
  writes_.Drop(transport_->executor());
  // The last callback; dropping the callbacks afterwards breaks the
  // reference cycle between the session and the handler that owns it.
  auto closed = std::move(cb_.on_closed);
  cb_ = Callbacks{};
  if (closed) closed(why);
}

}  // namespace crius::streaming
