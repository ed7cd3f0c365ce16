#include "server/daemon.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/child_reaper.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "metrics/callback_collectable.h"
#include "metrics/process_collector.h"
#include "server/container_metrics.h"
#include "server/grpc_services.h"

namespace crius::server {
namespace {

// What connect() says about a socket path: someone serves it, or it is a
// leftover of a process that died without removing it.
enum class SocketState { kAbsent, kServed, kStale, kNotSocket };

SocketState ProbeSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return SocketState::kAbsent;
  if (!S_ISSOCK(st.st_mode)) return SocketState::kNotSocket;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return SocketState::kStale;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    return SocketState::kServed;
  }
  return SocketState::kStale;
}

std::string ReadLockOwner(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "unknown";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown" : s;
}

// The lowest oom_score_adj containers may get. Without CAP_SYS_RESOURCE
// the kernel refuses to go below criusd's own value, and runc then fails
// every container; probing once at startup lets crius clamp instead.
int OomScoreAdjFloor() {
  auto current = ReadFile("/proc/self/oom_score_adj", 64);
  int own = 0;
  if (!current.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*current), &own)) return 0;
  if (own <= -1000) return -1000;
  UniqueFd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
  const std::string lower = std::to_string(own - 1);
  if (!fd.valid() || ::write(fd.get(), lower.data(), lower.size()) < 0) {
    CRIUS_LOG(kInfo) << "oom_score_adj below " << own
                     << " is refused here (no CAP_SYS_RESOURCE); containers are clamped to " << own;
    return own;
  }
  const std::string restore = std::to_string(own);
  (void)::pwrite(fd.get(), restore.data(), restore.size(), 0);
  return -1000;
}

constexpr size_t kMaxStateDirLength = 107 - (sizeof("/attach/") - 1) - 32 - (sizeof("/attach") - 1);

}  // namespace

Daemon::Daemon(const Config& config) : config_(config) {}

Daemon::~Daemon() { Shutdown(absl::Seconds(5)); }

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const Config& config) {
  std::unique_ptr<Daemon> d(new Daemon(config));
  // Containers' attach sockets live at <state>/attach/<32 chars>/attach,
  // which must fit a unix socket path (107 bytes); refuse at startup rather
  // than fail every CreateContainer.
  if (config.state.size() > kMaxStateDirLength) {
    return absl::InvalidArgumentError(absl::StrCat("state dir ", config.state, " is longer than ",
                                                   kMaxStateDirLength,
                                                   " bytes: container attach sockets would not fit"));
  }
  d->socket_path_ = config.ListenPath();
  RETURN_IF_ERROR(MkdirAll(config.state, 0711));
  RETURN_IF_ERROR(MkdirAll(config.root, 0711));
  RETURN_IF_ERROR(d->Lock());
  // Before anything is spawned: conmon, pause and the commands of killed
  // `runc exec`s are reparented to criusd and reaped here, not by PID 1.
  if (auto s = BecomeChildSubreaper(); !s.ok()) {
    CRIUS_LOG(kWarn) << "not a child subreaper, orphans go to PID 1: " << s;
  }
  d->reaper_ = std::thread([raw = d.get()] { raw->ReaperLoop(); });
  RETURN_IF_ERROR(d->ClaimSocket());
  ASSIGN_OR_RETURN(d->metrics_,
                   metrics::Metrics::Start(config.metrics.enabled ? config.metrics.address : ""));
  d->metrics_->AddCollectable(std::make_shared<metrics::ProcessCollector>());
  d->edge_ = std::make_unique<Edge>(d->metrics_.get());
  RETURN_IF_ERROR(d->StartComponents());
  d->StartEvents();
  d->AddStateGauges();
  if (config.metrics.per_container) {
    d->metrics_->AddCollectable(
        std::make_shared<ContainerMetricsCollector>(*d->sandboxes_, *d->containers_, *d->stats_));
  }
  RETURN_IF_ERROR(d->StartStreaming());
  d->cri_ = std::make_unique<CriService>(
      d->config_, RuntimeIdentity{"crius", CRIUS_VERSION},
      Components{d->network_.get(), d->sandboxes_.get(), d->images_.get(), d->containers_.get(),
                 d->stats_.get(), d->events_.get(), d->streaming_.get()});
  RETURN_IF_ERROR(d->Serve());
  // The socket is up before recovery so that clients connecting early get a
  // clear UNAVAILABLE instead of a refused connection.
  RETURN_IF_ERROR(d->Recover());
  d->edge_->SetReady();
  d->janitor_ = std::thread([raw = d.get()] { raw->JanitorLoop(); });
  CRIUS_LOG(kInfo) << "crius " << CRIUS_VERSION << " serving CRI on " << d->socket_path_
                   << (d->metrics_->BoundAddress().empty()
                           ? std::string()
                           : absl::StrCat(", metrics on http://", d->metrics_->BoundAddress(), "/metrics"))
                   << ", streaming on " << d->streaming_->BaseUrl();
  return d;
}

absl::Status Daemon::Lock() {
  const std::string path = config_.state + "/crius.lock";
  lock_fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd_.valid()) return ErrnoStatus(absl::StrCat("open lock file ", path));
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::AlreadyExistsError(absl::StrCat(
          "another criusd (pid ", ReadLockOwner(lock_fd_.get()), ") already runs with state dir ",
          config_.state, " (lock ", path, " is held)"));
    }
    return ErrnoStatus(absl::StrCat("lock ", path));
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(lock_fd_.get(), 0) != 0 ||
      ::pwrite(lock_fd_.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return ErrnoStatus(absl::StrCat("write pid to ", path));
  }
  return absl::OkStatus();
}

absl::Status Daemon::ClaimSocket() {
  if (socket_path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path ", socket_path_, " is longer than ", sizeof(sockaddr_un::sun_path) - 1,
                     " bytes"));
  }
  RETURN_IF_ERROR(MkdirAll(std::filesystem::path(socket_path_).parent_path().string(), 0755));
  switch (ProbeSocket(socket_path_)) {
    case SocketState::kAbsent:
      return absl::OkStatus();
    case SocketState::kServed:
      return absl::AlreadyExistsError(
          absl::StrCat("another process is already serving ", socket_path_));
    case SocketState::kNotSocket:
      return absl::FailedPreconditionError(
          absl::StrCat(socket_path_, " exists and is not a socket; refusing to replace it"));
    case SocketState::kStale:
      CRIUS_LOG(kInfo) << "replacing stale socket " << socket_path_;
      if (::unlink(socket_path_.c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus(absl::StrCat("remove stale socket ", socket_path_));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Daemon::Serve() {
  runtime_service_ = MakeRuntimeService(edge_.get(), cri_.get());
  image_service_ = MakeImageService(edge_.get(), cri_.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path_, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(static_cast<int>(config_.grpc_max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config_.grpc_max_message_bytes));
  builder.RegisterService(runtime_service_.get());
  builder.RegisterService(image_service_.get());
  // The socket must never exist with wider permissions than 0660, not even
  // for the moment between bind and chmod.
  const mode_t old_umask = ::umask(0117);
  server_ = builder.BuildAndStart();
  ::umask(old_umask);
  if (server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", socket_path_));
  }
  serving_ = true;
  if (::chmod(socket_path_.c_str(), 0660) != 0) {
    return ErrnoStatus(absl::StrCat("chmod 0660 ", socket_path_));
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartComponents() {
  cni::NetworkManagerOptions net;
  net.conf_dir = config_.cni.conf_dir;
  net.bin_dirs = config_.cni.bin_dirs;
  net.cache_dir = config_.cni.cache_dir;
  net.plugin_timeout = absl::Seconds(config_.cni.plugin_timeout_seconds);
  net.loopback = config_.cni.loopback_plugin;
  metrics::RuntimeMetrics* rm = &metrics_->runtime();
  net.on_plugin_run = [rm](std::string_view plugin, std::string_view command, absl::Duration took, bool ok) {
    rm->CniPluginRun(plugin, command, took, ok);
  };
  network_ = std::make_unique<cni::NetworkManager>(net);
  RETURN_IF_ERROR(Annotate(network_->Start(), "start CNI network manager"));

  // The cgroup manager is chosen once; everything else asks it for names.
  ASSIGN_OR_RETURN(sandbox::CgroupSetup cgroups, sandbox::DetectCgroups());
  cgroups_layout_v2_ = cgroups.layout == sandbox::CgroupLayout::kV2;
  ASSIGN_OR_RETURN(cgroup_manager_,
                   sandbox::NewCgroupManager(config_.runtime.cgroup_manager, os_, cgroups));
  CRIUS_LOG(kInfo) << "cgroup manager " << config_.runtime.cgroup_manager << ", cgroup layout "
                   << sandbox::CgroupLayoutName(cgroups.layout);

  // One runtime client and one conmon client per runtime handler, shared by
  // the pods' infra processes and the containers.
  for (const auto& [name, h] : config_.runtime.handlers) {
    oci::RuntimeClientOptions rt;
    rt.path = h.path;
    rt.root = h.root;
    rt.extra_args = cgroup_manager_->RuntimeFlags();
    oci::MonitorConfig mon;
    mon.conmon_path = h.monitor_path.empty() ? config_.runtime.monitor_path : h.monitor_path;
    mon.runtime_path = h.path;
    mon.runtime_root = h.root;
    mon.systemd_cgroup = cgroup_manager_->MonitorSystemdCgroup();
    mon.exit_dir = config_.state + "/exits";
    mon.socket_dir = config_.state + "/attach";
    handlers_[name] = HandlerClients{std::make_unique<oci::RuntimeClient>(rt),
                                     std::make_unique<oci::Monitor>(mon)};
  }

  SandboxManagerOptions opts;
  opts.records_dir = config_.root + "/sandboxes";
  opts.pods_dir = config_.state + "/pods";
  opts.shm_size_bytes = static_cast<uint64_t>(config_.pod.shm_size_bytes);
  opts.default_handler = config_.runtime.default_handler;
  for (const auto& [name, handler] : config_.runtime.handlers) opts.handlers.push_back(name);
  opts.pause_path = config_.pod.infra_path;
  opts.infra_handler = config_.pod.infra_handler;
  opts.step_timer = [rm](std::string_view step, absl::Duration took) { rm->PodStartStep(step, took); };
  opts.runtime_for = [this](const std::string& handler) -> oci::RuntimeClient* {
    auto it = handlers_.find(handler);
    return it == handlers_.end() ? nullptr : it->second.runtime.get();
  };
  // The stats reader gets the same hierarchies; network counters are read
  // by a thread of its own that enters the pods' netns.
  StatsCollectorOptions sopts;
  sopts.rootfs_root = JoinPath(config_.root, "overlay");  // image::Rootfs's root
  absl::StatusOr<std::unique_ptr<stats::NetStatsReader>> net_stats = stats::NetStatsReader::Create();
  if (!net_stats.ok()) CRIUS_LOG(kWarn) << "pod network stats disabled: " << net_stats.status();
  stats_ = std::make_unique<StatsCollector>(
      cgroups, net_stats.ok() ? std::move(*net_stats) : nullptr, sopts);
  sandboxes_ = std::make_unique<SandboxManager>(os_, *network_, *cgroup_manager_, opts);

  image::ImageManagerOptions img;
  img.root = config_.root;
  img.max_concurrent_downloads = config_.image.max_concurrent_downloads;
  img.registry.auth_file = config_.image.auth_file;
  img.registry.progress_timeout = absl::Seconds(config_.image.pull_progress_timeout_seconds);
  for (const auto& r : config_.image.registries) {
    img.registry.hosts.push_back({r.host, r.mirrors, r.insecure, r.ca_file});
  }
  img.on_pull = [rm](bool ok, absl::Duration took) { rm->ImagePull(ok, took); };
  img.on_layer_downloaded = [rm](uint64_t bytes) { rm->ImageLayerDownloaded(bytes); };
  img.on_layer_reused = [rm] { rm->ImageLayerReused(); };
  // Loading the image records is part of startup: the edge is still closed.
  ASSIGN_OR_RETURN(images_, image::ImageManager::Open(os_, std::move(img)));

  ContainerManagerOptions copts;
  copts.records_dir = config_.root + "/containers";
  copts.bundles_dir = config_.state + "/containers";
  copts.exit_dir = config_.state + "/exits";
  copts.oom_score_adj_min = OomScoreAdjFloor();
  copts.cgroup_v2 = cgroups_layout_v2_;
  copts.cgroups = cgroup_manager_.get();
  copts.step_timer = [rm](std::string_view step, absl::Duration took) { rm->ContainerStartStep(step, took); };
  containers_ = std::make_unique<ContainerManager>(*sandboxes_, *images_, handlers_, copts);
  sandboxes_->SetContainerHooks(
      {[c = containers_.get()](const std::string& pod) { return c->StopPodContainers(pod); },
       [c = containers_.get()](const std::string& pod) { return c->RemovePodContainers(pod); }});
  images_->SetInUseCheck([c = containers_.get()](const std::string& id) { return c->UsesImage(id); });
  return absl::OkStatus();
}

// The streaming server starts with the components and before recovery; it
// only serves URLs the RPCs mint, and those wait for the edge to open.
absl::Status Daemon::StartStreaming() {
  streaming_backend_ = std::make_unique<StreamingBackend>(*containers_, *sandboxes_, handlers_, os_);
  const StreamingConfig& sc = config_.streaming;
  streaming::ServerOptions o;
  o.address = sc.address;
  o.port = sc.port;
  o.tls_cert_file = sc.tls_cert_file;
  o.tls_key_file = sc.tls_key_file;
  o.token_ttl = absl::Seconds(sc.token_ttl_seconds);
  o.idle_timeout = absl::Seconds(sc.idle_timeout_seconds);
  o.stream_creation_timeout = absl::Seconds(sc.stream_creation_timeout_seconds);
  auto server = streaming::Server::Start(o, streaming_backend_.get());
  if (!server.ok()) {
    return Annotate(server.status(), absl::StrCat("start streaming server on ", sc.address, ":", sc.port));
  }
  streaming_ = std::move(server).value();
  return absl::OkStatus();
}

absl::Status Daemon::Recover() {
  // The edge stays closed until this returns: kubelet must never see a
  // half-rebuilt list of pods.
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(Annotate(sandboxes_->Recover(), "recover pod sandboxes"));
  RETURN_IF_ERROR(Annotate(containers_->Recover(), "recover containers"));
  metrics_->runtime().Recovered(absl::Now() - start);
  return absl::OkStatus();
}

void Daemon::StartEvents() {
  metrics::RuntimeMetrics* rm = &metrics_->runtime();
  ContainerEventHub::Options hub;
  hub.buffer = static_cast<size_t>(config_.events.buffer);
  hub.on_drop = [rm] { rm->EventDropped(); };
  events_ = std::make_unique<ContainerEventHub>(std::move(hub));
  ContainerEventSourceOptions src;
  src.hub = events_.get();
  src.images = images_.get();
  src.pod = [s = sandboxes_.get()](const std::string& id) -> std::shared_ptr<const SandboxRecord> {
    auto found = s->Get(id);
    return found.ok() ? *found : nullptr;
  };
  src.containers = [c = containers_.get()](const std::string& pod) {
    std::vector<std::shared_ptr<const ContainerRecord>> out;
    for (auto& r : c->List()) {
      if (r->sandbox_id == pod) out.push_back(std::move(r));
    }
    return out;
  };
  src.on_container_stopped = [rm](const ContainerRecord& r) {
    if (r.reason == "OOMKilled") rm->OomKill();
  };
  src.on_drop = [rm] { rm->EventDropped(); };
  event_source_ = std::make_unique<ContainerEventSource>(std::move(src));
  sandboxes_->SetObserver(event_source_.get());
  containers_->SetObserver(event_source_.get());
}

// crius_containers{state} and crius_pod_sandboxes{state}, counted from the
// in-memory records at every scrape (every state always present), and the
// number of open event streams.
void Daemon::AddStateGauges() {
  metrics_->AddCollectable(std::make_shared<metrics::CallbackCollectable>(
      [c = containers_.get(), s = sandboxes_.get(), e = events_.get()] {
        std::map<std::string, double> containers{{"created", 0}, {"running", 0}, {"exited", 0}, {"unknown", 0}};
        for (const auto& r : c->List()) {
          switch (r->state) {
            case runtime::v1::CONTAINER_CREATED: containers["created"]++; break;
            case runtime::v1::CONTAINER_RUNNING: containers["running"]++; break;
            case runtime::v1::CONTAINER_EXITED: containers["exited"]++; break;
            default: containers["unknown"]++; break;
          }
        }
        std::map<std::string, double> pods{{"ready", 0}, {"notready", 0}};
        for (const auto& r : s->List()) {
          pods[r->state == runtime::v1::SANDBOX_READY ? "ready" : "notready"]++;
        }
        prometheus::MetricFamily subscribers;
        subscribers.name = "crius_events_subscribers";
        subscribers.help = "GetContainerEvents streams open now.";
        subscribers.type = prometheus::MetricType::Gauge;
        subscribers.metric.emplace_back().gauge.value = static_cast<double>(e->SubscriberCount());
        return std::vector<prometheus::MetricFamily>{
            metrics::GaugeByLabel("crius_containers", "Containers crius knows, by state.", "state", containers),
            metrics::GaugeByLabel("crius_pod_sandboxes", "Pod sandboxes crius knows, by state.", "state", pods),
            std::move(subscribers)};
      }));
}

void Daemon::JanitorLoop() {
  absl::MutexLock lock(&janitor_mu_);
  while (!stopping_) {
    auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(janitor_mu_) { return stopping_; };
    if (janitor_mu_.AwaitWithTimeout(absl::Condition(&stop), absl::Seconds(30))) break;
    janitor_mu_.Unlock();
    sandboxes_->ReapUnclaimed();
    janitor_mu_.Lock();
  }
}

// SIGCHLD is blocked in every thread (criusd's main blocks it before any
// thread starts), so it is taken here synchronously; the timeout also
// catches a signal that another thread's mask let through and was lost.
void Daemon::ReaperLoop() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  const struct timespec period = {1, 0};
  while (!reaper_stop_.load()) {
    ReapUnownedChildren();
    (void)::sigtimedwait(&chld, nullptr, &period);
  }
  ReapUnownedChildren();
}

void Daemon::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&janitor_mu_);
    stopping_ = true;
  }
  if (janitor_.joinable()) janitor_.join();
  // Event streams would otherwise hold the server open for the whole grace.
  if (events_) events_->Close();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
    server_->Wait();
  }
  // No scrape may reach the managers once they start going away.
  if (metrics_) metrics_->StopServing();
  // Only a socket this daemon bound is removed: after a refused start the
  // path may belong to the criusd that is serving it.
  if (serving_) ::unlink(socket_path_.c_str());
  // No RPC mints a URL any more: end the sessions (their processes are
  // killed and reaped) before the managers they use go away.
  if (streaming_) streaming_->Stop();
  if (network_) network_->Stop();
  if (reaper_.joinable()) {
    reaper_stop_.store(true);
    ::pthread_kill(reaper_.native_handle(), SIGCHLD);  // ends its wait now
    reaper_.join();
  }
  lock_fd_.reset();
}

}  // namespace crius::server
