#pragma once
// Moving bytes between a runtime-side fd (pipe or socket) and a protocol
// stream, on the connection's executor. Both sides wait for each other:
// FdReader reads the next chunk only after the previous one was written to
// the client, and the protocol side consumes client data only once FdWriter
// wrote it to the fd, so a slow end slows the other instead of buffering.

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace crius::streaming {

class FdReader : public std::enable_shared_from_this<FdReader> {
 public:
  using Chunk = std::function<void(std::string data, std::function<void()> done)>;
  // `on_chunk` gets each chunk and a callback to call when it is handled;
  // `on_eof` runs once at end of file or error.
  static std::shared_ptr<FdReader> Start(boost::asio::any_io_executor ex, UniqueFd fd,
                                         Chunk on_chunk, std::function<void()> on_eof);
  // Stops reading; on_eof is not called afterwards.
  void Cancel();

 private:
  FdReader(boost::asio::any_io_executor ex, UniqueFd fd, Chunk on_chunk,
           std::function<void()> on_eof);
  void ReadMore();

  boost::asio::posix::stream_descriptor sd_;
  Chunk on_chunk_;
  std::function<void()> on_eof_;
  bool cancelled_ = false;
  char buf_[32768];
};

class FdWriter : public std::enable_shared_from_this<FdWriter> {
 public:
  // `is_socket`: Finish() half-closes with shutdown(SHUT_WR) instead of
  // closing, so a socket's read side (another fd) keeps working.
  static std::shared_ptr<FdWriter> Create(boost::asio::any_io_executor ex, UniqueFd fd,
                                          bool is_socket);
  // Queues `data`; `done` runs after it was written (or dropped on error).
  void Write(std::string data, std::function<void()> done);
  // The end of the data: EOF for the reader once the queue is written.
  void Finish();
  // Drops what is queued and closes now.
  void Abort();

 private:
  FdWriter(boost::asio::any_io_executor ex, UniqueFd fd, bool is_socket);
  void WriteMore();
  void CloseFd();

  struct Item {
    std::string data;
    std::function<void()> done;
  };
  boost::asio::posix::stream_descriptor sd_;
  bool is_socket_;
  std::deque<Item> queue_;
  bool writing_ = false;
  bool finishing_ = false;
  bool closed_ = false;
};

// A pipe with O_CLOEXEC on both ends: [0] read, [1] write.
struct PipePair {
  UniqueFd read;
  UniqueFd write;
};
absl::StatusOr<PipePair> MakePipe();

}  // namespace crius::streaming
