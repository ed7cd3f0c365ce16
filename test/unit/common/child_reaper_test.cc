// The subreaper's reaper takes exited orphans and never a child whose
// owner will wait for it.

#include "common/child_reaper.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/exec.h"
#include "common/proc_stat.h"
#include "gtest/gtest.h"

namespace crius {
namespace {

// The state letter and parent of `pid`; ' ' once it is gone.
std::pair<char, pid_t> StateAndParent(pid_t pid) {
  auto st = ReadProcStat(pid);
  return st.ok() ? std::make_pair(st->state, st->ppid) : std::make_pair(' ', pid_t{0});
}

bool WaitForState(pid_t pid, char state) {
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    if (StateAndParent(pid).first == state) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

TEST(ChildReaperTest, AnOwnedChildIsLeftToItsOwner) {
  pid_t pid = ForkOwnedChild([] {
    pid_t p = ::fork();
    if (p == 0) ::_exit(7);
    return p;
  });
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(IsOwnedChild(pid));
  ASSERT_TRUE(WaitForState(pid, 'Z'));
  EXPECT_EQ(ReapUnownedChildren(), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid) << "the reaper took an owned child";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  ReleaseOwnedChild(pid);
  EXPECT_FALSE(IsOwnedChild(pid));
}

TEST(ChildReaperTest, AnOrphanReparentedToTheSubreaperIsReaped) {
  ASSERT_TRUE(BecomeChildSubreaper().ok());
  // The shell starts a grandchild and exits at once; the grandchild is
  // reparented to this process and, once it exits, is a zombie here until
  // reaped.
  ExecOptions o;
  o.argv = {"/bin/sh", "-c", "/bin/sleep 0.2 >/dev/null 2>&1 & echo $!"};
  auto r = ExecChecked(o);
  ASSERT_TRUE(r.ok()) << r.status();
  pid_t orphan = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r->stdout_data), &orphan));
  EXPECT_EQ(StateAndParent(orphan).second, ::getpid()) << "not reparented to the subreaper";
  ASSERT_TRUE(WaitForState(orphan, 'Z')) << "the orphan never exited";
  EXPECT_GE(ReapUnownedChildren(), 1);
  EXPECT_EQ(StateAndParent(orphan).first, ' ') << "still there after the reaper ran";
  // Exec's own child was owned and reaped by Exec, not released early.
  EXPECT_FALSE(IsOwnedChild(orphan));
}

// A fork on one thread does not wait for a fork on another (they used to
// share one lock held across fork).
TEST(ChildReaperTest, ForksOnDifferentThreadsDoNotWaitForEachOther) {
  absl::Notification entered, release;
  pid_t slow = 0;
  std::thread t([&] {
    slow = ForkOwnedChild([&] {
      entered.Notify();
      release.WaitForNotification();
      pid_t p = ::fork();
      if (p == 0) ::_exit(0);
      return p;
    });
  });
  entered.WaitForNotification();
  absl::Notification forked;
  pid_t fast = 0;
  std::thread u([&] {
    fast = ForkOwnedChild([] {
      pid_t p = ::fork();
      if (p == 0) ::_exit(0);
      return p;
    });
    forked.Notify();
  });
  // A deadline, not a timing: one shared lock would hold this fork until
  // the release below.
  EXPECT_TRUE(forked.WaitForNotificationWithTimeout(absl::Seconds(30)));
  release.Notify();
  t.join();
  u.join();
  for (pid_t pid : {slow, fast}) {
    ASSERT_GT(pid, 0);
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    ReleaseOwnedChild(pid);
  }
}

// A child that exits before its fork has recorded it is not taken from its
// owner: the reaper skips its round while a fork is under way.
TEST(ChildReaperTest, TheReaperSkipsWhileAForkIsUnderWay) {
  absl::Notification exited, release;
  pid_t child = 0;
  std::thread t([&] {
    ForkOwnedChild([&] {
      pid_t p = ::fork();
      if (p == 0) ::_exit(5);
      child = p;
      WaitForState(p, 'Z');
      exited.Notify();
      release.WaitForNotification();
      return p;
    });
  });
  exited.WaitForNotification();
  EXPECT_FALSE(IsOwnedChild(child));
  EXPECT_EQ(ReapUnownedChildren(), 0);
  EXPECT_EQ(StateAndParent(child).first, 'Z') << "reaped before its owner recorded it";
  release.Notify();
  t.join();
  EXPECT_TRUE(IsOwnedChild(child));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 5);
  ReleaseOwnedChild(child);
}

}  // namespace
}  // namespace crius
