#include "streaming/pump.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "absl/status/statusor.h"
#include "common/status.h"

namespace crius::streaming {

namespace asio = boost::asio;

std::shared_ptr<FdReader> FdReader::Start(asio::any_io_executor ex, UniqueFd fd, Chunk on_chunk,
                                          std::function<void()> on_eof) {
  std::shared_ptr<FdReader> r(
      new FdReader(std::move(ex), std::move(fd), std::move(on_chunk), std::move(on_eof)));
  r->ReadMore();
  return r;
}

FdReader::FdReader(asio::any_io_executor ex, UniqueFd fd, Chunk on_chunk,
                   std::function<void()> on_eof)
    : sd_(ex, fd.release()), on_chunk_(std::move(on_chunk)), on_eof_(std::move(on_eof)) {}

void FdReader::ReadMore() {
  if (cancelled_) return;
  sd_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](
                                              const boost::system::error_code& ec, size_t n) {
    if (self->cancelled_) return;
    if (ec || n == 0) {
      boost::system::error_code ignored;
      self->sd_.close(ignored);
      self->cancelled_ = true;
      auto eof = std::move(self->on_eof_);
      self->on_chunk_ = nullptr;
      if (eof) eof();
      return;
    }
    self->on_chunk_(std::string(self->buf_, n), [self] { self->ReadMore(); });
  });
}

void FdReader::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  on_chunk_ = nullptr;
  on_eof_ = nullptr;
  boost::system::error_code ignored;
  sd_.close(ignored);
}

std::shared_ptr<FdWriter> FdWriter::Create(asio::any_io_executor ex, UniqueFd fd, bool is_socket) {
  return std::shared_ptr<FdWriter>(new FdWriter(std::move(ex), std::move(fd), is_socket));
}

FdWriter::FdWriter(asio::any_io_executor ex, UniqueFd fd, bool is_socket)
    : sd_(ex, fd.release()), is_socket_(is_socket) {}

void FdWriter::Write(std::string data, std::function<void()> done) {
  if (closed_ || finishing_) {
    if (done) asio::post(sd_.get_executor(), std::move(done));
    return;
  }
  queue_.push_back({std::move(data), std::move(done)});
  WriteMore();
}

void FdWriter::WriteMore() {
  if (writing_ || closed_) return;
  if (queue_.empty()) {
    if (finishing_) CloseFd();
    return;
  }
  writing_ = true;
  asio::async_write(sd_, asio::buffer(queue_.front().data),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->writing_ = false;
                      if (self->queue_.empty()) return;  // aborted meanwhile
                      auto done = std::move(self->queue_.front().done);
                      self->queue_.pop_front();
                      if (done) done();
                      if (ec) {
                        // The reader went away (EPIPE): drop the rest but keep
                        // acknowledging, so the client side is not stalled.
                        self->Abort();
                        return;
                      }
                      self->WriteMore();
                    });
}

void FdWriter::Finish() {
  finishing_ = true;
  WriteMore();
}

void FdWriter::Abort() {
  for (Item& i : queue_) {
    if (i.done) asio::post(sd_.get_executor(), std::move(i.done));
  }
  queue_.clear();
  CloseFd();
}

void FdWriter::CloseFd() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  if (is_socket_) ::shutdown(sd_.native_handle(), SHUT_WR);
  sd_.close(ignored);
}

absl::StatusOr<PipePair> MakePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  return PipePair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace crius::streaming
