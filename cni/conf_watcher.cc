#include "cni/conf_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "common/log.h"
#include "common/status.h"

namespace crius::cni {
namespace {

// Everything that can change which file is the default network or what it
// says. IN_MODIFY is included so a file rewritten in place is noticed even
// by a writer that keeps it open; the reload on IN_CLOSE_WRITE follows.
constexpr uint32_t kEvents = IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM |
                             IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

ConfDirWatcher::ConfDirWatcher(std::string dir, Callback callback, absl::Duration retry_interval)
    : dir_(std::move(dir)), callback_(std::move(callback)), retry_interval_(retry_interval) {}

ConfDirWatcher::~ConfDirWatcher() { Stop(); }

absl::Status ConfDirWatcher::Start() {
  if (thread_.joinable()) return absl::FailedPreconditionError("watcher already started");
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return ErrnoStatus("inotify_init1");
  inotify_.reset(fd);
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return ErrnoStatus("eventfd");
  stop_.reset(efd);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ConfDirWatcher::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a counter overflow.
  if (::write(stop_.get(), &one, sizeof(one)) < 0) {
    CRIUS_LOG(kError) << "cni watcher: cannot signal stop: " << ErrnoStatus("write eventfd");
  }
  thread_.join();
}

bool ConfDirWatcher::TryWatch() {
  wd_ = ::inotify_add_watch(inotify_.get(), dir_.c_str(), kEvents);
  if (wd_ < 0) {
    absl::Status s = ErrnoStatus("inotify_add_watch " + dir_);
    CRIUS_LOG(kDebug) << "cni watcher: " << s;
  }
  return wd_ >= 0;
}

bool ConfDirWatcher::DrainEvents() {
  alignas(struct inotify_event) char buf[16 * 1024];
  bool dir_gone = false;
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN: nothing more queued
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      // IN_IGNORED follows the removal of the directory (or of our watch).
      if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) dir_gone = true;
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  if (dir_gone && wd_ >= 0) {
    ::inotify_rm_watch(inotify_.get(), wd_);  // may already be gone; harmless
    wd_ = -1;
  }
  return !dir_gone;
}

void ConfDirWatcher::Run() {
  bool watching = TryWatch();
  bool retry = callback_();
  for (;;) {
    struct pollfd fds[2] = {{stop_.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}};
    int timeout_ms = (retry || !watching)
                         ? static_cast<int>(absl::ToInt64Milliseconds(retry_interval_))
                         : -1;
    int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      CRIUS_LOG(kError) << "cni watcher stops: " << ErrnoStatus("poll");
      return;
    }
    if (fds[0].revents != 0) return;
    if (n > 0 && fds[1].revents != 0 && !DrainEvents()) watching = false;
    // A directory that is gone or not there yet is looked for again each
    // round; when it appears its current content counts as a change.
    if (!watching) watching = TryWatch();
    retry = callback_();
  }
}

}  // namespace crius::cni
