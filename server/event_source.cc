#include "server/event_source.h"

#include "absl/time/clock.h"
#include "server/status_messages.h"

namespace crius::server {
namespace {

runtime::v1::ContainerEventType TypeOf(LifecycleEvent e) {
  switch (e) {
    case LifecycleEvent::kCreated:
      return runtime::v1::CONTAINER_CREATED_EVENT;
    case LifecycleEvent::kStarted:
      return runtime::v1::CONTAINER_STARTED_EVENT;
    case LifecycleEvent::kStopped:
      return runtime::v1::CONTAINER_STOPPED_EVENT;
    case LifecycleEvent::kDeleted:
      return runtime::v1::CONTAINER_DELETED_EVENT;
  }
  return runtime::v1::CONTAINER_CREATED_EVENT;
}

}  // namespace

ContainerEventSource::ContainerEventSource(ContainerEventSourceOptions options)
    : options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

ContainerEventSource::~ContainerEventSource() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void ContainerEventSource::OnContainer(LifecycleEvent event, std::shared_ptr<const ContainerRecord> record,
                                       std::vector<std::shared_ptr<const ContainerRecord>> pod_containers) {
  Pending p{event, absl::ToUnixNanos(absl::Now()), std::move(record), std::move(pod_containers), nullptr};
  Enqueue(std::move(p));
}

void ContainerEventSource::OnSandbox(LifecycleEvent event, std::shared_ptr<const SandboxRecord> record) {
  Pending p{event, absl::ToUnixNanos(absl::Now()), nullptr, {}, std::move(record)};
  Enqueue(std::move(p));
}

void ContainerEventSource::Enqueue(Pending p) {
  {
    absl::MutexLock lock(&mu_);
    if (pending_.size() < options_.max_pending) {
      pending_.push_back(std::move(p));
      ++queued_;
      return;
    }
  }
  if (options_.on_drop) options_.on_drop();
}

void ContainerEventSource::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = queued_;
  auto done = [this, target]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done_ >= target; };
  mu_.Await(absl::Condition(&done));
}

void ContainerEventSource::Loop() {
  for (;;) {
    Pending p;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !pending_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (pending_.empty()) return;  // stopping, and everything is out
      p = std::move(pending_.front());
      pending_.pop_front();
    }
    Dispatch(p);
    absl::MutexLock lock(&mu_);
    ++done_;
  }
}

void ContainerEventSource::Dispatch(const Pending& p) {
  if (p.container != nullptr && p.event == LifecycleEvent::kStopped && options_.on_container_stopped) {
    options_.on_container_stopped(*p.container);
  }
  // Building costs a pod lookup and a status per container: skipped while
  // nobody listens (an event nobody subscribed for is lost anyway).
  if (options_.hub->SubscriberCount() == 0) return;
  options_.hub->Publish(Build(p));
}

ContainerEventHub::Event ContainerEventSource::Build(const Pending& p) const {
  auto out = std::make_shared<runtime::v1::ContainerEventResponse>();
  out->set_container_event_type(TypeOf(p.event));
  out->set_created_at(p.at_ns);
  std::shared_ptr<const SandboxRecord> pod = p.sandbox;
  const std::vector<std::shared_ptr<const ContainerRecord>>* containers = &p.pod_containers;
  std::vector<std::shared_ptr<const ContainerRecord>> now;
  if (p.sandbox != nullptr) {
    out->set_container_id(p.sandbox->id);
    if (options_.containers) now = options_.containers(p.sandbox->id);
    containers = &now;
  } else {
    out->set_container_id(p.container->id);
    if (options_.pod) pod = options_.pod(p.container->sandbox_id);
  }
  if (pod != nullptr) {
    FillPodSandboxStatus(*pod, out->mutable_pod_sandbox_status());
  } else if (p.container != nullptr) {
    out->mutable_pod_sandbox_status()->set_id(p.container->sandbox_id);
  }
  for (const auto& c : *containers) {
    const std::string ref = options_.images != nullptr ? ImageRefFor(*options_.images, *c) : c->image_id;
    FillContainerStatus(*c, ref, out->add_containers_statuses());
  }
  return out;
}

}  // namespace crius::server
