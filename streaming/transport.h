#pragma once
// A byte stream under an upgraded connection (plain TCP or TLS), behind one
// small interface so SPDY and WebSocket sessions are written once. All
// calls and completions happen on the transport's executor: each connection
// lives on one single-threaded io_context of the server's pool, so sessions
// need no locks of their own.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace crius::streaming {

class Transport {
 public:
  using Handler = std::function<void(const boost::system::error_code&, size_t)>;
  virtual ~Transport() = default;
  // At most one read and one write outstanding at a time.
  virtual void AsyncReadSome(boost::asio::mutable_buffer buf, Handler h) = 0;
  // Completes when all of `buf` is written (or on error).
  virtual void AsyncWrite(boost::asio::const_buffer buf, Handler h) = 0;
  // Ends the connection now; outstanding operations complete with an error.
  virtual void Close() = 0;
  virtual boost::asio::any_io_executor executor() = 0;
};

// Outgoing bytes of one connection, in order, written in batches of up to
// 256 KiB with one write outstanding; each entry's `done` runs once its
// batch is on the wire. Shared by the SPDY and WebSocket sessions.
class WriteQueue {
 public:
  void Push(std::string bytes, std::function<void()> done);
  bool empty() const { return out_.empty(); }
  bool writing() const { return writing_; }
  // Starts one batched write (the caller checks !writing() && !empty());
  // `written` runs after the batch's `done` callbacks. It must keep the
  // queue's owner alive.
  void Flush(Transport& transport,
             std::function<void(const boost::system::error_code&)> written);
  // Posts every pending `done` to `executor` and drops the bytes.
  void Drop(const boost::asio::any_io_executor& executor);

 private:
  struct Entry {
    std::string bytes;
    std::function<void()> done;
  };
  std::deque<Entry> out_;
  std::string batch_;
  std::vector<std::function<void()>> batch_done_;
  bool writing_ = false;
};

std::unique_ptr<Transport> MakeTcpTransport(boost::asio::ip::tcp::socket socket);
std::unique_ptr<Transport> MakeTlsTransport(
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> stream);

}  // namespace crius::streaming
