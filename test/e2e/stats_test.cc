// e2e tests of the CRI stats and metrics RPCs against a real criusd: real
// runc containers in a pod cgroup of the test's own, a bridge pod for the
// network counters, and criusctl stats/statsp on the same daemon. Figures
// are checked with generous bounds: they show behaviour, not timing.

#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "client/criusctl.h"
#include "test/e2e/container_util.h"
#include "test/e2e/sandbox_util.h"

namespace crius::testing {
namespace {

namespace v1 = runtime::v1;
constexpr uint64_t kMiB = 1 << 20;

class StatsE2E : public ContainerE2E {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for containers";
    ContainerE2E::SetUp();
  }
  void EditPod(v1::PodSandboxConfig& c) override {
    c.mutable_linux()->set_cgroup_parent(cgroups_.PodParent(c.metadata().uid()));
    (*c.mutable_labels())["stats-test"] = "yes";
  }

  // Creates and starts a container running `script` under /bin/sh.
  std::string RunSh(const std::string& name, const std::string& script,
                    const std::function<void(v1::ContainerConfig&)>& edit = nullptr) {
    auto id = Create(name, {"/bin/sh", "-c", script}, edit);
    EXPECT_TRUE(id.ok()) << id.status() << d_.Log();
    if (!id.ok()) return "";
    EXPECT_TRUE(Start(*id).ok()) << d_.Log();
    WaitFor(*id, v1::CONTAINER_RUNNING);
    return *id;
  }

  absl::StatusOr<v1::ContainerStats> Stats(const std::string& id) {
    v1::ContainerStatsRequest req;
    req.set_container_id(id);
    auto resp = d_.client().ContainerStats(req);
    if (!resp.ok()) return resp.status();
    return resp->stats();
  }

  // Polls ContainerStats until `pred` holds (deadline 60 s); the last stats.
  v1::ContainerStats StatsWhen(const std::string& id,
                               const std::function<bool(const v1::ContainerStats&)>& pred) {
    v1::ContainerStats last;
    WaitUntil(
        [&] {
          auto s = Stats(id);
          if (s.ok()) last = *s;
          return s.ok() && pred(*s);
        },
        absl::Seconds(60));
    return last;
  }

  std::set<std::string> ListedIds(const v1::ContainerStatsFilter& f) {
    v1::ListContainerStatsRequest req;
    *req.mutable_filter() = f;
    auto resp = d_.client().ListContainerStats(req);
    EXPECT_TRUE(resp.ok()) << resp.status();
    std::set<std::string> ids;
    if (resp.ok()) {
      for (const auto& s : resp->stats()) ids.insert(s.attributes().id());
    }
    return ids;
  }

  TestCgroupRoot cgroups_;
};

TEST_F(StatsE2E, CpuBurnerUsageRisesAboutOneSecondPerSecond) {
  const std::string id = RunSh("burner", "while :; do :; done");
  ASSERT_FALSE(id.empty());
  auto first = Stats(id);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(first->cpu().timestamp(), 0);
  // The second sample is taken once a second has passed since the first.
  v1::ContainerStats second = StatsWhen(id, [&](const v1::ContainerStats& s) {
    return s.cpu().timestamp() - first->cpu().timestamp() >= 1'000'000'000;
  });
  const double elapsed_s = (second.cpu().timestamp() - first->cpu().timestamp()) / 1e9;
  ASSERT_GE(elapsed_s, 1.0);
  const double used_s = (second.cpu().usage_core_nano_seconds().value() -
                         first->cpu().usage_core_nano_seconds().value()) /
                        1e9;
  // One busy loop is at most one core; on a shared 2-core machine it gets
  // less, but far more than nothing.
  EXPECT_GT(used_s / elapsed_s, 0.25) << used_s << " s of CPU in " << elapsed_s << " s";
  EXPECT_LT(used_s / elapsed_s, 1.2);
  const double cores = second.cpu().usage_nano_cores().value() / 1e9;
  EXPECT_GT(cores, 0.25);
  EXPECT_LT(cores, 1.2);
}

TEST_F(StatsE2E, FiftyMiBInDevShmShowInTheWorkingSet) {
  const std::string id =
      RunSh("shm", "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=50 && exec sleep 3600");
  ASSERT_FALSE(id.empty());
  v1::ContainerStats s = StatsWhen(id, [](const v1::ContainerStats& s) {
    return s.memory().working_set_bytes().value() >= 45 * kMiB;
  });
  EXPECT_GE(s.memory().working_set_bytes().value(), 45 * kMiB) << s.DebugString();
  EXPECT_GE(s.memory().usage_bytes().value(), s.memory().working_set_bytes().value());
  EXPECT_GT(s.memory().timestamp(), 0);
  EXPECT_GT(s.memory().page_faults().value(), 0u);
  // Unlimited: nothing is available "before the limit".
  EXPECT_FALSE(s.memory().has_available_bytes());
}

TEST_F(StatsE2E, MemoryLimitedContainerShowsAvailableBytes) {
  const uint64_t limit = 96 * kMiB;
  const std::string id = RunSh("limited", "exec sleep 3600", [&](v1::ContainerConfig& c) {
    c.mutable_linux()->mutable_resources()->set_memory_limit_in_bytes(limit);
  });
  ASSERT_FALSE(id.empty());
  auto s = Stats(id);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->memory().has_available_bytes()) << s->DebugString();
  EXPECT_EQ(s->memory().available_bytes().value() + s->memory().working_set_bytes().value(), limit);
}

TEST_F(StatsE2E, TenMiBWrittenToTheRootfsShowInTheWritableLayer) {
  const std::string id = RunSh("writer", "dd if=/dev/zero of=/big bs=1048576 count=10 && exec sleep 3600");
  ASSERT_FALSE(id.empty());
  v1::ContainerStats s = StatsWhen(id, [](const v1::ContainerStats& s) {
    return s.writable_layer().used_bytes().value() >= 10 * kMiB;
  });
  EXPECT_GE(s.writable_layer().used_bytes().value(), 10 * kMiB) << s.DebugString();
  EXPECT_LT(s.writable_layer().used_bytes().value(), 12 * kMiB);
  EXPECT_GE(s.writable_layer().inodes_used().value(), 2u);  // upper dir and /big
  EXPECT_FALSE(s.writable_layer().fs_id().mountpoint().empty());
}

TEST_F(StatsE2E, CreatedContainerHasZeroCpuAndMemoryButAWritableLayer) {
  auto id = Create("created", {"/bin/true"});
  ASSERT_TRUE(id.ok()) << id.status();
  auto s = Stats(*id);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->attributes().id(), *id);
  EXPECT_EQ(s->attributes().metadata().name(), "created");
  EXPECT_EQ(s->cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_EQ(s->memory().working_set_bytes().value(), 0u);
  EXPECT_GT(s->cpu().timestamp(), 0);
  EXPECT_TRUE(s->has_writable_layer());
}

TEST_F(StatsE2E, FiltersReturnExactlyTheMatchingSetAndRemovedIsNotFound) {
  const std::string a = RunSh("a", "exec sleep 3600", [](v1::ContainerConfig& c) {
    (*c.mutable_labels())["tier"] = "front";
  });
  const std::string b = RunSh("b", "exec sleep 3600", [](v1::ContainerConfig& c) {
    (*c.mutable_labels())["tier"] = "back";
  });
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());

  v1::ContainerStatsFilter f;
  f.set_id(a);
  EXPECT_EQ(ListedIds(f), (std::set<std::string>{a}));
  f.Clear();
  (*f.mutable_label_selector())["tier"] = "back";
  EXPECT_EQ(ListedIds(f), (std::set<std::string>{b}));
  f.Clear();
  f.set_pod_sandbox_id(pod_id_);
  EXPECT_EQ(ListedIds(f), (std::set<std::string>{a, b}));
  f.set_pod_sandbox_id("0000000000000000000000000000000000000000000000000000000000000000");
  EXPECT_TRUE(ListedIds(f).empty());

  // The stream sends the same set.
  v1::StreamContainerStatsRequest sreq;
  (*sreq.mutable_filter()->mutable_label_selector())["tier"] = "front";
  auto ctx = d_.client().NewContext();
  auto reader = d_.client().runtime_stub().StreamContainerStats(ctx.get(), sreq);
  std::set<std::string> streamed;
  v1::StreamContainerStatsResponse batch;
  while (reader->Read(&batch)) {
    for (const auto& s : batch.container_stats()) streamed.insert(s.attributes().id());
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(streamed, (std::set<std::string>{a}));

  // Pods: by id and by label.
  v1::ListPodSandboxStatsRequest preq;
  preq.mutable_filter()->set_id(pod_id_);
  auto pods = d_.client().ListPodSandboxStats(preq);
  ASSERT_TRUE(pods.ok()) << pods.status();
  ASSERT_EQ(pods->stats_size(), 1);
  EXPECT_EQ(pods->stats(0).attributes().id(), pod_id_);
  EXPECT_EQ(pods->stats(0).linux().containers_size(), 2);
  preq.Clear();
  (*preq.mutable_filter()->mutable_label_selector())["stats-test"] = "no";
  pods = d_.client().ListPodSandboxStats(preq);
  ASSERT_TRUE(pods.ok());
  EXPECT_EQ(pods->stats_size(), 0);

  // Removed: NOT_FOUND, and gone from the list.
  v1::RemoveContainerRequest rm;
  rm.set_container_id(a);
  ASSERT_TRUE(d_.client().RemoveContainer(rm).ok());
  EXPECT_EQ(Stats(a).status().code(), absl::StatusCode::kNotFound);
  f.Clear();
  EXPECT_EQ(ListedIds(f).count(a), 0u);
  v1::PodSandboxStatsRequest gone;
  gone.set_pod_sandbox_id("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(d_.client().PodSandboxStats(gone).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StatsE2E, PodStatsCoverTheContainersInThePodCgroup) {
  const std::string id =
      RunSh("shm", "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=20 && exec sleep 3600");
  ASSERT_FALSE(id.empty());
  StatsWhen(id, [](const v1::ContainerStats& s) {
    return s.memory().working_set_bytes().value() >= 18 * kMiB;
  });
  v1::PodSandboxStatsRequest req;
  req.set_pod_sandbox_id(pod_id_);
  auto resp = d_.client().PodSandboxStats(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  const v1::LinuxPodSandboxStats& l = resp->stats().linux();
  EXPECT_EQ(resp->stats().attributes().metadata().name(), "ctr-pod");
  EXPECT_GE(l.memory().working_set_bytes().value(), 18 * kMiB);
  EXPECT_GT(l.cpu().usage_core_nano_seconds().value(), 0u);
  EXPECT_GE(l.process().process_count().value(), 1u);
  ASSERT_EQ(l.containers_size(), 1);
  EXPECT_EQ(l.containers(0).attributes().id(), id);
  // Node network: no interfaces of the pod's own.
  EXPECT_EQ(l.network().interfaces_size(), 0);
}

TEST_F(StatsE2E, MetricsRpcsReturnTheCadvisorSeries) {
  const std::string id = RunSh("metrics", "exec sleep 3600");
  ASSERT_FALSE(id.empty());
  auto descs = d_.client().ListMetricDescriptors(v1::ListMetricDescriptorsRequest());
  ASSERT_TRUE(descs.ok()) << descs.status();
  std::map<std::string, int> label_count;
  for (const auto& d : descs->descriptors()) label_count[d.name()] = d.label_keys_size();
  for (const char* name :
       {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
        "container_oom_events_total", "container_spec_memory_limit_bytes", "container_threads",
        "container_fs_usage_bytes", "container_network_receive_bytes_total",
        "container_network_transmit_packets_dropped_total", "container_start_time_seconds"}) {
    EXPECT_TRUE(label_count.count(name)) << name;
  }

  auto metrics = d_.client().ListPodSandboxMetrics(v1::ListPodSandboxMetricsRequest());
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const v1::PodSandboxMetrics* pod = nullptr;
  for (const auto& p : metrics->pod_metrics()) {
    if (p.pod_sandbox_id() == pod_id_) pod = &p;
  }
  ASSERT_NE(pod, nullptr);
  ASSERT_EQ(pod->container_metrics_size(), 1);
  const v1::ContainerMetrics& cm = pod->container_metrics(0);
  EXPECT_EQ(cm.container_id(), id);
  std::set<std::string> seen;
  for (const v1::Metric& m : cm.metrics()) {
    seen.insert(m.name());
    // Every series is described, with one value per label key.
    ASSERT_TRUE(label_count.count(m.name())) << m.name();
    EXPECT_EQ(m.label_values_size(), label_count[m.name()]) << m.name();
    EXPECT_GT(m.timestamp(), 0);
    if (m.name() == "container_threads") EXPECT_GE(m.value().value(), 1u);
    if (m.name() == "container_memory_usage_bytes") EXPECT_GT(m.value().value(), 0u);
  }
  for (const char* name : {"container_cpu_usage_seconds_total", "container_memory_usage_bytes",
                           "container_processes", "container_file_descriptors",
                           "container_start_time_seconds", "container_fs_usage_bytes"}) {
    EXPECT_TRUE(seen.count(name)) << name;
  }
  // The container label carries the container's name, pod and namespace.
  for (const v1::Metric& m : cm.metrics()) {
    ASSERT_GE(m.label_values_size(), 6);
    EXPECT_EQ(m.label_values(0), "metrics");
    EXPECT_EQ(m.label_values(1), id);
    EXPECT_EQ(m.label_values(4), "e2e");
    EXPECT_EQ(m.label_values(5), "ctr-pod");
    break;
  }
}

TEST_F(StatsE2E, CriusctlStatsAndStatspPrintTheFigures) {
  const std::string id =
      RunSh("ctlshm", "dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=30 && exec sleep 3600");
  ASSERT_FALSE(id.empty());
  StatsWhen(id, [](const v1::ContainerStats& s) {
    return s.memory().working_set_bytes().value() >= 28 * kMiB;
  });
  std::ostringstream out, err;
  ASSERT_EQ(client::RunCriusctl({"-r", d_.endpoint(), "stats", "--no-trunc"}, out, err), 0)
      << err.str();
  const std::string table = out.str();
  EXPECT_TRUE(absl::StartsWith(table, "CONTAINER")) << table;
  EXPECT_TRUE(absl::StrContains(table, "INODES")) << table;
  std::string row;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (absl::StartsWith(line, id)) row = line;
  }
  ASSERT_FALSE(row.empty()) << table;
  EXPECT_TRUE(absl::StrContains(row, "ctlshm")) << row;
  // Decimal MB, as crictl prints: 30 MiB of shm is 31.5MB or so.
  EXPECT_TRUE(absl::StrContains(row, "MB")) << row;

  std::ostringstream pout, perr;
  ASSERT_EQ(client::RunCriusctl({"-r", d_.endpoint(), "statsp", "--id", pod_id_}, pout, perr),
            0)
      << perr.str();
  EXPECT_TRUE(absl::StartsWith(pout.str(), "POD")) << pout.str();
  EXPECT_TRUE(absl::StrContains(pout.str(), "ctr-pod")) << pout.str();
  EXPECT_TRUE(absl::StrContains(pout.str(), pod_id_.substr(0, 13))) << pout.str();
}

// A pod on a real bridge: its eth0 counters are read inside its netns.
class StatsNetworkE2E : public StatsE2E {
 protected:
  void SetUp() override {
    if (!CanRunPodNetworkTests()) GTEST_SKIP() << "needs root, the CNI plugins, ip and nsenter";
    ASSERT_TRUE(net_.subnet().ok());
    StatsE2E::SetUp();
  }
  void EditPod(v1::PodSandboxConfig& c) override {
    StatsE2E::EditPod(c);
    c.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::POD);
    EXPECT_TRUE(WaitNetworkReady(d_.client())) << d_.Log();
  }

  absl::StatusOr<v1::NetworkInterfaceUsage> Eth0() {
    v1::PodSandboxStatsRequest req;
    req.set_pod_sandbox_id(pod_id_);
    auto resp = d_.client().PodSandboxStats(req);
    if (!resp.ok()) return resp.status();
    const auto& net = resp->stats().linux().network();
    if (net.default_interface().name() != "eth0") {
      return absl::NotFoundError("no eth0 in " + net.DebugString());
    }
    return net.default_interface();
  }

  BridgeNetwork net_{d_};
};

TEST_F(StatsNetworkE2E, PodCountersRiseAfterTrafficToThePodIp) {
  auto before = Eth0();
  ASSERT_TRUE(before.ok()) << before.status();
  auto fp = FootprintOf(d_, pod_id_, &net_, nullptr);
  ASSERT_TRUE(fp.ok()) << fp.status();
  ASSERT_FALSE(fp->ip.empty());
  const uint16_t port = UnusedPort();
  auto listener = ListenInNetns(fp->netns_path, port);
  ASSERT_TRUE(listener.ok()) << listener.status();
  ASSERT_TRUE(ExchangeThrough(listener->get(), fp->ip, port).ok());
  auto after = Eth0();
  ASSERT_TRUE(after.ok()) << after.status();
  // A TCP handshake and a line each way: well over 100 bytes both ways.
  EXPECT_GE(after->rx_bytes().value(), before->rx_bytes().value() + 100);
  EXPECT_GE(after->tx_bytes().value(), before->tx_bytes().value() + 100);
}

}  // namespace
}  // namespace crius::testing
