// GetContainerEvents against a real criusd: the four events of a container's
// life in order, STOPPED for a container that exits by itself, several
// subscribers, a subscriber that disconnects, and one that never reads while
// pods start.

#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/criusctl.h"
#include "test/e2e/container_util.h"
#include "test/e2e/events_util.h"

namespace crius::testing {
namespace {

using runtime::v1::ContainerEventResponse;
using runtime::v1::ContainerEventType;

std::vector<ContainerEventType> TypesOf(const std::vector<ContainerEventResponse>& events) {
  std::vector<ContainerEventType> out;
  for (const auto& e : events) out.push_back(e.container_event_type());
  return out;
}

const runtime::v1::ContainerStatus* StatusIn(const ContainerEventResponse& e, const std::string& id) {
  for (const auto& s : e.containers_statuses()) {
    if (s.id() == id) return &s;
  }
  return nullptr;
}

class EventsE2E : public ContainerE2E {
 protected:
  void BeforeDaemonStart() override {
    auto port = PickFreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    WriteTestFile(d_.config_dir() + "/10-events.yaml",
                  absl::StrCat("metrics:\n  enabled: true\n  address: 127.0.0.1:", port_,
                               "\nevents:\n  buffer: 4\n"));
  }

  void StopAndRemove(const std::string& id) {
    runtime::v1::StopContainerRequest stop;
    stop.set_container_id(id);
    ASSERT_TRUE(d_.client().StopContainer(stop).ok()) << d_.Log();
    runtime::v1::RemoveContainerRequest rm;
    rm.set_container_id(id);
    ASSERT_TRUE(d_.client().RemoveContainer(rm).ok()) << d_.Log();
  }

  // Waits until the scrape shows `series` at `want`; returns the last value.
  double WaitForMetric(const std::string& series, double want) {
    double v = -1;
    for (absl::Time deadline = absl::Now() + absl::Seconds(30); absl::Now() < deadline;) {
      v = MetricValue(Scrape(port_), series);
      if (v == want) return v;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return v;
  }

  int port_ = 0;
};

const std::vector<ContainerEventType> kLife = {
    runtime::v1::CONTAINER_CREATED_EVENT, runtime::v1::CONTAINER_STARTED_EVENT,
    runtime::v1::CONTAINER_STOPPED_EVENT, runtime::v1::CONTAINER_DELETED_EVENT};

TEST_F(EventsE2E, ContainerLifeIsFourEventsInOrder) {
  EventStream stream(d_.client());
  auto id = Create("evented", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  StopAndRemove(*id);
  auto events = stream.WaitFor(*id, 4);
  ASSERT_EQ(TypesOf(events), kLife) << d_.Log();
  int64_t last = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.pod_sandbox_status().id(), pod_id_);
    EXPECT_EQ(e.pod_sandbox_status().metadata().name(), "ctr-pod");
    EXPECT_GE(e.created_at(), last);
    last = e.created_at();
  }
  // The container's own status rides along while it exists, in the state
  // the event reports.
  const auto* created = StatusIn(events[0], *id);
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->state(), runtime::v1::CONTAINER_CREATED);
  const auto* running = StatusIn(events[1], *id);
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->state(), runtime::v1::CONTAINER_RUNNING);
  const auto* exited = StatusIn(events[2], *id);
  ASSERT_NE(exited, nullptr);
  EXPECT_EQ(exited->state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(StatusIn(events[3], *id), nullptr);
  // Nothing more arrives for it.
  EXPECT_EQ(stream.WaitFor(*id, 5, absl::Milliseconds(300)).size(), 4u);
}

TEST_F(EventsE2E, ContainerExitingByItselfIsStopped) {
  EventStream stream(d_.client());
  auto id = Create("quitter", {"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  auto events = stream.WaitFor(*id, 3);
  ASSERT_EQ(TypesOf(events), std::vector<ContainerEventType>(kLife.begin(), kLife.begin() + 3)) << d_.Log();
  const auto* st = StatusIn(events[2], *id);
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->state(), runtime::v1::CONTAINER_EXITED);
  EXPECT_EQ(st->exit_code(), 3);
  StopAndRemove(*id);
  EXPECT_EQ(TypesOf(stream.WaitFor(*id, 4)), kLife);
}

TEST_F(EventsE2E, TwoSubscribersBothSeeEveryEvent) {
  EventStream a(d_.client());
  EventStream b(d_.client());
  auto id = Create("shared", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  StopAndRemove(*id);
  EXPECT_EQ(TypesOf(a.WaitFor(*id, 4)), kLife);
  EXPECT_EQ(TypesOf(b.WaitFor(*id, 4)), kLife);
}

TEST_F(EventsE2E, PodLifeIsReportedUnderThePodId) {
  EventStream stream(d_.client());
  auto pod = pod_config_;
  pod.mutable_metadata()->set_name("evented-pod");
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  auto ran = d_.client().RunPodSandbox(run);
  ASSERT_TRUE(ran.ok()) << ran.status() << d_.Log();
  const std::string pod_id = ran->pod_sandbox_id();
  runtime::v1::RemovePodSandboxRequest rm;
  rm.set_pod_sandbox_id(pod_id);
  ASSERT_TRUE(d_.client().RemovePodSandbox(rm).ok()) << d_.Log();
  auto events = stream.WaitFor(pod_id, 4);
  EXPECT_EQ(TypesOf(events), kLife) << d_.Log();
  for (const auto& e : events) EXPECT_EQ(e.pod_sandbox_status().id(), pod_id);
}

TEST_F(EventsE2E, DisconnectedSubscriberIsCleanedUp) {
  auto stream = std::make_unique<EventStream>(d_.client());
  auto other = std::make_unique<EventStream>(d_.client());
  EXPECT_EQ(WaitForMetric("crius_events_subscribers", 2), 2);
  stream->Close();
  EXPECT_EQ(WaitForMetric("crius_events_subscribers", 1), 1) << d_.Log();
  other.reset();
  EXPECT_EQ(WaitForMetric("crius_events_subscribers", 0), 0) << d_.Log();
}

// Starts `n` node-network pods named <prefix>-<i> (with a large annotation,
// so that their events fill a subscriber's transport quickly) and returns
// how long that took; their ids go to `ids`.
absl::Duration StartPods(TestDaemon& d, const runtime::v1::PodSandboxConfig& base, const std::string& prefix,
                         int n, std::vector<std::string>& ids) {
  const absl::Time start = absl::Now();
  for (int i = 0; i < n; ++i) {
    auto pod = base;
    pod.mutable_metadata()->set_name(absl::StrCat(prefix, "-", i));
    (*pod.mutable_annotations())["e2e/padding"] = std::string(64 << 10, 'x');
    runtime::v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod;
    auto ran = d.client().RunPodSandbox(run);
    EXPECT_TRUE(ran.ok()) << ran.status();
    if (ran.ok()) ids.push_back(ran->pod_sandbox_id());
  }
  return absl::Now() - start;
}

TEST_F(EventsE2E, StuckSubscriberDoesNotSlowPodStarts) {
  std::vector<std::string> ids;
  // Warm-up, so neither timed batch pays for first-time costs.
  StartPods(d_, pod_config_, "warm", 5, ids);
  const absl::Duration alone = StartPods(d_, pod_config_, "alone", 50, ids);
  EventStream stuck(d_.client(), /*read=*/false);
  const absl::Duration with_stuck = StartPods(d_, pod_config_, "stuck", 50, ids);
  // A generous bound: a subscriber that blocked the publisher would stall
  // the starts outright once its transport filled up.
  EXPECT_LT(with_stuck, alone * 3) << "alone " << alone << ", with a stuck subscriber " << with_stuck;
  const double dropped = MetricValue(Scrape(port_), "crius_events_dropped_total");
  EXPECT_GT(dropped, 0) << "100 events of 64 KiB each cannot all fit";
  EXPECT_TRUE(absl::StrContains(d_.Log(), "is not reading")) << "the drop is logged";
  for (const auto& id : ids) {
    runtime::v1::RemovePodSandboxRequest rm;
    rm.set_pod_sandbox_id(id);
    EXPECT_TRUE(d_.client().RemovePodSandbox(rm).ok());
  }
  std::cout << "50 pod starts: " << alone << " alone, " << with_stuck << " with a stuck subscriber; "
            << dropped << " events dropped\n";
}

TEST_F(EventsE2E, CriusctlEventsPrintsTheStreamAsJson) {
  std::ostringstream out, err;
  int rc = -1;
  std::thread watcher([&] {
    rc = client::RunCriusctl({"-r", d_.endpoint(), "events", "--count", "2"}, out, err);
  });
  // criusctl has subscribed once the hub counts it.
  EXPECT_EQ(WaitForMetric("crius_events_subscribers", 1), 1) << d_.Log();
  auto id = Create("printed", {"/bin/sleep", "1000"});
  ASSERT_TRUE(id.ok()) << id.status() << d_.Log();
  ASSERT_TRUE(Start(*id).ok()) << d_.Log();
  watcher.join();
  EXPECT_EQ(rc, 0) << err.str();
  const std::string text = out.str();
  EXPECT_TRUE(absl::StrContains(text, "CONTAINER_CREATED_EVENT")) << text;
  EXPECT_TRUE(absl::StrContains(text, "CONTAINER_STARTED_EVENT")) << text;
  EXPECT_TRUE(absl::StrContains(text, *id)) << text;
  StopAndRemove(*id);
}

}  // namespace
}  // namespace crius::testing
