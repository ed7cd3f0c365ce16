// Hostile requests against a real criusd: each must come back
// INVALID_ARGUMENT and leave nothing on the host: no file where a log path
// pointed, no container, rootfs, bundle or mount, no pod. The rules
// themselves are table-tested in test/unit/server/validate_test.cc; this
// proves the daemon applies them before touching anything.

#include <filesystem>
#include <fstream>
#include <random>

#include "gmock/gmock.h"
#include "test/e2e/container_util.h"

namespace crius::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> EntriesOf(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().string());
  return out;
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

class HostileInputE2E : public ContainerE2E {
 protected:
  // Nothing of a refused CreateContainer exists.
  void ExpectNoContainer(const std::string& why) {
    runtime::v1::ListContainersRequest req;
    auto listed = d_.client().ListContainers(req);
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(listed->containers_size(), 0) << why;
    EXPECT_THAT(EntriesOf(d_.root_dir() + "/containers"), IsEmpty()) << why;
    EXPECT_THAT(EntriesOf(d_.state_dir() + "/containers"), IsEmpty()) << why;
    // Rootfs dirs and overlay mounts of containers.
    for (const auto& e : EntriesOf(d_.root_dir() + "/overlay")) {
      const std::string name = std::filesystem::path(e).filename().string();
      if (name != "l" && name != ".empty") ADD_FAILURE() << why << ": rootfs " << e;
    }
    std::ifstream mounts("/proc/self/mountinfo");
    for (std::string line; std::getline(mounts, line);) {
      if (absl::StrContains(line, d_.dir() + "/") && absl::StrContains(line, "overlay")) {
        ADD_FAILURE() << why << ": mount " << line;
      }
    }
  }

  void ExpectRefused(const absl::StatusOr<std::string>& id, const std::string& field, const std::string& why) {
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << why << ": " << id.status();
    EXPECT_THAT(std::string(id.status().message()), HasSubstr(field)) << why;
    ExpectNoContainer(why);
  }

  static std::string Unique() {
    std::random_device rd;
    return std::to_string(rd()) + std::to_string(rd());
  }
};

TEST_F(HostileInputE2E, LogPathClimbingOutOfTheLogDirectoryCreatesNoFile) {
  // The pod's log directory is <tmp>/logs: "../" reaches the test's temp
  // dir, a deeper climb reaches /tmp itself.
  const std::string near = "escape-" + Unique() + ".log";
  const std::string far = "crius-escape-" + Unique() + ".log";
  const std::string far_target = "/tmp/" + far;
  for (const std::string& path : {"../" + near, "../../../../../../../../tmp/" + far,
                                  "app/../../" + near, "/tmp/" + far}) {
    ExpectRefused(Create("escape", {"true"}, [&](auto& c) { c.set_log_path(path); }), "config.log_path",
                  "log_path " + path);
  }
  EXPECT_FALSE(Exists(d_.dir() + "/" + near)) << "conmon wrote outside the log directory";
  EXPECT_FALSE(Exists(far_target)) << "conmon wrote outside the log directory";
  std::error_code ec;
  std::filesystem::remove(far_target, ec);

  // The same container with a proper log path runs and logs where it should.
  auto ok = Create("escape", {"echo", "inside"}, [](auto& c) { c.set_log_path("escape/0.log"); });
  ASSERT_TRUE(ok.ok()) << ok.status() << d_.Log();
  ASSERT_TRUE(Start(*ok).ok());
  WaitFor(*ok, runtime::v1::CONTAINER_EXITED);
  EXPECT_THAT(ReadLog("escape/0"), HasSubstr("inside"));
}

TEST_F(HostileInputE2E, NulBytesInTheCommandLineOrEnvironmentAreRefused) {
  const std::string nul("x\0y", 3);
  ExpectRefused(Create("nul", {"/bin/echo", nul}), "config.command", "NUL in the command");
  ExpectRefused(Create("nul", {"/bin/echo"}, [&](auto& c) { c.add_args(nul); }), "config.args", "NUL in args");
  ExpectRefused(Create("nul", {"/bin/true"},
                       [&](auto& c) {
                         auto* e = c.add_envs();
                         e->set_key("K");
                         e->set_value(nul);
                       }),
                "config.envs", "NUL in an env value");
}

TEST_F(HostileInputE2E, OutOfRangeResourcesAreRefusedOnCreateAndUpdate) {
  ExpectRefused(Create("res", {"true"},
                       [](auto& c) { c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(-1); }),
                "memory_limit_in_bytes", "a negative memory limit");
  ExpectRefused(Create("res", {"true"}, [](auto& c) { c.mutable_linux()->mutable_resources()->set_cpu_shares(-5); }),
                "cpu_shares", "negative CPU shares");

  auto id = Create("res", {"sleep", "3600"},
                   [](auto& c) { c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(64 << 20); });
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok());
  runtime::v1::UpdateContainerResourcesRequest up;
  up.set_container_id(*id);
  up.mutable_linux()->set_memory_limit_in_bytes(-4096);
  auto refused = d_.client().UpdateContainerResources(up);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  auto st = Status(*id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->resources().linux().memory_limit_in_bytes(), 64 << 20) << "the refused update was applied";
  runtime::v1::StopContainerRequest stop;
  stop.set_container_id(*id);
  EXPECT_TRUE(d_.client().StopContainer(stop).ok());
}

TEST_F(HostileInputE2E, NamesFarBeyondKubernetesLimitsAreRefusedAndMakeNoPod) {
  auto before = EntriesOf(d_.state_dir() + "/pods");
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod_config_;
  run.mutable_config()->mutable_metadata()->set_name(std::string(10000, 'p'));
  auto resp = d_.client().RunPodSandbox(run);
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument) << resp.status();
  EXPECT_THAT(std::string(resp.status().message()), HasSubstr("config.metadata.name"));

  *run.mutable_config() = pod_config_;
  run.mutable_config()->mutable_metadata()->set_name("other");
  run.mutable_config()->set_log_directory(d_.dir() + "/logs/../../../etc");
  resp = d_.client().RunPodSandbox(run);
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInvalidArgument) << resp.status();

  auto pods = d_.client().ListPodSandbox();
  ASSERT_TRUE(pods.ok());
  EXPECT_EQ(pods->items_size(), 1) << "only the fixture's pod";
  EXPECT_EQ(EntriesOf(d_.state_dir() + "/pods"), before);

  ExpectRefused(Create(std::string(10000, 'c'), {"true"}), "config.metadata.name", "a 10,000-character name");
}

}  // namespace
}  // namespace crius::testing
