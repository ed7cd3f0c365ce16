#pragma once
// Kubernetes' remotecommand protocol (exec and attach), independent of the
// transport: the SPDY and WebSocket adapters hand it the client's streams,
// it turns them into pipes for the Backend, runs the Backend call on a
// thread of the server's ThreadGroup, pumps the bytes, and reports the
// outcome on the error stream once stdout and stderr are fully flushed.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>

#include "absl/status/statusor.h"
#include "streaming/backend.h"
#include "streaming/pump.h"
#include "streaming/session_support.h"
#include "streaming/tokens.h"

namespace crius::streaming {

// Protocol versions, oldest first; the number is the channel.k8s.io
// generation (1 = "channel.k8s.io", 4 = "v4.channel.k8s.io").
inline constexpr int kRemoteCommandV1 = 1;
inline constexpr int kRemoteCommandV4 = 4;
inline constexpr int kRemoteCommandV5 = 5;

// "v4.channel.k8s.io" -> 4, "channel.k8s.io" -> 1; 0 when unknown.
int RemoteCommandVersion(std::string_view protocol);

// What the error stream carries when the call ended with `result` (an exit
// code for exec, 0 for attach). v4+: a Status JSON; older versions: the
// error text, nothing on success.
std::string ErrorStreamPayload(int version, const absl::StatusOr<int>& result);

// One output stream toward the client (a SPDY stream, a WebSocket channel).
class OutStream {
 public:
  virtual ~OutStream() = default;
  // `done` runs when the bytes left (or were dropped with the connection).
  virtual void Write(std::string data, std::function<void()> done) = 0;
  // The end of this stream (FIN; the close signal on WebSocket v5).
  virtual void Close() = 0;
};

struct RemoteCommandStreams {
  std::unique_ptr<OutStream> out;  // stdout; null when not requested
  std::unique_ptr<OutStream> err;  // stderr; null when not requested
  std::unique_ptr<OutStream> error;
  bool has_stdin = false;
};

class RemoteCommandSession : public std::enable_shared_from_this<RemoteCommandSession> {
 public:
  // `on_finished` runs once, after the outcome was written (or the session
  // was cancelled and the backend call returned); the adapter then closes
  // the connection.
  static std::shared_ptr<RemoteCommandSession> Create(boost::asio::any_io_executor ex,
                                                      PendingRequest req, Backend* backend,
                                                      ThreadGroup* threads, int version,
                                                      RemoteCommandStreams streams,
                                                      std::function<void()> on_finished);
  void Start();
  // Client input, in order; `consumed` runs once written to the process.
  void OnStdin(std::string data, std::function<void()> consumed);
  void OnStdinEof();
  void OnResize(std::string_view data);
  // The client is gone: cancel the backend call, drop further output.
  void Cancel();

 private:
  RemoteCommandSession(boost::asio::any_io_executor ex, PendingRequest req, Backend* backend,
                       ThreadGroup* threads, int version, RemoteCommandStreams streams,
                       std::function<void()> on_finished);
  std::shared_ptr<FdReader> StartOutput(UniqueFd fd, OutStream* stream);
  void OnBackendDone(absl::StatusOr<int> result);
  void MaybeReport();
  void Finish();

  boost::asio::any_io_executor ex_;
  PendingRequest req_;
  Backend* backend_;
  ThreadGroup* threads_;
  const int version_;
  RemoteCommandStreams streams_;
  std::function<void()> on_finished_;
  std::shared_ptr<ResizeQueueImpl> resize_ = std::make_shared<ResizeQueueImpl>();
  std::shared_ptr<CancellationImpl> cancel_ = std::make_shared<CancellationImpl>();
  ResizeParser resize_parser_;
  std::shared_ptr<FdWriter> stdin_;
  std::shared_ptr<FdReader> stdout_reader_;
  std::shared_ptr<FdReader> stderr_reader_;
  int outputs_open_ = 0;
  bool backend_done_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  absl::StatusOr<int> result_ = 0;
};

}  // namespace crius::streaming
