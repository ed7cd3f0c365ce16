#include "client/cri_client.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/absl_view.h"

namespace crius::client {
namespace {

absl::string_view ChannelStateName(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE:
      return "IDLE";
    case GRPC_CHANNEL_CONNECTING:
      return "CONNECTING";
    case GRPC_CHANNEL_READY:
      return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

}  // namespace

absl::StatusOr<std::string> EndpointToTarget(std::string_view endpoint_view) {
  absl::string_view endpoint = AbslView(endpoint_view);
  if (endpoint.empty()) {
    return absl::InvalidArgumentError("empty CRI endpoint");
  }
  absl::string_view path;
  if (absl::StartsWith(endpoint, "unix://")) {
    path = endpoint.substr(7);
  } else if (absl::StartsWith(endpoint, "unix-abstract:")) {
    return std::string(endpoint);
  } else if (absl::StartsWith(endpoint, "unix:")) {
    path = endpoint.substr(5);
  } else if (absl::StartsWith(endpoint, "tcp://")) {
    // gRPC resolves a bare host:port through its default DNS resolver.
    absl::string_view host_port = endpoint.substr(6);
    if (host_port.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("CRI endpoint ", endpoint, " has no host:port"));
    }
    return std::string(host_port);
  } else if (absl::StrContains(endpoint, "://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported CRI endpoint ", endpoint,
        " (want unix:///path, unix:path, a bare path or tcp://host:port)"));
  } else {
    path = endpoint;
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("CRI endpoint ", endpoint, " has no socket path"));
  }
  // "unix:<path>" is gRPC's spelling for both absolute and relative paths,
  // so every form above collapses into it.
  return absl::StrCat("unix:", path);
}

absl::Status FromGrpcStatus(const grpc::Status& status,
                            std::string_view method) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat(AbslView(method), ": ", status.error_message()));
}

CriClient::CriClient(std::string endpoint,
                     std::shared_ptr<grpc::Channel> channel)
    : endpoint_(std::move(endpoint)),
      channel_(std::move(channel)),
      runtime_(runtime::v1::RuntimeService::NewStub(channel_)),
      image_(runtime::v1::ImageService::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<CriClient>> CriClient::Connect(
    std::string endpoint, absl::Duration connect_timeout) {
  absl::StatusOr<std::string> target = EndpointToTarget(endpoint);
  if (!target.ok()) return target.status();

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // gRPC's default reconnect backoff starts at a second and grows to two
  // minutes; a client waiting for a daemon that is still starting should
  // notice its socket within a fraction of a second instead.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      *target, grpc::InsecureChannelCredentials(), args);

  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + connect_timeout))) {
    return absl::UnavailableError(absl::StrCat(
        "connect to CRI endpoint ", endpoint, ": not ready within ",
        absl::FormatDuration(connect_timeout), " (channel ",
        ChannelStateName(channel->GetState(/*try_to_connect=*/false)), ")"));
  }
  return std::unique_ptr<CriClient>(
      new CriClient(std::move(endpoint), std::move(channel)));
}

std::unique_ptr<grpc::ClientContext> CriClient::NewContext(
    std::optional<absl::Duration> timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  absl::Duration limit = timeout.value_or(default_timeout_);
  if (limit > absl::ZeroDuration() && limit != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + limit));
  }
  return context;
}

}  // namespace crius::client
