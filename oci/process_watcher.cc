#include "oci/process_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"
#include "common/status.h"

namespace crius::oci {

absl::StatusOr<std::unique_ptr<ProcessWatcher>> ProcessWatcher::Start(Callback callback) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return ErrnoStatus("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return ErrnoStatus("eventfd");
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = wake.get();
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return ErrnoStatus("epoll_ctl add eventfd");
  }
  std::unique_ptr<ProcessWatcher> w(
      new ProcessWatcher(std::move(callback), std::move(epoll), std::move(wake)));
  w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
  return w;
}

ProcessWatcher::ProcessWatcher(Callback callback, UniqueFd epoll, UniqueFd wake)
    : callback_(std::move(callback)), epoll_(std::move(epoll)), wake_(std::move(wake)) {}

ProcessWatcher::~ProcessWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void ProcessWatcher::Watch(const std::string& key, const ProcessIdentity& who) {
  // Opened before the identity check: if the check passes, the pidfd names
  // that very process and not a later user of its pid.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, who.pid, 0)));
  const int open_errno = errno;
  const bool alive = IsProcessAlive(who);
  absl::MutexLock lock(&mu_);
  if (alive) {
    struct epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.fd = pidfd.get();
    if (!pidfd) {
      CRIUS_LOG(kWarn) << ErrnoStatus(open_errno, "pidfd_open") << ": process " << who.pid << " ("
                       << key << ") is not watched";
    } else if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, pidfd.get(), &ev) != 0) {
      CRIUS_LOG(kWarn) << ErrnoStatus("epoll_ctl add pidfd") << ": process " << who.pid << " ("
                       << key << ") is not watched";
    } else {
      const int fd = pidfd.get();
      watched_.emplace(fd, std::make_pair(key, std::move(pidfd)));
    }
    return;
  }
  gone_.push_back(key);
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
}

void ProcessWatcher::Run() {
  struct epoll_event events[16];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      CRIUS_LOG(kError) << ErrnoStatus("epoll_wait") << ": process watcher stops";
      return;
    }
    std::vector<std::string> exited;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_.get()) {
          uint64_t count;
          (void)!::read(wake_.get(), &count, sizeof(count));
          continue;
        }
        auto it = watched_.find(events[i].data.fd);
        if (it == watched_.end()) continue;
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
        exited.push_back(std::move(it->second.first));
        watched_.erase(it);
      }
      exited.insert(exited.end(), gone_.begin(), gone_.end());
      gone_.clear();
    }
    for (const auto& key : exited) callback_(key);
  }
}

}  // namespace crius::oci
