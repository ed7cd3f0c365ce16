#pragma once
// Helpers for the sandbox tests that run against the real kernel as root:
// unique names (tests run in parallel), a view of the mount table, and
// "does this process still have children" for leaked helpers.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/exec.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "sandbox/mountinfo.h"

namespace crius::sandbox::testing {

#define CRIUS_REQUIRE_ROOT()                                          \
  do {                                                                \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (real kernel)"; \
  } while (0)

// "<prefix>-<pid>-<random>-<n>": unique across parallel test processes and
// across runs that left something behind.
inline std::string UniqueName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  unsigned random = 0;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (::read(fd, &random, sizeof(random)) != sizeof(random)) random = 0;
    ::close(fd);
  }
  return absl::StrFormat("%s-%d-%08x-%d", AbslView(prefix), ::getpid(), random, counter++);
}

// Mounts whose mount point is `path` or below it.
inline std::vector<MountInfo> MountsAt(const std::string& path) {
  std::vector<MountInfo> found;
  auto mounts = ReadMountInfo();
  EXPECT_TRUE(mounts.ok()) << mounts.status();
  if (!mounts.ok()) return found;
  for (const auto& m : *mounts) {
    if (m.mount_point == path || absl::StartsWith(m.mount_point, absl::StrCat(path, "/"))) {
      found.push_back(m);
    }
  }
  return found;
}

// True when this process has any child, running or not yet reaped.
inline bool HasChildren() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

inline bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Runs a command to completion and returns its stdout; fails the test on a
// non-zero exit.
inline std::string RunCmd(std::vector<std::string> argv) {
  ExecOptions o;
  o.argv = std::move(argv);
  o.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  auto r = ExecChecked(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->stdout_data : "";
}

inline std::string Tool(const std::string& name) {
  auto path = FindExecutable(name, {"/usr/sbin", "/usr/bin", "/sbin", "/bin"});
  EXPECT_TRUE(path.ok()) << path.status();
  return path.value_or("/nonexistent/" + name);
}

}  // namespace crius::sandbox::testing
