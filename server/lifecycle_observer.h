#pragma once
// What the container and sandbox managers tell the outside about the life of
// their objects: the small seam GetContainerEvents (and the metrics derived
// from it) hang on, so the managers know nothing of subscribers.

#include <memory>
#include <vector>

namespace crius::server {

struct ContainerRecord;
struct SandboxRecord;

enum class LifecycleEvent { kCreated, kStarted, kStopped, kDeleted };

class LifecycleObserver {
 public:
  virtual ~LifecycleObserver() = default;

  // A container changed. Called with the container manager's lock held, in
  // the order the changes happened, so an implementation must only queue
  // (never block, never call back into a manager). `record` is the container
  // as it is now (its last record for kDeleted); `pod_containers` are all the
  // containers of its pod at that moment (without it once deleted).
  virtual void OnContainer(LifecycleEvent event, std::shared_ptr<const ContainerRecord> record,
                           std::vector<std::shared_ptr<const ContainerRecord>> pod_containers) = 0;

  // A pod sandbox was created (and is READY), stopped or removed. Same rules.
  virtual void OnSandbox(LifecycleEvent event, std::shared_ptr<const SandboxRecord> record) = 0;
};

}  // namespace crius::server
