#pragma once
// ContainerEventSource turns the managers' lifecycle notifications into CRI
// ContainerEventResponses and publishes them on the hub. The managers call
// it under their locks, so it only queues there; one thread of its own
// builds the messages (pod status, container statuses, image refs) in the
// order the changes happened and hands them to the hub, which never blocks.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "image/image_manager.h"
#include "server/container_events.h"
#include "server/container_record.h"
#include "server/lifecycle_observer.h"
#include "server/sandbox_record.h"

namespace crius::server {

struct ContainerEventSourceOptions {
  ContainerEventHub* hub = nullptr;              // required
  const image::ImageManager* images = nullptr;  // for image_ref; may be null
  // The pod as it is now (null once removed), for container events.
  std::function<std::shared_ptr<const SandboxRecord>(const std::string& pod_id)> pod;
  // The pod's containers now, for sandbox events.
  std::function<std::vector<std::shared_ptr<const ContainerRecord>>(const std::string& pod_id)>
      containers;
  // Every container stop, subscribers or not (the OOM kill counter).
  std::function<void(const ContainerRecord&)> on_container_stopped;
  // Notifications waiting to be built; past this (a wedged builder) they are
  // dropped and counted like a subscriber's drops.
  size_t max_pending = 100000;
  std::function<void()> on_drop;
};

class ContainerEventSource : public LifecycleObserver {
 public:
  explicit ContainerEventSource(ContainerEventSourceOptions options);
  ~ContainerEventSource() override;  // builds what is queued, then stops

  void OnContainer(LifecycleEvent event, std::shared_ptr<const ContainerRecord> record,
                   std::vector<std::shared_ptr<const ContainerRecord>> pod_containers) override;
  void OnSandbox(LifecycleEvent event, std::shared_ptr<const SandboxRecord> record) override;

  // Blocks until everything queued before the call was published (tests).
  void Flush();

 private:
  struct Pending {
    LifecycleEvent event;
    int64_t at_ns = 0;
    std::shared_ptr<const ContainerRecord> container;  // a container event
    std::vector<std::shared_ptr<const ContainerRecord>> pod_containers;
    std::shared_ptr<const SandboxRecord> sandbox;  // a sandbox event
  };
  void Enqueue(Pending p);
  void Loop();
  void Dispatch(const Pending& p);
  ContainerEventHub::Event Build(const Pending& p) const;

  const ContainerEventSourceOptions options_;
  absl::Mutex mu_;
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crius::server
