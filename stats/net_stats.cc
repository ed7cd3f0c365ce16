#include "stats/net_stats.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace crius::stats {

absl::StatusOr<std::vector<InterfaceStats>> ParseNetDev(std::string_view text) {
  std::vector<InterfaceStats> out;
  int line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (++line_no <= 2 || line.empty()) continue;  // two header lines
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("net/dev line ", line_no, " has no ':'"));
    }
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    // 16 columns: rx bytes packets errs drop fifo frame compressed multicast,
    // then tx bytes packets errs drop fifo colls carrier compressed.
    uint64_t v[16];
    std::string_view rest = line.substr(colon + 1);
    for (int i = 0; i < 16; ++i) {
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v[i]);
      if (ec != std::errc()) {
        return absl::InvalidArgumentError(
            absl::StrCat("net/dev line ", line_no, " column ", i + 1, " is not a number"));
      }
      rest.remove_prefix(static_cast<size_t>(p - rest.data()));
    }
    if (name == "lo") continue;
    InterfaceStats s;
    s.name = std::string(name);
    s.rx_bytes = v[0];
    s.rx_packets = v[1];
    s.rx_errors = v[2];
    s.rx_dropped = v[3];
    s.tx_bytes = v[8];
    s.tx_packets = v[9];
    s.tx_errors = v[10];
    s.tx_dropped = v[11];
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

absl::StatusOr<std::string> ReadSmallFile(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t r = ::read(fd.get(), buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > (1u << 20)) return absl::ResourceExhaustedError("net/dev larger than 1 MiB");
  }
  return out;
}

// A cached netns fd keeps its namespace alive: close it once unused this long.
constexpr absl::Duration kIdleFd = absl::Seconds(60);

struct Request {
  const std::vector<std::string>* paths = nullptr;
  std::vector<absl::StatusOr<NetStats>> results;
  bool done = false;
};

}  // namespace

class NetStatsReader::Impl {
 public:
  explicit Impl(UniqueFd host) : host_(std::move(host)), worker_([this] { Run(); }) {}
  ~Impl() {
    {
      absl::MutexLock l(&mu_);
      stop_ = true;
    }
    worker_.join();
  }

  std::vector<absl::StatusOr<NetStats>> Read(const std::vector<std::string>& paths) {
    Request req;
    req.paths = &paths;
    absl::MutexLock l(&mu_);
    queue_.push_back(&req);
    mu_.Await(absl::Condition(&req.done));
    return std::move(req.results);
  }

  void Forget(const std::string& path) {
    absl::MutexLock l(&mu_);
    forget_.push_back(path);
  }

  void RetainOnly(const std::set<std::string>& paths) {
    absl::MutexLock l(&mu_);
    retain_ = paths;
  }

 private:
  struct Cached {
    UniqueFd fd;
    dev_t dev = 0;
    ino_t ino = 0;
    absl::Time used;
  };

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); }

  void Run() {
    for (;;) {
      Request* req = nullptr;
      std::vector<std::string> forget;
      std::optional<std::set<std::string>> retain;
      {
        absl::MutexLock l(&mu_);
        // Wakes up now and then without work too, to close idle fds.
        mu_.AwaitWithTimeout(absl::Condition(this, &Impl::HasWork), kIdleFd);
        if (stop_) return;
        if (!queue_.empty()) {
          req = queue_.front();
          queue_.pop_front();
        }
        forget.swap(forget_);
        retain.swap(retain_);
      }
      Expire(forget, retain);
      if (req == nullptr) continue;
      std::vector<absl::StatusOr<NetStats>> results;
      results.reserve(req->paths->size());
      for (const auto& p : *req->paths) results.push_back(ReadOne(p));
      absl::MutexLock l(&mu_);
      req->results = std::move(results);
      req->done = true;
    }
  }

  void Expire(const std::vector<std::string>& forget, const std::optional<std::set<std::string>>& retain) {
    for (const auto& p : forget) cache_.erase(p);
    absl::Time idle_since = absl::Now() - kIdleFd;
    for (auto it = cache_.begin(); it != cache_.end();) {
      bool drop = it->second.used < idle_since || (retain && retain->count(it->first) == 0);
      it = drop ? cache_.erase(it) : std::next(it);
    }
  }

  // The netns fd for `path`, reopened when the file behind the path is no
  // longer the namespace we hold (the pod was removed and a new one pinned
  // at the same path), so a cached fd never reports another pod's figures.
  absl::StatusOr<int> NetnsFd(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      cache_.erase(path);
      return absl::ErrnoToStatus(errno, absl::StrCat("stat netns ", path));
    }
    auto it = cache_.find(path);
    if (it != cache_.end() && it->second.dev == st.st_dev && it->second.ino == st.st_ino) {
      it->second.used = absl::Now();
      return it->second.fd.get();
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return absl::ErrnoToStatus(errno, absl::StrCat("open netns ", path));
    struct stat fst;
    if (::fstat(fd.get(), &fst) != 0) return absl::ErrnoToStatus(errno, "fstat netns");
    Cached& c = cache_[path];
    c.fd = std::move(fd);
    c.dev = fst.st_dev;
    c.ino = fst.st_ino;
    c.used = absl::Now();
    return c.fd.get();
  }

  absl::StatusOr<NetStats> ReadOne(const std::string& path) {
    NetStats out;
    out.timestamp_ns = absl::GetCurrentTimeNanos();
    if (path.empty()) return out;
    if (broken_) return absl::InternalError("network stats worker could not return to the host netns");
    absl::StatusOr<int> fd = NetnsFd(path);
    if (!fd.ok()) return fd.status();
    if (::setns(*fd, CLONE_NEWNET) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("setns into ", path));
    }
    absl::StatusOr<std::string> text = ReadSmallFile("/proc/thread-self/net/dev");
    if (::setns(host_.get(), CLONE_NEWNET) != 0) broken_ = true;
    if (!text.ok()) return text.status();
    absl::StatusOr<std::vector<InterfaceStats>> ifs = ParseNetDev(*text);
    if (!ifs.ok()) return ifs.status();
    out.interfaces = std::move(*ifs);
    return out;
  }

  UniqueFd host_;
  bool broken_ = false;                 // worker thread only
  std::map<std::string, Cached> cache_;  // worker thread only
  absl::Mutex mu_;
  std::deque<Request*> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> forget_ ABSL_GUARDED_BY(mu_);
  std::optional<std::set<std::string>> retain_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;  // last: starts after every member above exists
};

absl::StatusOr<std::unique_ptr<NetStatsReader>> NetStatsReader::Create() {
  UniqueFd host(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!host) return absl::ErrnoToStatus(errno, "open the host network namespace");
  return std::unique_ptr<NetStatsReader>(
      new NetStatsReader(std::make_unique<Impl>(std::move(host))));
}

NetStatsReader::NetStatsReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NetStatsReader::~NetStatsReader() = default;

std::vector<absl::StatusOr<NetStats>> NetStatsReader::Read(const std::vector<std::string>& paths) {
  return impl_->Read(paths);
}

void NetStatsReader::Forget(const std::string& path) { impl_->Forget(path); }
void NetStatsReader::RetainOnly(const std::set<std::string>& paths) { impl_->RetainOnly(paths); }

}  // namespace crius::stats
