#include "streaming/session_support.h"

#include <sys/eventfd.h>

#include "common/log.h"
#include "nlohmann/json.hpp"

namespace crius::streaming {

std::optional<TerminalSize> ResizeQueueImpl::Next() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](ResizeQueueImpl* q) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return q->closed_ || !q->sizes_.empty();
      },
      this));
  if (sizes_.empty()) return std::nullopt;
  TerminalSize s = sizes_.front();
  sizes_.pop_front();
  return s;
}

void ResizeQueueImpl::Push(TerminalSize size) {
  absl::MutexLock lock(&mu_);
  if (!closed_) sizes_.push_back(size);
}

void ResizeQueueImpl::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  sizes_.clear();
}

std::vector<TerminalSize> ResizeParser::Feed(std::string_view data) {
  std::vector<TerminalSize> out;
  buf_.append(data);
  // Objects are flat, so an object ends at the first '}' after its '{'.
  size_t start = 0;
  while (true) {
    size_t open = buf_.find('{', start);
    if (open == std::string::npos) {
      start = buf_.size();
      break;
    }
    size_t close = buf_.find('}', open);
    if (close == std::string::npos) {
      start = open;
      break;
    }
    auto j = nlohmann::json::parse(buf_.begin() + open, buf_.begin() + close + 1, nullptr, false);
    if (j.is_object()) {
      TerminalSize s;
      s.width = j.value("Width", 0);
      s.height = j.value("Height", 0);
      out.push_back(s);
    } else {
      CRIUS_LOG(kWarn) << "streaming: ignoring malformed resize message";
    }
    start = close + 1;
  }
  buf_.erase(0, start);
  if (buf_.size() > 4096) buf_.clear();  // no sane size message is that long
  return out;
}

CancellationImpl::CancellationImpl() : event_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void CancellationImpl::Cancel() {
  if (cancelled_.exchange(true)) return;
  uint64_t one = 1;
  if (event_.valid()) {
    [[maybe_unused]] ssize_t n = ::write(event_.get(), &one, sizeof(one));
  }
}

bool ThreadGroup::Spawn(std::shared_ptr<CancellationImpl> cancel, std::function<void()> fn) {
  std::list<Worker> finished;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->done->load()) {
        finished.splice(finished.end(), workers_, it++);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    workers_.push_back(Worker{std::thread([fn = std::move(fn), done] {
                                fn();
                                done->store(true);
                              }),
                              std::move(cancel), done});
  }
  for (Worker& w : finished) w.thread.join();
  return true;
}

void ThreadGroup::Stop() {
  std::list<Worker> all;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    all.swap(workers_);
  }
  for (Worker& w : all) {
    if (auto c = w.cancel.lock()) c->Cancel();
  }
  for (Worker& w : all) w.thread.join();
}

}  // namespace crius::streaming
