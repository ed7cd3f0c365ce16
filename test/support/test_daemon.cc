#include "test/support/test_daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "gtest/gtest.h"

namespace crius::testing {

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  auto s = RemoveAll(path_);
  if (!s.ok()) ADD_FAILURE() << "cleaning " << path_ << ": " << s;
}

void WriteTestFile(const std::string& path, const std::string& data) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos) {
    ASSERT_TRUE(MkdirAll(path.substr(0, slash)).ok()) << path;
  }
  auto s = WriteFileAtomic(path, data);
  ASSERT_TRUE(s.ok()) << s;
}

TestDaemon::TestDaemon() : tmp_("crius-e2e-") {
  config_yaml = absl::StrCat("root: ", root_dir(), "\n",              //
                             "state: ", state_dir(), "\n",            //
                             "log_level: debug\n",                    //
                             "cni:\n  conf_dir: ", cni_conf_dir(), "\n",  //
                             "  cache_dir: ", tmp_.Sub("cni-cache"), "\n",
                             "metrics:\n  enabled: false\n",
                             // Pods sharing one PID namespace (the CRI default)
                             // run the pause binary this build made.
                             "pod:\n  infra_path: ", CRIUS_BINARY_DIR, "/sandbox/pause/crius-pause\n");
  EXPECT_TRUE(MkdirAll(cni_conf_dir()).ok());
  // The same tests run with another default OCI runtime (e.g. crun, in the
  // cgroup v2 VM): a drop-in, so a test's own config_yaml stays as it is.
  // The tests name cgroupfs parents ("/kubepods/..."); under a systemd PID 1
  // (the VM's --init systemd) criusd would default to the systemd driver.
  WriteTestFile(JoinPath(config_dir(), "00-test-cgroup-manager.yaml"),
                "runtime:\n  cgroup_manager: cgroupfs\n");
  const char* handler = ::getenv("CRIUS_TEST_DEFAULT_HANDLER");
  if (handler != nullptr && *handler != '\0') {
    WriteTestFile(JoinPath(config_dir(), "00-test-default-handler.yaml"),
                  absl::StrCat("runtime:\n  default_handler: ", handler, "\n"));
  }
}

TestDaemon::~TestDaemon() {
  client_.reset();
  if (process_ && process_->Running()) {
    // The test did not stop it (it failed, or it tests a crash): end it by
    // PID so no daemon outlives its test.
    (void)process_->Signal(SIGKILL);
    (void)process_->Wait(absl::Seconds(30));
  }
  process_.reset();
}

std::string TestDaemon::Binary() { return std::string(CRIUS_BINARY_DIR) + "/server/criusd"; }

std::vector<std::string> TestDaemon::Argv() const {
  std::vector<std::string> argv = {Binary(),      "--config", config_path(), "--config-dir",
                                   config_dir(), "--listen", endpoint()};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  return argv;
}

absl::StatusOr<Subprocess> TestDaemon::Spawn() {
  WriteTestFile(config_path(), config_yaml);
  SubprocessOptions opts;
  opts.argv = Argv();
  opts.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  opts.env.insert(opts.env.end(), extra_env.begin(), extra_env.end());
  opts.stdout_path = log_path();
  opts.stderr_path = log_path();
  return Subprocess::Start(opts);
}

namespace {

// Slow machines (the TCG-emulated cgroup v2 VM runs every fork+exec ~13x
// slower) stretch the startup deadline by CRIUS_TEST_TIMEOUT_SCALE.
absl::Duration Scaled(absl::Duration d) {
  const char* scale = ::getenv("CRIUS_TEST_TIMEOUT_SCALE");
  int factor = scale != nullptr ? std::atoi(scale) : 1;
  return factor > 1 ? d * factor : d;
}

}  // namespace

absl::Status TestDaemon::Start(absl::Duration timeout) {
  timeout = Scaled(timeout);
  auto p = Spawn();
  if (!p.ok()) return p.status();
  process_ = std::make_unique<Subprocess>(std::move(*p));
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!process_->Running()) {
      auto st = process_->Wait(absl::Seconds(1));
      return absl::UnavailableError(absl::StrCat(
          "criusd ", st.ok() ? DescribeWaitStatus(*st) : "exited", " during startup; log:\n", Log()));
    }
    auto c = client::CriClient::Connect(endpoint(), absl::Milliseconds(200));
    if (c.ok()) {
      auto v = (*c)->Version({}, absl::Seconds(5));
      if (v.ok()) {
        client_ = std::move(*c);
        return absl::OkStatus();
      }
    }
  }
  return absl::DeadlineExceededError(absl::StrCat("criusd did not answer Version within ",
                                                  absl::FormatDuration(timeout), "; log:\n", Log()));
}

absl::StatusOr<int> TestDaemon::RunToExit(absl::Duration timeout) {
  auto p = Spawn();
  if (!p.ok()) return p.status();
  auto st = p->Wait(timeout);
  if (!st.ok()) {
    (void)p->Signal(SIGKILL);
    (void)p->Wait(absl::Seconds(30));
  }
  return st;
}

absl::StatusOr<int> TestDaemon::Stop(absl::Duration timeout) {
  if (!process_) return absl::FailedPreconditionError("criusd was not started");
  client_.reset();
  if (auto s = process_->Signal(SIGTERM); !s.ok()) return s;
  return process_->Wait(timeout);
}

absl::StatusOr<int> TestDaemon::Kill() {
  if (!process_) return absl::FailedPreconditionError("criusd was not started");
  client_.reset();
  if (auto s = process_->Signal(SIGKILL); !s.ok()) return s;
  return process_->Wait(absl::Seconds(30));
}

bool TestDaemon::Running() { return process_ && process_->Running(); }

std::string TestDaemon::Log() const {
  std::ifstream in(log_path());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace crius::testing
