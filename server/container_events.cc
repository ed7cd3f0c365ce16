#include "server/container_events.h"

#include <deque>
#include <vector>

#include "common/log.h"

namespace crius::server {

struct ContainerEventHub::Queue {
  explicit Queue(std::string who_in) : who(std::move(who_in)) {}
  const std::string who;
  mutable absl::Mutex mu;
  std::deque<Event> events ABSL_GUARDED_BY(mu);
  uint64_t dropped ABSL_GUARDED_BY(mu) = 0;
  bool closed ABSL_GUARDED_BY(mu) = false;
};

ContainerEventHub::ContainerEventHub(Options options) : options_(std::move(options)) {}

ContainerEventHub::~ContainerEventHub() { Close(); }

std::unique_ptr<ContainerEventHub::Subscription> ContainerEventHub::Subscribe(std::string who) {
  auto queue = std::make_shared<Queue>(std::move(who));
  absl::MutexLock lock(&mu_);
  if (closed_) {
    absl::MutexLock q(&queue->mu);
    queue->closed = true;
  } else {
    queues_.insert(queue);
  }
  return std::unique_ptr<Subscription>(new Subscription(this, std::move(queue)));
}

void ContainerEventHub::Unsubscribe(const std::shared_ptr<Queue>& queue) {
  absl::MutexLock lock(&mu_);
  queues_.erase(queue);
}

void ContainerEventHub::Publish(Event event) {
  std::vector<std::shared_ptr<Queue>> queues;
  {
    absl::ReaderMutexLock lock(&mu_);
    queues.assign(queues_.begin(), queues_.end());
  }
  uint64_t drops = 0;
  for (const auto& q : queues) {
    absl::MutexLock lock(&q->mu);
    if (q->events.size() < options_.buffer) {
      q->events.push_back(event);
      continue;
    }
    ++drops;
    if (q->dropped++ == 0) {
      // Once per subscriber: a stuck client would otherwise flood the log.
      CRIUS_LOG(kWarn) << "container events: subscriber " << q->who << " is not reading; its buffer of "
                       << options_.buffer << " events is full and further events for it are dropped";
    }
  }
  if (options_.on_drop) {
    for (uint64_t i = 0; i < drops; ++i) options_.on_drop();
  }
}

void ContainerEventHub::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (const auto& q : queues_) {
    absl::MutexLock ql(&q->mu);
    q->closed = true;
  }
  queues_.clear();
}

size_t ContainerEventHub::SubscriberCount() const {
  absl::ReaderMutexLock lock(&mu_);
  return queues_.size();
}

ContainerEventHub::Subscription::Subscription(ContainerEventHub* hub, std::shared_ptr<Queue> queue)
    : hub_(hub), queue_(std::move(queue)) {}

ContainerEventHub::Subscription::~Subscription() { hub_->Unsubscribe(queue_); }

std::optional<ContainerEventHub::Event> ContainerEventHub::Subscription::Next(absl::Duration timeout) {
  Queue& q = *queue_;
  auto ready = [&q]() ABSL_SHARED_LOCKS_REQUIRED(q.mu) { return q.closed || !q.events.empty(); };
  absl::MutexLock lock(&q.mu);
  q.mu.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (q.closed || q.events.empty()) return std::nullopt;
  Event e = std::move(q.events.front());
  q.events.pop_front();
  return e;
}

bool ContainerEventHub::Subscription::closed() const {
  absl::MutexLock lock(&queue_->mu);
  return queue_->closed;
}

uint64_t ContainerEventHub::Subscription::dropped() const {
  absl::MutexLock lock(&queue_->mu);
  return queue_->dropped;
}

}  // namespace crius::server
