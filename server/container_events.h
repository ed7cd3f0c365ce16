#pragma once
// ContainerEventHub: the fan-out behind GetContainerEvents. Every event is
// published once and handed to each subscriber's own bounded buffer; a
// subscriber that reads slowly (or not at all) loses events from its own
// buffer and never holds up the publisher, so pod and container operations
// never wait for a client. Drops are counted (crius_events_dropped_total
// through `on_drop`) and logged once per subscriber.
//
// Sandbox events, as CRI-O sends them: a pod's life is reported as the life
// of its infra container, whose id is the pod sandbox id. RunPodSandbox
// sends CONTAINER_CREATED and CONTAINER_STARTED with container_id = the pod
// id, StopPodSandbox sends CONTAINER_STOPPED (once, when the pod leaves
// READY) and RemovePodSandbox CONTAINER_DELETED; each carries the pod's
// PodSandboxStatus and its containers' statuses, like container events.
// kubelet's evented PLEG tells the two apart by container_id == pod id.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/api.pb.h"

namespace crius::server {

class ContainerEventHub {
 public:
  using Event = std::shared_ptr<const runtime::v1::ContainerEventResponse>;

  struct Options {
    // Events a subscriber may have waiting; past that, new ones are dropped
    // for it (CRI-O's channel holds 1000).
    size_t buffer = 1000;
    // Called once per dropped event (outside every lock of the hub).
    std::function<void()> on_drop;
  };

  class Subscription;

  ContainerEventHub() : ContainerEventHub(Options()) {}
  explicit ContainerEventHub(Options options);
  ~ContainerEventHub();
  ContainerEventHub(const ContainerEventHub&) = delete;
  ContainerEventHub& operator=(const ContainerEventHub&) = delete;

  // A new subscriber sees the events published from now on. Destroying the
  // subscription unsubscribes it; it must not outlive the hub. `who` names
  // it in the log.
  std::unique_ptr<Subscription> Subscribe(std::string who);

  // Never blocks on a subscriber.
  void Publish(Event event);

  // Ends every subscription (their Next returns nullopt with closed() set)
  // and refuses new ones the same way: for shutdown.
  void Close();

  size_t SubscriberCount() const;

 private:
  struct Queue;
  void Unsubscribe(const std::shared_ptr<Queue>& queue);

  const Options options_;
  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class ContainerEventHub::Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The oldest waiting event; waits up to `timeout` for one. nullopt on a
  // timeout or once the hub is closed.
  std::optional<Event> Next(absl::Duration timeout);
  bool closed() const;
  // Events this subscriber lost because its buffer was full.
  uint64_t dropped() const;

 private:
  friend class ContainerEventHub;
  Subscription(ContainerEventHub* hub, std::shared_ptr<Queue> queue);
  ContainerEventHub* const hub_;
  const std::shared_ptr<Queue> queue_;
};

}  // namespace crius::server
