// ProcessWatcher against real child processes: an exit is reported once,
// a process already gone is reported at once, and nothing is reported after
// the watcher is destroyed.

#include "oci/process_watcher.h"

#include <signal.h>

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"

namespace crius::oci {
namespace {

class KeyRecorder {
 public:
  ProcessWatcher::Callback callback() {
    return [this](const std::string& key) {
      absl::MutexLock lock(&mu_);
      ++count_[key];
    };
  }
  bool WaitFor(const std::string& key, absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return count_[key] > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  int Count(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return count_[key];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int> count_ ABSL_GUARDED_BY(mu_);
};

void KillAndReap(Subprocess& child) {
  ASSERT_TRUE(child.Signal(SIGKILL).ok());
  ASSERT_TRUE(child.Wait(absl::Seconds(20)).ok());
}

Subprocess Sleeper() {
  SubprocessOptions o;
  o.argv = {"/bin/sleep", "1000"};
  auto child = Subprocess::Start(o);
  EXPECT_TRUE(child.ok()) << child.status();
  return *std::move(child);
}

TEST(ProcessWatcherTest, ReportsAnExitOnceAndOnlyForThatProcess) {
  KeyRecorder rec;
  auto watcher = ProcessWatcher::Start(rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  Subprocess a = Sleeper(), b = Sleeper();
  auto who_a = IdentifyProcess(a.pid()), who_b = IdentifyProcess(b.pid());
  ASSERT_TRUE(who_a.ok() && who_b.ok());
  (*watcher)->Watch("a", *who_a);
  (*watcher)->Watch("b", *who_b);
  EXPECT_EQ(rec.Count("a"), 0);
  KillAndReap(a);
  ASSERT_TRUE(rec.WaitFor("a"));
  KillAndReap(b);
  ASSERT_TRUE(rec.WaitFor("b"));
  EXPECT_EQ(rec.Count("a"), 1);
  EXPECT_EQ(rec.Count("b"), 1);
}

TEST(ProcessWatcherTest, AProcessAlreadyGoneOrReplacedIsReportedAtOnce) {
  KeyRecorder rec;
  auto watcher = ProcessWatcher::Start(rec.callback());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  Subprocess a = Sleeper();
  auto who = IdentifyProcess(a.pid());
  ASSERT_TRUE(who.ok());
  KillAndReap(a);
  (*watcher)->Watch("gone", *who);
  ASSERT_TRUE(rec.WaitFor("gone"));
  // The pid of a live process with another start time: a different process.
  Subprocess b = Sleeper();
  (*watcher)->Watch("reused", ProcessIdentity{b.pid(), 1});
  ASSERT_TRUE(rec.WaitFor("reused"));
  KillAndReap(b);
}

TEST(ProcessWatcherTest, NothingIsReportedAfterDestruction) {
  KeyRecorder rec;
  Subprocess a = Sleeper();
  {
    auto watcher = ProcessWatcher::Start(rec.callback());
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    auto who = IdentifyProcess(a.pid());
    ASSERT_TRUE(who.ok());
    (*watcher)->Watch("a", *who);
  }
  KillAndReap(a);
  // The watcher's thread is joined, so nothing can be in flight.
  EXPECT_EQ(rec.Count("a"), 0);
}

}  // namespace
}  // namespace crius::oci
