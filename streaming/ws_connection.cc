#include "streaming/ws_connection.h"

#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
constexpr size_t kMaxUnconsumed = 4 * 1024 * 1024;

}  // namespace

std::shared_ptr<WsConnection> WsConnection::Create(std::unique_ptr<Transport> t, Callbacks cb,
                                                   Role role) {
  return std::shared_ptr<WsConnection>(new WsConnection(std::move(t), std::move(cb), role));
}

WsConnection::WsConnection(std::unique_ptr<Transport> t, Callbacks cb, Role role)
    : transport_(std::move(t)),
      cb_(std::move(cb)),
      client_(role == Role::kClient),
      reader_(/*expect_masked=*/!client_),
      idle_timer_(transport_->executor()) {}

std::string WsConnection::Frame(ws::Opcode op, std::string_view payload) const {
  return ws::EncodeFrame(op, payload, /*mask=*/client_);
}

void WsConnection::Start(std::string initial) {
  TouchIdle();
  reader_.Append(initial);
  OnBytes();
}

void WsConnection::ReadMore() {
  if (reading_ || finished_ || unconsumed_ > kMaxUnconsumed) return;
  reading_ = true;
  transport_->AsyncReadSome(asio::buffer(read_buf_), [self = shared_from_this()](
                                                         const boost::system::error_code& ec,
                                                         size_t n) {
    self->reading_ = false;
    if (ec) {
      self->Finish(ec == asio::error::eof || ec == asio::error::operation_aborted
                       ? absl::OkStatus()
                       : absl::UnavailableError(absl::StrCat("websocket: read: ", ec.message())));
      return;
    }
    self->reader_.Append(std::string_view(self->read_buf_, n));
    self->OnBytes();
  });
}

void WsConnection::OnBytes() {
  auto self = shared_from_this();
  while (!finished_) {
    auto next = reader_.Next();
    if (!next.ok()) {
      CRIUS_LOG(kWarn) << "streaming: dropping WebSocket connection: " << next.status().message();
      Abort(next.status());
      return;
    }
    if (!next->has_value()) break;
    ws::Message& m = **next;
    switch (m.opcode) {
      case ws::kPing:
        Enqueue(Frame(ws::kPong, m.payload), nullptr);
        break;
      case ws::kPong:
        break;
      case ws::kClose:
        // Answer the close (echoing its code) and end once it is written.
        if (!closing_) {
          closing_ = true;
          Enqueue(Frame(ws::kClose, m.payload.substr(0, 2)), nullptr);
        }
        return;
      default: {
        TouchIdle();
        size_t n = m.payload.size();
        unconsumed_ += n;
        std::weak_ptr<WsConnection> weak = self;
        auto consumed = [weak, n] {
          if (auto s = weak.lock()) {
            s->unconsumed_ -= std::min(s->unconsumed_, n);
            s->ReadMore();
          }
        };
        if (cb_.on_message) {
          cb_.on_message(m.opcode, std::move(m.payload), std::move(consumed));
        } else {
          consumed();
        }
      }
    }
  }
  ReadMore();
}

void WsConnection::Send(ws::Opcode op, std::string payload, std::function<void()> done) {
  if (closing_) {
    if (done) asio::post(transport_->executor(), std::move(done));
    return;
  }
  TouchIdle();
  Enqueue(Frame(op, payload), std::move(done));
}

void WsConnection::Enqueue(std::string bytes, std::function<void()> done) {
  if (finished_) {
    if (done) asio::post(transport_->executor(), std::move(done));
    return;
  }
  writes_.Push(std::move(bytes), std::move(done));
  WriteMore();
}

void WsConnection::WriteMore() {
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
      self->Abort(absl::UnavailableError(absl::StrCat("websocket: write: ", ec.message())));
      return;
    }
    self->WriteMore();
  });
}

void WsConnection::SetIdleTimeout(absl::Duration d) {
  idle_timeout_ = d;
  TouchIdle();
}

void WsConnection::TouchIdle() {
  if (finished_ || idle_timeout_ == absl::InfiniteDuration()) return;
  idle_timer_.expires_after(absl::ToChronoNanoseconds(idle_timeout_));
  idle_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock())
      self->Abort(absl::DeadlineExceededError("websocket: idle timeout"));
  });
}

void WsConnection::Close() {
  if (closing_ || finished_) return;
  Enqueue(Frame(ws::kClose, std::string("\x03\xe8", 2)), nullptr);  // 1000
  closing_ = true;
  WriteMore();
}

void WsConnection::Abort(const absl::Status& why) {
  if (finished_) return;
  transport_->Close();
  Finish(why);
}

void WsConnection::Finish(const absl::Status& why) {
  if (finished_) return;
  finished_ = true;
  auto self = shared_from_this();
  idle_timer_.cancel();
  writes_.Drop(transport_->executor());
  auto closed = std::move(cb_.on_closed);
  cb_ = Callbacks{};
  if (closed) closed(why);
}

}  // namespace crius::streaming
