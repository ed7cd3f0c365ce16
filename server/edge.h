#pragma once
// The gRPC edge: the one place every CRI call passes through. It
//   - answers UNAVAILABLE until startup recovery has finished,
//   - validates the request (INVALID_ARGUMENT naming the field),
//   - runs the call, and logs it once with its ids, duration and outcome,
//   - records the call in the operation metrics,
//   - converts absl::Status to grpc::Status, in ToGrpcStatus and nowhere else.

#include <grpcpp/support/status.h>

#include <atomic>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "metrics/operations.h"
#include "server/validate.h"

namespace crius::server {

// The single absl -> gRPC conversion. The canonical codes share numbers, so
// the code carries over as is; the message is kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

// "pod_sandbox_id=… container_id=… image=…": the ids a reader needs to follow
// one object through the log, pulled from whatever request this is.
std::string DescribeRequest(const google::protobuf::Message& request);

class Edge {
 public:
  // `recorder` may be null (no metrics), and must outlive the edge.
  explicit Edge(metrics::OperationRecorder* recorder) : recorder_(recorder) {}

  // Opens the edge once recovery has rebuilt the in-memory state.
  void SetReady() { ready_.store(true, std::memory_order_release); }
  bool Ready() const { return ready_.load(std::memory_order_acquire); }

  // Serves one call: `fn` returns absl::Status and fills the response.
  template <typename Request, typename Fn>
  grpc::Status Call(std::string_view method, const Request& request, Fn&& fn) {
    const absl::Time start = absl::Now();
    absl::Status status;
    if (!Ready()) {
      status = absl::UnavailableError("crius is starting: state recovery has not finished yet");
    } else {
      status = ValidateRequest(request);
      if (status.ok()) status = fn();
    }
    Finish(method, request, status, absl::Now() - start);
    return ToGrpcStatus(status);
  }

 private:
  void Finish(std::string_view method, const google::protobuf::Message& request,
              const absl::Status& status, absl::Duration elapsed);

  metrics::OperationRecorder* const recorder_;
  std::atomic<bool> ready_{false};
};

}  // namespace crius::server
