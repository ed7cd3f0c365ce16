// A criusd killed with SIGKILL leaves its socket file and lock file behind;
// the next start must treat both as stale and serve again.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

TEST(DaemonFault, RestartAfterSigkillReplacesTheLeftoverSocket) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto st = d.Kill();
  ASSERT_TRUE(st.ok()) << st.status();
  ASSERT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL);
  struct stat sb;
  ASSERT_EQ(::stat(d.socket_path().c_str(), &sb), 0) << "a killed daemon leaves its socket";

  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto v = d.client().Version();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->runtime_name(), "crius");
  auto stop = d.Stop();
  ASSERT_TRUE(stop.ok());
  EXPECT_TRUE(WIFEXITED(*stop) && WEXITSTATUS(*stop) == 0);
}

TEST(DaemonFault, RepeatedCrashesNeverWedgeTheSocket) {
  TestDaemon d;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(d.Start().ok()) << "round " << i << ": " << d.Log();
    ASSERT_TRUE(d.client().Status(false).ok());
    ASSERT_TRUE(d.Kill().ok());
  }
}

}  // namespace
}  // namespace crius::testing
