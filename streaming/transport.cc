#include "streaming/transport.h"

#include <boost/asio/post.hpp>

#include <boost/asio/write.hpp>

namespace crius::streaming {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class TcpTransport : public Transport {
 public:
  explicit TcpTransport(tcp::socket s) : socket_(std::move(s)) {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);  // interactive shells want low latency
  }
  void AsyncReadSome(asio::mutable_buffer buf, Handler h) override {
    socket_.async_read_some(buf, std::move(h));
  }
  void AsyncWrite(asio::const_buffer buf, Handler h) override {
    asio::async_write(socket_, buf, std::move(h));
  }
  void Close() override {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  asio::any_io_executor executor() override { return socket_.get_executor(); }

 private:
  tcp::socket socket_;
};

class TlsTransport : public Transport {
 public:
  explicit TlsTransport(std::unique_ptr<asio::ssl::stream<tcp::socket>> s)
      : stream_(std::move(s)) {}
  void AsyncReadSome(asio::mutable_buffer buf, Handler h) override {
    stream_->async_read_some(buf, std::move(h));
  }
  void AsyncWrite(asio::const_buffer buf, Handler h) override {
    asio::async_write(*stream_, buf, std::move(h));
  }
  void Close() override {
    // No TLS close_notify round trip: the peer is either done or gone, and
    // waiting for its answer could hold the session open.
    boost::system::error_code ec;
    stream_->lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_->lowest_layer().close(ec);
  }
  asio::any_io_executor executor() override { return stream_->get_executor(); }

 private:
  std::unique_ptr<asio::ssl::stream<tcp::socket>> stream_;
};

}  // namespace

std::unique_ptr<Transport> MakeTcpTransport(tcp::socket socket) {
  return std::make_unique<TcpTransport>(std::move(socket));
}

std::unique_ptr<Transport> MakeTlsTransport(std::unique_ptr<asio::ssl::stream<tcp::socket>> s) {
  return std::make_unique<TlsTransport>(std::move(s));
}

namespace {
constexpr size_t kMaxWriteBatch = 256 * 1024;
}  // namespace

void WriteQueue::Push(std::string bytes, std::function<void()> done) {
  out_.push_back({std::move(bytes), std::move(done)});
}

void WriteQueue::Flush(Transport& transport,
                       std::function<void(const boost::system::error_code&)> written) {
  batch_.clear();
  while (!out_.empty() &&
         (batch_.empty() || batch_.size() + out_.front().bytes.size() <= kMaxWriteBatch)) {
    batch_.append(out_.front().bytes);
    if (out_.front().done) batch_done_.push_back(std::move(out_.front().done));
    out_.pop_front();
  }
  writing_ = true;
  transport.AsyncWrite(boost::asio::buffer(batch_),
                       [this, written = std::move(written)](const boost::system::error_code& ec,
                                                            size_t) {
                         writing_ = false;
                         auto done = std::move(batch_done_);
                         batch_done_.clear();
                         for (auto& d : done) d();
                         written(ec);
                       });
}

void WriteQueue::Drop(const boost::asio::any_io_executor& executor) {
  for (Entry& e : out_) {
    if (e.done) boost::asio::post(executor, std::move(e.done));
  }
  out_.clear();
}

}  // namespace crius::streaming
