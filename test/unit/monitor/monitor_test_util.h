#pragma once
// Shared by the monitor tests: a temporary directory removed on every exit
// path, exit files written the way conmon writes them, and a recorder for
// ExitWatcher callbacks that a test can wait on with a deadline.

#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "gtest/gtest.h"
#include "oci/exit_watcher.h"

namespace crius::oci::testing {

class TempDir {
 public:
  explicit TempDir(const char* prefix = "/tmp/crius-mon-") {
    std::string tmpl = absl::StrCat(prefix, "XXXXXX");
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
    EXPECT_FALSE(path_.empty()) << "mkdtemp " << tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) {
      EXPECT_TRUE(RemoveAll(path_).ok()) << path_;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// conmon writes a temporary "<id>.XXXXXX" and renames it into place.
inline void WriteLikeConmon(const std::string& dir, const std::string& id,
                            const std::string& content) {
  std::string tmp = JoinPath(dir, absl::StrCat(id, ".Ab12Cd"));
  ASSERT_TRUE(WriteFileAtomic(tmp, content).ok());
  ASSERT_EQ(::rename(tmp.c_str(), JoinPath(dir, id).c_str()), 0);
}

class Recorder {
 public:
  ExitWatcher::Callback callback() {
    return [this](const ExitEvent& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_[e.id] = e;
      ++count_[e.id];
      cv_.notify_all();
    };
  }
  // Waits until `id` was reported (or the deadline passes).
  bool WaitFor(const std::string& id, ExitEvent* out, absl::Duration timeout = absl::Seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                            [&] { return events_.count(id) > 0; });
    if (got && out != nullptr) *out = events_[id];
    return got;
  }
  int Count(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return count_[id];
  }
  size_t Distinct() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, ExitEvent> events_;
  std::map<std::string, int> count_;
};

}  // namespace crius::oci::testing
