// ListContainers and ContainerStatus answer from memory while a container's
// record is being written to disk: the writes of StartContainer, of the
// exit handler (through StopContainer) and of RemoveContainer are held at
// failpoints (CRIUS_FAILPOINT_HOLD, common/failpoint.h) as a stalled fsync
// would hold them, and both calls must answer meanwhile, showing the
// record from before the held change. Needs root, runc and conmon.

#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/failpoint.h"
#include "test/e2e/container_util.h"
#include "test/e2e/sandbox_util.h"

namespace crius::testing {
namespace {

using runtime::v1::CONTAINER_CREATED;
using runtime::v1::CONTAINER_EXITED;
using runtime::v1::CONTAINER_RUNNING;
using runtime::v1::ContainerState;

// What a kubelet relist may wait at most; the held write never ends on its
// own, so a call that waits for it fails here rather than hanging.
constexpr absl::Duration kRelistDeadline = absl::Seconds(20);

class RecordLock : public ContainerE2E {
 protected:
  void BeforeDaemonStart() override {
    hold_dir_ = d_.dir() + "/holds";
    WriteTestFile(hold_dir_ + "/.keep", "");
    std::vector<std::string> names;
    for (failpoint::Point p : kHeld) names.emplace_back(failpoint::Name(p));
    d_.extra_env = {"CRIUS_FAILPOINT_HOLD=" + absl::StrJoin(names, ","),
                    "CRIUS_FAILPOINT_HOLD_DIR=" + hold_dir_};
  }

  void TearDown() override {
    // After a failed check a call may still be held, and the teardown's
    // calls may reach a held point again: every hold is released until the
    // pod is gone.
    std::atomic<bool> done{false};
    std::thread releaser([&] {
      while (!done) {
        for (failpoint::Point p : kHeld) ::unlink(HoldFile(p).c_str());
        absl::SleepFor(absl::Milliseconds(10));
      }
    });
    if (call_.joinable()) call_.join();
    ContainerE2E::TearDown();
    done = true;
    releaser.join();
  }

  static constexpr failpoint::Point kHeld[] = {
      failpoint::Point::kStartContainerRecordWrite, failpoint::Point::kContainerExitRecordWrite,
      failpoint::Point::kRemoveContainerBeforeRecordDelete};

  std::string HoldFile(failpoint::Point p) const {
    return hold_dir_ + "/" + std::string(failpoint::Name(p));
  }

  // Runs `call` on its own thread; it is held at `p`, and while it is, List
  // and Status answer with the container still in `before`.
  void ExpectAnswersWhileHeld(failpoint::Point p, const std::string& id, ContainerState before,
                              const std::function<absl::Status()>& call) {
    result_ = absl::UnknownError("not run");
    call_ = std::thread([this, call] { result_ = call(); });
    const std::string hold = HoldFile(p);
    ASSERT_TRUE(WaitUntil([&] { return ::access(hold.c_str(), F_OK) == 0; }))
        << "never held at " << failpoint::Name(p) << d_.Log();

    auto list = d_.client().ListContainers({}, kRelistDeadline);
    ASSERT_TRUE(list.ok()) << "ListContainers waited for a held record write: " << list.status();
    bool listed = false;
    for (const auto& c : list->containers()) {
      if (c.id() == id) {
        listed = true;
        EXPECT_EQ(c.state(), before);
      }
    }
    EXPECT_TRUE(listed) << list->DebugString();
    runtime::v1::ContainerStatusRequest req;
    req.set_container_id(id);
    auto st = d_.client().ContainerStatus(req, kRelistDeadline);
    ASSERT_TRUE(st.ok()) << "ContainerStatus waited for a held record write: " << st.status();
    EXPECT_EQ(st->status().state(), before);
    auto pods = d_.client().ListPodSandbox({}, kRelistDeadline);
    ASSERT_TRUE(pods.ok()) << pods.status();

    ASSERT_EQ(::unlink(hold.c_str()), 0);
    call_.join();
    EXPECT_TRUE(result_.ok()) << result_ << d_.Log();
  }

  // The container's state, or -1 if Status fails.
  int StateOf(const std::string& id) {
    auto st = Status(id);
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? st->state() : -1;
  }

  std::string hold_dir_;
  std::thread call_;
  absl::Status result_;  // of the call on `call_`
};

TEST_F(RecordLock, ListAndStatusAnswerWhileARecordWriteIsHeld) {
  auto id = Create("held", {"sleep", "3600"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();

  ExpectAnswersWhileHeld(failpoint::Point::kStartContainerRecordWrite, *id, CONTAINER_CREATED,
                         [&] { return Start(*id); });
  if (HasFatalFailure()) return;
  EXPECT_EQ(StateOf(*id), CONTAINER_RUNNING);

  // StopContainer kills the container and waits for the exit handler's
  // record, which is held.
  ExpectAnswersWhileHeld(failpoint::Point::kContainerExitRecordWrite, *id, CONTAINER_RUNNING, [&] {
    runtime::v1::StopContainerRequest stop;
    stop.set_container_id(*id);
    stop.set_timeout(0);
    return d_.client().StopContainer(stop).status();
  });
  if (HasFatalFailure()) return;
  EXPECT_EQ(StateOf(*id), CONTAINER_EXITED);

  ExpectAnswersWhileHeld(failpoint::Point::kRemoveContainerBeforeRecordDelete, *id,
                         CONTAINER_EXITED, [&] {
                           runtime::v1::RemoveContainerRequest rm;
                           rm.set_container_id(*id);
                           return d_.client().RemoveContainer(rm).status();
                         });
  EXPECT_EQ(Status(*id).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace crius::testing
