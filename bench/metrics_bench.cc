// crius_metrics_bench: what one /metrics scrape costs with many running
// containers.
//
//   crius_metrics_bench [--pods 50] [--per-pod 5] [--scrapes 50]
//
// Starts a criusd of its own (busybox image from a loopback docker-registry)
// with metrics on a free loopback port, runs `pods` host-network pods in a
// cgroup root of its own with `per-pod` sleeping containers each (real runc
// containers: 250 by default), then scrapes /metrics `scrapes` times one
// after the other and prints, as JSON: the scrape latency seen by the
// client (p50/p90/p99), the body size and series count, and criusd's CPU
// time per scrape (from /proc/<pid>/stat across all scrapes, so it includes
// the cgroup reads and the text rendering). Then the pods go.
//
// A benchmark, not a test: nothing here asserts on timings.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/bench_common.h"
#include "common/ids.h"
#include "nlohmann/json.hpp"
#include "test/support/http_get.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace {

using crius::testing::TestDaemon;

[[noreturn]] void Die(const std::string& what, const TestDaemon* d = nullptr) {
  std::cerr << "crius_metrics_bench: " << what << "\n";
  if (d != nullptr) std::cerr << d->Log();
  std::exit(1);
}

// utime + stime of `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string stat = ss.str();
  std::vector<std::string> f = absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ');
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  int pods = 50, per_pod = 5, scrapes = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--pods") pods = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--per-pod") per_pod = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--scrapes") scrapes = std::max(1, std::atoi(argv[i + 1]));
    else Die("unknown flag " + flag);
  }
  auto reg = crius::testing::RegistryFixture::Start();
  if (!reg.ok()) Die(reg.status().ToString());
  auto rootfs = crius::testing::BusyboxRootfs();
  if (!rootfs.ok()) Die(rootfs.status().ToString());
  auto img = crius::testing::ImageBuilder()
                 .AddLayer(*rootfs, crius::testing::Compression::kGzip)
                 .Cmd({"/bin/sleep", "100000"})
                 .Build();
  if (!img.ok() || !(*reg)->Push(*img, "bench/metrics:1").ok()) Die("image");
  const std::string image = (*reg)->host() + "/bench/metrics:1";

  auto port = crius::testing::PickFreePort();
  if (!port.ok()) Die(port.status().ToString());
  TestDaemon d;
  crius::testing::WriteTestFile(d.config_dir() + "/10-metrics.yaml",
                                absl::StrCat("metrics:\n  enabled: true\n  address: 127.0.0.1:", *port, "\n"));
  if (!d.Start().ok()) Die("start", &d);
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  if (!d.client().PullImage(pull).ok()) Die("pull", &d);

  const std::string cgroot = "/crius-metrics-bench-" + crius::NewObjectId().substr(0, 8);
  std::vector<std::string> pod_ids;
  int running = 0;
  for (int p = 0; p < pods; ++p) {
    runtime::v1::PodSandboxConfig pod;
    pod.mutable_metadata()->set_name(absl::StrCat("bench-", p));
    pod.mutable_metadata()->set_namespace_("bench");
    pod.mutable_metadata()->set_uid(crius::NewObjectId().substr(0, 16));
    pod.set_log_directory(d.dir() + "/logs");
    pod.mutable_linux()->set_cgroup_parent(absl::StrCat(cgroot, "/pod", p));
    pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(runtime::v1::NODE);
    runtime::v1::RunPodSandboxRequest run;
    *run.mutable_config() = pod;
    auto ran = d.client().RunPodSandbox(run);
    if (!ran.ok()) Die(ran.status().ToString(), &d);
    pod_ids.push_back(ran->pod_sandbox_id());
    for (int c = 0; c < per_pod; ++c) {
      runtime::v1::CreateContainerRequest create;
      create.set_pod_sandbox_id(ran->pod_sandbox_id());
      *create.mutable_sandbox_config() = pod;
      create.mutable_config()->mutable_metadata()->set_name(absl::StrCat("c", c));
      create.mutable_config()->mutable_image()->set_image(image);
      auto created = d.client().CreateContainer(create);
      if (!created.ok()) Die(created.status().ToString(), &d);
      runtime::v1::StartContainerRequest start;
      start.set_container_id(created->container_id());
      if (!d.client().StartContainer(start).ok()) Die("start container", &d);
      ++running;
    }
  }

  std::string body;
  (void)crius::testing::HttpGet("127.0.0.1", *port, "/metrics");  // warm-up
  crius::bench::Samples samples;
  const double cpu0 = CpuSeconds(d.pid());
  for (int i = 0; i < scrapes; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto resp = crius::testing::HttpGet("127.0.0.1", *port, "/metrics");
    samples.Add(std::chrono::steady_clock::now() - t0);
    if (!resp.ok()) Die(resp.status().ToString(), &d);
    body = *resp;
  }
  const double cpu_per_scrape_ms = (CpuSeconds(d.pid()) - cpu0) * 1000.0 / scrapes;
  size_t series = 0, container_series = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    ++series;
    if (absl::StartsWith(line, "container_")) ++container_series;
  }
  nlohmann::ordered_json out = {{"containers_running", running},
                                {"pods", pods},
                                {"scrapes", scrapes},
                                {"body_bytes", body.size()},
                                {"series", series},
                                {"container_series", container_series},
                                {"criusd_cpu_ms_per_scrape", crius::bench::Samples::Round3(cpu_per_scrape_ms)},
                                {"scrape", samples.Summary()}};
  out["scrape"].erase("samples_ms");
  std::cout << out.dump(2) << "\n";

  for (const auto& id : pod_ids) {
    runtime::v1::RemovePodSandboxRequest rm;
    rm.set_pod_sandbox_id(id);
    if (!d.client().RemovePodSandbox(rm).ok()) std::cerr << "remove pod " << id << " failed\n";
  }
  // The bench's cgroup root, deepest first, in every hierarchy.
  for (const char* h : {"cpu,cpuacct", "memory", "pids", "cpuset", "blkio", "devices", "freezer", "net_cls,net_prio",
                        "perf_event", "hugetlb", "rdma", "misc", "systemd", ""}) {
    const std::string root = absl::StrCat("/sys/fs/cgroup/", h, cgroot);
    for (int p = 0; p < pods; ++p) (void)::rmdir(absl::StrCat(root, "/pod", p).c_str());
    (void)::rmdir(root.c_str());
  }
  return 0;
}
