#pragma once
// The criusd process around the CRI services: it owns the state-dir lock, the
// CRI socket, the gRPC server, the metrics listener, and startup recovery.

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <thread>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cni/network_manager.h"
#include "common/os.h"
#include "common/unique_fd.h"
#include "metrics/operations.h"
#include "server/config.h"
#include "server/cri_service.h"
#include "server/edge.h"
#include "image/image_manager.h"
#include "server/container_events.h"
#include "server/container_manager.h"
#include "server/event_source.h"
#include "server/sandbox_manager.h"
#include "server/stats_collector.h"
#include "server/streaming_backend.h"
#include "streaming/server.h"

namespace crius::server {

class Daemon {
 public:
  // Takes the lock, claims the socket (replacing a stale one, refusing one
  // that another process serves), starts serving, runs recovery and then
  // opens the edge. `config` must have been through Resolve.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(const Config& config);
  ~Daemon();

  // Stops accepting calls, lets in-flight ones finish for up to `grace`,
  // then removes the socket and releases the lock.
  void Shutdown(absl::Duration grace);

  std::string MetricsAddress() const { return metrics_->BoundAddress(); }

 private:
  explicit Daemon(const Config& config);
  absl::Status Lock();
  absl::Status ClaimSocket();
  absl::Status Serve();
  absl::Status Recover();
  absl::Status StartComponents();
  void StartEvents();
  void AddStateGauges();
  absl::Status StartStreaming();
  void JanitorLoop();

  const Config config_;
  std::string socket_path_;
  UniqueFd lock_fd_;
  std::unique_ptr<metrics::Metrics> metrics_;
  RealOs os_;
  bool cgroups_layout_v2_ = false;
  std::unique_ptr<sandbox::CgroupManager> cgroup_manager_;
  std::unique_ptr<cni::NetworkManager> network_;
  std::unique_ptr<SandboxManager> sandboxes_;
  std::unique_ptr<image::ImageManager> images_;
  std::map<std::string, HandlerClients> handlers_;
  // Declared between the managers and the container manager: the source is
  // destroyed after the container manager (whose exit watcher notifies it)
  // and before the sandbox and image managers it reads from.
  std::unique_ptr<ContainerEventHub> events_;
  std::unique_ptr<ContainerEventSource> event_source_;
  std::unique_ptr<ContainerManager> containers_;
  std::unique_ptr<StatsCollector> stats_;
  // Exec/attach/port-forward: the server calls the backend, which uses the
  // managers above (so both are declared, and destroyed, after them).
  std::unique_ptr<StreamingBackend> streaming_backend_;
  std::unique_ptr<streaming::Server> streaming_;
  // Reaps pods whose RunPodSandbox finished after kubelet gave up and was
  // never retried.
  // Reaps the orphans reparented to criusd as a child subreaper.
  void ReaperLoop();
  std::thread reaper_;
  std::atomic<bool> reaper_stop_{false};
  std::thread janitor_;
  absl::Mutex janitor_mu_;
  bool stopping_ ABSL_GUARDED_BY(janitor_mu_) = false;
  std::unique_ptr<Edge> edge_;
  std::unique_ptr<CriService> cri_;
  std::unique_ptr<grpc::Service> runtime_service_;
  std::unique_ptr<grpc::Service> image_service_;
  std::unique_ptr<grpc::Server> server_;
  bool serving_ = false;
  bool shut_down_ = false;
};

}  // namespace crius::server
