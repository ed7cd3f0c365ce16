// Failures around a container's record and files that used to be ignored,
// against a real criusd, runc and conmon: a termination message that is not
// UTF-8 (the container writes any bytes it likes), a stored process spec
// that no longer parses, and container files that cannot be removed. Needs
// root.

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "test/e2e/container_util.h"

namespace crius::testing {
namespace {

using runtime::v1::CONTAINER_EXITED;
using runtime::v1::CONTAINER_RUNNING;
using ::testing::HasSubstr;

using ContainerErrors = ContainerE2E;

// The container's bytes reach kubelet as valid UTF-8 (its Go protobuf
// refuses anything else), and the record holding them is written: the
// message is the same after a restart.
TEST_F(ContainerErrors, ATerminationMessageThatIsNotUtf8IsReportedAndKept) {
  auto id = Create("bad-bytes",
                   {"sh", "-c", "printf 'bad \\377\\376 bytes' > /dev/termination-log; exit 3"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  auto st = WaitFor(*id, CONTAINER_EXITED);
  ASSERT_EQ(st.state(), CONTAINER_EXITED);
  const std::string expected = "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes";
  EXPECT_EQ(st.exit_code(), 3);
  EXPECT_EQ(st.message(), expected);

  ASSERT_TRUE(d_.Running()) << d_.Log();
  ASSERT_TRUE(d_.Stop().ok()) << d_.Log();
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  auto again = Status(*id);
  ASSERT_TRUE(again.ok()) << again.status() << d_.Log();
  EXPECT_EQ(again->state(), CONTAINER_EXITED);
  EXPECT_EQ(again->exit_code(), 3);
  EXPECT_EQ(again->message(), expected);
}

// Without its stored process spec an exec would run as root with no
// capabilities dropped, no environment and no cwd: ExecSync refuses.
TEST_F(ContainerErrors, ExecSyncRefusesAnUnparsableStoredProcess) {
  auto id = Create("broken-process", {"sleep", "3600"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  ASSERT_TRUE(d_.Stop().ok()) << d_.Log();
  const std::string record = d_.root_dir() + "/containers/" + *id + ".json";
  auto text = ReadFile(record);
  ASSERT_TRUE(text.ok()) << text.status();
  nlohmann::json j = nlohmann::json::parse(*text);
  j["process"] = "{ not json";
  ASSERT_TRUE(WriteFileAtomic(record, j.dump(2), 0600).ok());
  ASSERT_TRUE(d_.Start().ok()) << d_.Log();
  auto st = Status(*id);
  ASSERT_TRUE(st.ok()) << st.status() << d_.Log();
  ASSERT_EQ(st->state(), CONTAINER_RUNNING);

  runtime::v1::ExecSyncRequest req;
  req.set_container_id(*id);
  req.add_cmd("id");
  auto resp = d_.client().ExecSync(req);
  ASSERT_FALSE(resp.ok()) << "ran with an empty process: " << resp->DebugString();
  EXPECT_EQ(resp.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(resp.status().message()),
              HasSubstr("stored process spec does not parse"));
}

// A container file that cannot be removed fails RemoveContainer (the
// record stays, so kubelet's retry finds the container) instead of leaking.
TEST_F(ContainerErrors, RemoveReportsAContainerFileItCannotRemove) {
  auto id = Create("stuck-file", {"true"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  ASSERT_EQ(WaitFor(*id, CONTAINER_EXITED).state(), CONTAINER_EXITED);

  // The exit file replaced by a directory that unlink(2) refuses.
  const std::string exit_file = d_.state_dir() + "/exits/" + *id;
  ASSERT_EQ(::unlink(exit_file.c_str()), 0) << exit_file;
  ASSERT_EQ(::mkdir(exit_file.c_str(), 0700), 0);
  runtime::v1::RemoveContainerRequest rm;
  rm.set_container_id(*id);
  auto removed = d_.client().RemoveContainer(rm);
  ASSERT_FALSE(removed.ok()) << "a container file was left behind silently";
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr(exit_file));
  auto kept = Status(*id);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->state(), CONTAINER_EXITED);

  ASSERT_EQ(::rmdir(exit_file.c_str()), 0);
  ASSERT_TRUE(d_.client().RemoveContainer(rm).ok()) << d_.Log();
  EXPECT_EQ(Status(*id).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace crius::testing
