#pragma once
// What a streaming session shares with the backend call running on its own
// thread: the resize queue, the cancellation signal, and the group of
// threads the server joins when it stops.

#include <atomic>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "streaming/backend.h"

namespace crius::streaming {

class ResizeQueueImpl : public ResizeQueue {
 public:
  std::optional<TerminalSize> Next() override;
  void Push(TerminalSize size);
  // Wakes Next() for good: the session is over.
  void Close();

 private:
  absl::Mutex mu_;
  std::deque<TerminalSize> sizes_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Parses the resize stream: JSON objects {"Width":w,"Height":h}, one after
// another (client-go writes one per line), possibly split across frames.
class ResizeParser {
 public:
  // Sizes completed by `data`; malformed objects are skipped.
  std::vector<TerminalSize> Feed(std::string_view data);

 private:
  std::string buf_;
};

class CancellationImpl : public Cancellation {
 public:
  CancellationImpl();
  bool Cancelled() const override { return cancelled_.load(); }
  int fd() const override { return event_.get(); }
  void Cancel();

 private:
  std::atomic<bool> cancelled_{false};
  UniqueFd event_;
};

// Threads running backend calls. Finished threads are joined on the next
// Spawn; Stop() cancels the rest and joins them all.
class ThreadGroup {
 public:
  ~ThreadGroup() { Stop(); }
  // Runs `fn` on a new thread; `cancel` is fired by Stop(). False when the
  // group is stopping (nothing runs).
  bool Spawn(std::shared_ptr<CancellationImpl> cancel, std::function<void()> fn);
  void Stop();

 private:
  struct Worker {
    std::thread thread;
    // Weak: a finished call's session may be gone, and its eventfd with it.
    std::weak_ptr<CancellationImpl> cancel;
    std::shared_ptr<std::atomic<bool>> done;
  };
  absl::Mutex mu_;
  std::list<Worker> workers_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace crius::streaming
