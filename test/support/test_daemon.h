#pragma once
// TestDaemon runs a real criusd for e2e and fault tests: its own temporary
// root, state, socket, config and CNI dirs, so tests run in parallel and never
// touch the node's /etc, /run or /var. The child is started and ended by PID,
// and the temporary tree is removed even when a test fails.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cri_client.h"
#include "common/subprocess.h"

namespace crius::testing {

// A fresh directory under /tmp, removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "crius-test-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `data` to `path`, creating parent directories; aborts the test
// binary's current test with a gtest failure on error.
void WriteTestFile(const std::string& path, const std::string& data);

class TestDaemon {
 public:
  TestDaemon();
  ~TestDaemon();

  // The built criusd binary.
  static std::string Binary();

  const std::string& dir() const { return tmp_.path(); }
  std::string socket_path() const { return tmp_.Sub("run/crius.sock"); }
  std::string endpoint() const { return "unix://" + socket_path(); }
  std::string state_dir() const { return tmp_.Sub("state"); }
  std::string root_dir() const { return tmp_.Sub("root"); }
  std::string cni_conf_dir() const { return tmp_.Sub("net.d"); }
  std::string config_path() const { return tmp_.Sub("crius.yaml"); }
  std::string config_dir() const { return tmp_.Sub("crius.d"); }
  std::string log_path() const { return tmp_.Sub("criusd.log"); }

  // The YAML written to config_path() before each start. The default turns
  // metrics off (tests run in parallel; one test turns them on with its own
  // port) and points every dir into the temporary tree.
  std::string config_yaml;
  // Extra command-line flags for the next start.
  std::vector<std::string> extra_flags;
  // Extra environment ("NAME=value") for the next start, e.g. a
  // CRIUS_FAILPOINT; PATH is always set.
  std::vector<std::string> extra_env;

  // The full argv of the next start.
  std::vector<std::string> Argv() const;

  // Starts criusd and waits until Version answers through the socket, or
  // fails with the daemon's log if it exits or does not answer in time.
  absl::Status Start(absl::Duration timeout = absl::Seconds(30));
  // Runs criusd expecting it to exit by itself (e.g. a refused start);
  // returns its wait status.
  absl::StatusOr<int> RunToExit(absl::Duration timeout = absl::Seconds(30));
  // SIGTERM, then waits for exit; returns the wait status.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(30));
  // SIGKILL, as a crash would; returns the wait status.
  absl::StatusOr<int> Kill();
  bool Running();
  pid_t pid() const { return process_ ? process_->pid() : -1; }

  // The client connected by Start.
  client::CriClient& client() { return *client_; }
  // Everything criusd wrote to stderr so far.
  std::string Log() const;

 private:
  // Writes the config and starts criusd with Argv(), its output to the log.
  absl::StatusOr<Subprocess> Spawn();

  TempDir tmp_;
  std::unique_ptr<Subprocess> process_;
  std::unique_ptr<client::CriClient> client_;
};

}  // namespace crius::testing
