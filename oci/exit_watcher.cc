#include "oci/exit_watcher.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"

namespace crius::oci {
namespace {

// conmon's temporary files are "<id>.XXXXXX"; ids never hold a '.', and
// hidden or special entries are not exit files either.
bool IsExitFileName(const std::string& name) {
  return !name.empty() && name.find('.') == std::string::npos;
}

}  // namespace

absl::StatusOr<ExitEvent> ReadExitFile(const std::string& exit_dir, const std::string& id) {
  std::string path = JoinPath(exit_dir, id);
  // The file is opened once and both read and stat'ed through that open
  // file, so the code and the time belong to the same file.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return ErrnoStatus(absl::StrCat("open exit file ", path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(absl::StrCat("stat exit file ", path));
  char buf[32];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof(buf) - 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus(absl::StrCat("read exit file ", path));
  ExitEvent event;
  event.id = id;
  absl::string_view text(buf, static_cast<size_t>(n));
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &event.exit_code)) {
    return absl::InternalError(
        absl::StrCat("exit file ", path, " holds no exit code: \"", absl::CHexEscape(text), "\""));
  }
  event.finished_at = absl::TimeFromTimespec(st.st_mtim);
  return event;
}

absl::StatusOr<std::vector<ExitEvent>> ScanExitDir(const std::string& exit_dir) {
  std::vector<ExitEvent> events;
  DIR* dir = ::opendir(exit_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return events;
    return ErrnoStatus(absl::StrCat("open exit dir ", exit_dir));
  }
  std::vector<std::string> names;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string name = ent->d_name;
    if (IsExitFileName(name)) names.push_back(std::move(name));
  }
  ::closedir(dir);
  for (const auto& name : names) {
    auto event = ReadExitFile(exit_dir, name);
    if (event.ok()) {
      events.push_back(std::move(event).value());
    } else if (!absl::IsNotFound(event.status())) {
      // One unreadable file must not hide every other container's exit.
      CRIUS_LOG(kWarn) << "skipping exit file: " << event.status().message();
    }
  }
  return events;
}

absl::StatusOr<std::unique_ptr<ExitWatcher>> ExitWatcher::Start(const std::string& exit_dir,
                                                                Callback callback,
                                                                bool report_existing) {
  RETURN_IF_ERROR(MkdirAll(exit_dir, 0700));
  UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) return ErrnoStatus("inotify_init1");
  // conmon renames its finished file into place (IN_MOVED_TO); a writer
  // that writes the file in place is seen when it closes it.
  if (::inotify_add_watch(inotify.get(), exit_dir.c_str(),
                          IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
    return ErrnoStatus(absl::StrCat("inotify_add_watch ", exit_dir));
  }
  UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) return ErrnoStatus("eventfd");
  std::unique_ptr<ExitWatcher> watcher(
      new ExitWatcher(exit_dir, std::move(callback), std::move(inotify), std::move(stop)));
  watcher->thread_ = std::thread([w = watcher.get(), report_existing] { w->Run(report_existing); });
  return watcher;
}

ExitWatcher::ExitWatcher(std::string dir, Callback callback, UniqueFd inotify, UniqueFd stop)
    : dir_(std::move(dir)),
      callback_(std::move(callback)),
      inotify_(std::move(inotify)),
      stop_(std::move(stop)) {}

ExitWatcher::~ExitWatcher() {
  uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof(one)) != sizeof(one)) {
    CRIUS_LOG(kError) << "exit watcher: cannot signal stop: "
                      << ErrnoStatus("write eventfd").message();
  }
  if (thread_.joinable()) thread_.join();
}

void ExitWatcher::Report(const std::string& name) {
  if (!IsExitFileName(name)) return;
  auto event = ReadExitFile(dir_, name);
  if (!event.ok()) {
    // NotFound: removed again before we looked (the container was removed).
    if (!absl::IsNotFound(event.status()))
      CRIUS_LOG(kWarn) << "exit watcher: " << event.status().message();
    return;
  }
  callback_(*event);
}

void ExitWatcher::ReportAll() {
  auto events = ScanExitDir(dir_);
  if (!events.ok()) {
    CRIUS_LOG(kError) << "exit watcher: " << events.status().message();
    return;
  }
  for (const auto& event : *events) callback_(event);
}

void ExitWatcher::Run(bool report_existing) {
  if (report_existing) ReportAll();
  // Room for many events at once; inotify never splits one event.
  alignas(struct inotify_event) char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
  for (;;) {
    struct pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      CRIUS_LOG(kError) << "exit watcher: " << ErrnoStatus("poll").message();
      return;
    }
    if (fds[1].revents != 0) return;
    ssize_t n = ::read(inotify_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      CRIUS_LOG(kError) << "exit watcher: " << ErrnoStatus("read inotify").message();
      return;
    }
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were dropped; the directory itself still holds the truth.
        CRIUS_LOG(kWarn) << "exit watcher: inotify queue overflowed, rescanning " << dir_;
        ReportAll();
      } else if (ev->mask & IN_IGNORED) {
        CRIUS_LOG(kError) << "exit watcher: " << dir_ << " was removed; no more exits will be seen";
        return;
      } else if (ev->len > 0) {
        Report(std::string(ev->name));  // name is NUL-padded to len
      }
    }
  }
}

}  // namespace crius::oci
