#pragma once

// A thin CRI v1 client over the generated gRPC stubs.
//
// It speaks plain CRI and assumes nothing about the runtime on the other end,
// so the same client drives criusd, containerd's CRI plugin or CRI-O in e2e
// tests and benchmarks, and backs criusctl.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/api.grpc.pb.h"
#include "api/api.pb.h"

namespace crius::client {

// kubelet caps CRI messages at 16 MiB in both directions; a client that
// allowed less would fail on big List responses that kubelet accepts.
inline constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

// kubelet's deadline for every call but RunPodSandbox and PullImage.
inline constexpr absl::Duration kDefaultCallTimeout = absl::Minutes(2);

// Translates an endpoint the way users write it for crictl
// ("unix:///run/x.sock", "unix:/run/x.sock", "/run/x.sock", "tcp://h:p")
// into a gRPC target string.
absl::StatusOr<std::string> EndpointToTarget(std::string_view endpoint);

// Keeps the canonical code (gRPC and absl share the numbering) and prefixes
// the message with the RPC name, so a caller several layers up can still
// tell which call failed.
absl::Status FromGrpcStatus(const grpc::Status& status,
                            std::string_view method);

class CriClient {
 public:
  using RuntimeStub = runtime::v1::RuntimeService::Stub;
  using ImageStub = runtime::v1::ImageService::Stub;

  // Opens a channel to `endpoint` and waits up to `connect_timeout` for it to
  // become ready. Failing here, with Unavailable, is much clearer than the
  // first RPC failing later; waiting (rather than probing once) lets callers
  // connect while a freshly started daemon is still creating its socket.
  static absl::StatusOr<std::unique_ptr<CriClient>> Connect(
      std::string endpoint, absl::Duration connect_timeout);

  CriClient(const CriClient&) = delete;
  CriClient& operator=(const CriClient&) = delete;

  const std::string& endpoint() const { return endpoint_; }

  // Deadline applied to calls that do not pass their own. A non-positive or
  // infinite value means no deadline (what kubelet does for PullImage).
  absl::Duration default_timeout() const { return default_timeout_; }
  void set_default_timeout(absl::Duration timeout) {
    default_timeout_ = timeout;
  }

  // Raw access for what the typed methods do not cover: the server streams
  // (GetContainerEvents, Stream*), async calls, custom metadata.
  RuntimeStub& runtime_stub() { return *runtime_; }
  ImageStub& image_stub() { return *image_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // A context carrying the deadline for one call; `timeout` overrides the
  // default.
  std::unique_ptr<grpc::ClientContext> NewContext(
      std::optional<absl::Duration> timeout = std::nullopt) const;

  // Any unary RPC of either service, named by its stub method, e.g.
  //   client.Call(&CriClient::RuntimeStub::Version, "Version", request);
  template <typename Stub, typename Request, typename Response>
  absl::StatusOr<Response> Call(
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                   Response*),
      std::string_view name, const Request& request,
      std::optional<absl::Duration> timeout = std::nullopt);

// One typed method per unary RPC. Every CRI RPC follows the
// <Method>Request / <Method>Response naming, which is what makes a macro
// enough here.
#define CRIUS_CRI_UNARY(Stub, Method)                         \
  absl::StatusOr<runtime::v1::Method##Response> Method(       \
      const runtime::v1::Method##Request& request = {},       \
      std::optional<absl::Duration> timeout = std::nullopt) { \
    return Call(&Stub::Method, #Method, request, timeout);    \
  }

  CRIUS_CRI_UNARY(RuntimeStub, Version)
  CRIUS_CRI_UNARY(RuntimeStub, RunPodSandbox)
  CRIUS_CRI_UNARY(RuntimeStub, StopPodSandbox)
  CRIUS_CRI_UNARY(RuntimeStub, RemovePodSandbox)
  CRIUS_CRI_UNARY(RuntimeStub, PodSandboxStatus)
  CRIUS_CRI_UNARY(RuntimeStub, ListPodSandbox)
  CRIUS_CRI_UNARY(RuntimeStub, CreateContainer)
  CRIUS_CRI_UNARY(RuntimeStub, StartContainer)
  CRIUS_CRI_UNARY(RuntimeStub, StopContainer)
  CRIUS_CRI_UNARY(RuntimeStub, RemoveContainer)
  CRIUS_CRI_UNARY(RuntimeStub, ListContainers)
  CRIUS_CRI_UNARY(RuntimeStub, ContainerStatus)
  CRIUS_CRI_UNARY(RuntimeStub, UpdateContainerResources)
  CRIUS_CRI_UNARY(RuntimeStub, ReopenContainerLog)
  CRIUS_CRI_UNARY(RuntimeStub, ExecSync)
  CRIUS_CRI_UNARY(RuntimeStub, Exec)
  CRIUS_CRI_UNARY(RuntimeStub, Attach)
  CRIUS_CRI_UNARY(RuntimeStub, PortForward)
  CRIUS_CRI_UNARY(RuntimeStub, ContainerStats)
  CRIUS_CRI_UNARY(RuntimeStub, ListContainerStats)
  CRIUS_CRI_UNARY(RuntimeStub, PodSandboxStats)
  CRIUS_CRI_UNARY(RuntimeStub, ListPodSandboxStats)
  CRIUS_CRI_UNARY(RuntimeStub, UpdateRuntimeConfig)
  CRIUS_CRI_UNARY(RuntimeStub, Status)
  CRIUS_CRI_UNARY(RuntimeStub, CheckpointContainer)
  CRIUS_CRI_UNARY(RuntimeStub, ListMetricDescriptors)
  CRIUS_CRI_UNARY(RuntimeStub, ListPodSandboxMetrics)
  CRIUS_CRI_UNARY(RuntimeStub, RuntimeConfig)
  CRIUS_CRI_UNARY(RuntimeStub, UpdatePodSandboxResources)
  CRIUS_CRI_UNARY(ImageStub, ListImages)
  CRIUS_CRI_UNARY(ImageStub, ImageStatus)
  CRIUS_CRI_UNARY(ImageStub, PullImage)
  CRIUS_CRI_UNARY(ImageStub, RemoveImage)
  CRIUS_CRI_UNARY(ImageStub, ImageFsInfo)

#undef CRIUS_CRI_UNARY

  // Shorthand for the common `Status` call with only the verbose flag.
  absl::StatusOr<runtime::v1::StatusResponse> Status(bool verbose) {
    runtime::v1::StatusRequest request;
    request.set_verbose(verbose);
    return Status(request);
  }

 private:
  CriClient(std::string endpoint, std::shared_ptr<grpc::Channel> channel);

  template <typename Stub>
  Stub& StubFor();

  std::string endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<RuntimeStub> runtime_;
  std::unique_ptr<ImageStub> image_;
  absl::Duration default_timeout_ = kDefaultCallTimeout;
};

template <typename Stub>
Stub& CriClient::StubFor() {
  if constexpr (std::is_same_v<Stub, RuntimeStub>) {
    return *runtime_;
  } else {
    static_assert(std::is_same_v<Stub, ImageStub>,
                  "Call takes a RuntimeService or ImageService stub method");
    return *image_;
  }
}

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> CriClient::Call(
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    std::string_view name, const Request& request,
    std::optional<absl::Duration> timeout) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(timeout);
  Response response;
  grpc::Status status =
      (StubFor<Stub>().*method)(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, name);
  return response;
}

}  // namespace crius::client
