#pragma once
// CriService answers every CRI call in crius's own terms: absl::Status in,
// protobuf messages as the data. It knows nothing of gRPC; the adapters in
// grpc_services.cc route each RPC here through the Edge.
//
// Each RPC is a member named like the RPC. The ones a later piece of work
// will build are defined in unimplemented.cc and answer UNIMPLEMENTED.

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/api.pb.h"
#include "server/config.h"
#include "server/rpcs.h"

namespace crius::cni {
class NetworkManager;
}  // namespace crius::cni
namespace crius::image {
class ImageManager;
}  // namespace crius::image

namespace crius::streaming {
class Server;
}  // namespace crius::streaming

namespace crius::server {

class SandboxManager;
class ContainerManager;
class StatsCollector;
class ContainerEventHub;
struct ContainerRecord;
struct PodSample;

// The runtime's view of itself that Version and Status report.
// What a call knows of its caller: the deadline kubelet gave it. Work that
// outlives the deadline (a slow pod start) is parked for kubelet's retry.
struct CallContext {
  absl::Time deadline = absl::InfiniteFuture();
  bool Expired() const { return absl::Now() >= deadline; }
  // Server streams only: whether the client has gone (a long-lived stream
  // that has nothing to send must still notice), and a way to send the
  // response headers early, so the client knows the stream is set up
  // (GetContainerEvents: subscribed) before the first message.
  std::function<bool()> cancelled;
  std::function<void()> headers_ready;
};

struct RuntimeIdentity {
  std::string name = "crius";
  std::string version;  // the project version
};

// The parts CriService routes calls to; owned by the Daemon.
struct Components {
  cni::NetworkManager* network = nullptr;
  SandboxManager* sandboxes = nullptr;
  image::ImageManager* images = nullptr;
  ContainerManager* containers = nullptr;
  StatsCollector* stats = nullptr;  // null: the stats RPCs answer INTERNAL
  ContainerEventHub* events = nullptr;  // null: GetContainerEvents is UNIMPLEMENTED
  // Mints the URLs of Exec/Attach/PortForward; null: those are UNAVAILABLE.
  streaming::Server* streaming = nullptr;
};

class CriService {
 public:
  CriService(const Config& config, RuntimeIdentity identity, Components components);

#define CRIUS_DECLARE_UNARY(M) \
  absl::Status M(const CallContext& ctx, const runtime::v1::M##Request& req, \
                 runtime::v1::M##Response* resp);
  CRIUS_RUNTIME_UNARY_RPCS(CRIUS_DECLARE_UNARY)
  CRIUS_IMAGE_UNARY_RPCS(CRIUS_DECLARE_UNARY)
#undef CRIUS_DECLARE_UNARY

  // A server stream hands each response to `send`, which returns false once
  // the client is gone.
#define CRIUS_DECLARE_STREAM(M, Req, Resp)          \
  absl::Status M(const CallContext& ctx, const runtime::v1::Req& req, \
                 const std::function<bool(const runtime::v1::Resp&)>& send);
  CRIUS_RUNTIME_STREAM_RPCS(CRIUS_DECLARE_STREAM)
  CRIUS_IMAGE_STREAM_RPCS(CRIUS_DECLARE_STREAM)
#undef CRIUS_DECLARE_STREAM

 private:
  runtime::v1::RuntimeCondition RuntimeReadyCondition() const;
  runtime::v1::RuntimeCondition NetworkReadyCondition() const;
  std::string ImageRefFor(const ContainerRecord& r) const;
  // Stats (stats_service.cc, pod_metrics.cc): samples of the pods the
  // filter matches; an empty filter also prunes what removed pods left.
  std::vector<PodSample> SampleMatchingPods(const runtime::v1::PodSandboxStatsFilter& filter);
  std::vector<runtime::v1::PodSandboxMetrics> AllPodMetrics();
  // The full id of a running container (NOT_FOUND, FAILED_PRECONDITION).
  absl::StatusOr<std::string> RunningContainerId(const std::string& id) const;

  const Config& config_;
  const RuntimeIdentity identity_;
  cni::NetworkManager* const network_;
  SandboxManager* const sandboxes_;
  image::ImageManager* const images_;
  ContainerManager* const containers_;
  StatsCollector* const stats_;
  ContainerEventHub* const events_;
  streaming::Server* const streaming_;
  mutable absl::Mutex mu_;
  // The pod CIDR kubelet hands over through UpdateRuntimeConfig.
  std::string pod_cidr_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crius::server
