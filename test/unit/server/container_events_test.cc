// The event hub and the event source: ordering, bounded buffers that drop
// instead of blocking, many subscribers, unsubscribe; and the CRI messages
// the source builds from records.

#include "server/container_events.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/event_source.h"

namespace crius::server {
namespace {

using runtime::v1::ContainerEventResponse;

ContainerEventHub::Event EventFor(const std::string& id) {
  auto e = std::make_shared<ContainerEventResponse>();
  e->set_container_id(id);
  return e;
}

std::vector<std::string> Drain(ContainerEventHub::Subscription& sub) {
  std::vector<std::string> ids;
  while (auto e = sub.Next(absl::ZeroDuration())) ids.push_back((*e)->container_id());
  return ids;
}

TEST(ContainerEventHub, DeliversInPublishOrder) {
  ContainerEventHub hub;
  auto sub = hub.Subscribe("t");
  for (int i = 0; i < 100; ++i) hub.Publish(EventFor(std::to_string(i)));
  auto ids = Drain(*sub);
  ASSERT_EQ(ids.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ids[i], std::to_string(i));
}

TEST(ContainerEventHub, SeesOnlyEventsAfterSubscribing) {
  ContainerEventHub hub;
  hub.Publish(EventFor("before"));
  auto sub = hub.Subscribe("t");
  hub.Publish(EventFor("after"));
  EXPECT_EQ(Drain(*sub), std::vector<std::string>{"after"});
}

TEST(ContainerEventHub, FullBufferDropsNewestAndCountsWithoutBlocking) {
  std::atomic<int> drops{0};
  ContainerEventHub::Options opts;
  opts.buffer = 3;
  opts.on_drop = [&] { drops++; };
  ContainerEventHub hub(opts);
  auto stuck = hub.Subscribe("stuck");
  auto reader = hub.Subscribe("reader");
  for (int i = 0; i < 10; ++i) {
    hub.Publish(EventFor(std::to_string(i)));  // returns although `stuck` never reads
    EXPECT_EQ(Drain(*reader), std::vector<std::string>{std::to_string(i)});
  }
  EXPECT_EQ(drops.load(), 7);
  EXPECT_EQ(stuck->dropped(), 7u);
  EXPECT_EQ(reader->dropped(), 0u);
  // What was kept is the oldest, in order.
  EXPECT_EQ(Drain(*stuck), (std::vector<std::string>{"0", "1", "2"}));
}

TEST(ContainerEventHub, ManySubscribersEachGetEverything) {
  ContainerEventHub hub;
  constexpr int kSubscribers = 16, kEvents = 200;
  std::vector<std::unique_ptr<ContainerEventHub::Subscription>> subs;
  for (int i = 0; i < kSubscribers; ++i) subs.push_back(hub.Subscribe(std::to_string(i)));
  std::vector<std::vector<std::string>> got(kSubscribers);
  std::vector<std::thread> readers;
  for (int i = 0; i < kSubscribers; ++i) {
    readers.emplace_back([&, i] {
      while (got[i].size() < kEvents) {
        auto e = subs[i]->Next(absl::Seconds(10));
        if (!e) break;
        got[i].push_back((*e)->container_id());
      }
    });
  }
  for (int i = 0; i < kEvents; ++i) hub.Publish(EventFor(std::to_string(i)));
  for (auto& t : readers) t.join();
  for (int s = 0; s < kSubscribers; ++s) {
    ASSERT_EQ(got[s].size(), static_cast<size_t>(kEvents)) << "subscriber " << s;
    for (int i = 0; i < kEvents; ++i) EXPECT_EQ(got[s][i], std::to_string(i));
  }
}

TEST(ContainerEventHub, DestroyedSubscriptionIsRemoved) {
  ContainerEventHub hub;
  auto a = hub.Subscribe("a");
  auto b = hub.Subscribe("b");
  EXPECT_EQ(hub.SubscriberCount(), 2u);
  a.reset();
  EXPECT_EQ(hub.SubscriberCount(), 1u);
  hub.Publish(EventFor("x"));
  EXPECT_EQ(Drain(*b), std::vector<std::string>{"x"});
}

TEST(ContainerEventHub, CloseEndsWaitingSubscribers) {
  ContainerEventHub hub;
  auto sub = hub.Subscribe("t");
  std::thread closer([&] { hub.Close(); });
  // Would wait a minute if Close did not wake it.
  auto e = sub->Next(absl::Minutes(1));
  closer.join();
  EXPECT_FALSE(e.has_value());
  EXPECT_TRUE(sub->closed());
  EXPECT_TRUE(hub.Subscribe("late")->closed());
}

TEST(ContainerEventHub, NextTimesOutWithoutEvents) {
  ContainerEventHub hub;
  auto sub = hub.Subscribe("t");
  EXPECT_FALSE(sub->Next(absl::Milliseconds(1)).has_value());
  EXPECT_FALSE(sub->closed());
}

std::shared_ptr<const ContainerRecord> Container(const std::string& id, const std::string& pod,
                                                 runtime::v1::ContainerState state) {
  auto r = std::make_shared<ContainerRecord>();
  r->id = id;
  r->sandbox_id = pod;
  r->state = state;
  r->image_id = "sha256:abc";
  r->config.mutable_metadata()->set_name(id + "-name");
  return r;
}

std::shared_ptr<const SandboxRecord> Pod(const std::string& id) {
  auto r = std::make_shared<SandboxRecord>();
  r->id = id;
  r->state = runtime::v1::SANDBOX_READY;
  r->config.mutable_metadata()->set_name("pod-name");
  r->config.mutable_metadata()->set_namespace_("ns");
  return r;
}

TEST(ContainerEventSource, BuildsContainerEventsWithPodAndSiblings) {
  ContainerEventHub hub;
  auto pod = Pod("p1");
  int stopped = 0;
  ContainerEventSourceOptions o;
  o.hub = &hub;
  o.pod = [&](const std::string& id) { return id == "p1" ? pod : nullptr; };
  o.on_container_stopped = [&](const ContainerRecord&) { ++stopped; };
  ContainerEventSource source(o);
  auto sub = hub.Subscribe("t");
  auto c1 = Container("c1", "p1", runtime::v1::CONTAINER_RUNNING);
  auto c2 = Container("c2", "p1", runtime::v1::CONTAINER_EXITED);
  source.OnContainer(LifecycleEvent::kStarted, c1, {c1, c2});
  source.OnContainer(LifecycleEvent::kStopped, c2, {c1, c2});
  source.Flush();
  auto first = sub->Next(absl::ZeroDuration());
  ASSERT_TRUE(first.has_value());
  const ContainerEventResponse& e = **first;
  EXPECT_EQ(e.container_id(), "c1");
  EXPECT_EQ(e.container_event_type(), runtime::v1::CONTAINER_STARTED_EVENT);
  EXPECT_GT(e.created_at(), 0);
  EXPECT_EQ(e.pod_sandbox_status().id(), "p1");
  EXPECT_EQ(e.pod_sandbox_status().metadata().namespace_(), "ns");
  ASSERT_EQ(e.containers_statuses_size(), 2);
  EXPECT_EQ(e.containers_statuses(0).id(), "c1");
  EXPECT_EQ(e.containers_statuses(0).state(), runtime::v1::CONTAINER_RUNNING);
  EXPECT_EQ(e.containers_statuses(1).state(), runtime::v1::CONTAINER_EXITED);
  auto second = sub->Next(absl::ZeroDuration());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ((*second)->container_event_type(), runtime::v1::CONTAINER_STOPPED_EVENT);
  EXPECT_EQ(stopped, 1);
}

TEST(ContainerEventSource, SandboxEventsUseThePodIdAsContainerId) {
  ContainerEventHub hub;
  ContainerEventSourceOptions o;
  o.hub = &hub;
  o.containers = [](const std::string& pod) {
    return std::vector<std::shared_ptr<const ContainerRecord>>{
        Container("c1", pod, runtime::v1::CONTAINER_CREATED)};
  };
  ContainerEventSource source(o);
  auto sub = hub.Subscribe("t");
  source.OnSandbox(LifecycleEvent::kDeleted, Pod("p9"));
  source.Flush();
  auto e = sub->Next(absl::ZeroDuration());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ((*e)->container_id(), "p9");
  EXPECT_EQ((*e)->container_event_type(), runtime::v1::CONTAINER_DELETED_EVENT);
  EXPECT_EQ((*e)->pod_sandbox_status().id(), "p9");
  ASSERT_EQ((*e)->containers_statuses_size(), 1);
  EXPECT_EQ((*e)->containers_statuses(0).id(), "c1");
}

TEST(ContainerEventSource, KeepsOrderAcrossManyNotifications) {
  ContainerEventHub::Options ho;
  ho.buffer = 100000;
  ContainerEventHub hub(ho);
  ContainerEventSourceOptions o;
  o.hub = &hub;
  ContainerEventSource source(o);
  auto sub = hub.Subscribe("t");
  for (int i = 0; i < 2000; ++i) {
    source.OnContainer(LifecycleEvent::kCreated, Container(std::to_string(i), "p", runtime::v1::CONTAINER_CREATED), {});
  }
  source.Flush();
  auto ids = Drain(*sub);
  ASSERT_EQ(ids.size(), 2000u);
  for (int i = 0; i < 2000; ++i) EXPECT_EQ(ids[i], std::to_string(i));
}

}  // namespace
}  // namespace crius::server
