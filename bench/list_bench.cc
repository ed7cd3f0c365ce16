// crius_list_bench: ListContainers and ContainerStatus with many containers.
//
//   crius_list_bench [--containers 5000] [--calls 50]
//
// Creating thousands of live containers would measure runc and the kernel,
// not the listing, so one real container is run to completion through a
// criusd of its own (busybox image from a loopback docker-registry, one
// host-network pod), then criusd is stopped and the container's record is
// cloned N-1 times under fresh ids, names and labels, as if the node had run
// that many. criusd is started again, loads them at recovery, and the
// program times, on the client:
//   - ListContainers, unfiltered (every container),
//   - ListContainers filtered by label (a tenth of them) and by state,
//   - ListContainers filtered by id (one container): the floor, the same
//     RPC on the same daemon when the answer is one entry,
//   - ContainerStatus of one container,
//   - the client's own share: parsing the full answer's bytes,
//   - criusd's startup (recovery of N records) and its RSS with N records,
// and prints p50/p90/p99 and the ratios to the floor. Then the pod (and so
// every container) is removed through the daemon and the temp tree goes.
//
// A benchmark, not a test: nothing here asserts on timings.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_common.h"
#include "client/cri_client.h"
#include "common/files.h"
#include "common/ids.h"
#include "nlohmann/json.hpp"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace {

using crius::testing::BusyboxRootfs;
using crius::testing::Compression;
using crius::testing::ImageBuilder;
using crius::testing::RegistryFixture;
using crius::testing::TestDaemon;

struct Summary {
  double p50 = 0, p90 = 0, p99 = 0;
};

template <typename F>
Summary Time(int calls, F&& call) {
  crius::bench::Samples samples;
  for (int i = 0; i < calls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!call()) {
      std::cerr << "call failed\n";
      std::exit(1);
    }
    samples.Add(std::chrono::steady_clock::now() - t0);
  }
  return {samples.Percentile(50), samples.Percentile(90), samples.Percentile(99)};
}

long RssKiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

[[noreturn]] void Die(const std::string& what, const TestDaemon* d = nullptr) {
  std::cerr << "crius_list_bench: " << what << "\n";
  if (d != nullptr) std::cerr << d->Log();
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int containers = 5000, calls = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--containers") containers = std::max(2, std::atoi(argv[i + 1]));
    else if (flag == "--calls") calls = std::max(1, std::atoi(argv[i + 1]));
    else Die("unknown flag " + flag);
  }

  auto reg = RegistryFixture::Start();
  if (!reg.ok()) Die(reg.status().ToString());
  auto rootfs = BusyboxRootfs();
  if (!rootfs.ok()) Die(rootfs.status().ToString());
  auto img = ImageBuilder().AddLayer(*rootfs, Compression::kGzip).Cmd({"/bin/true"}).Build();
  if (!img.ok() || !(*reg)->Push(*img, "bench/list:1").ok()) Die("image");
  const std::string image = (*reg)->host() + "/bench/list:1";

  TestDaemon d;
  if (!d.Start().ok()) Die("start", &d);
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image(image);
  if (!d.client().PullImage(pull).ok()) Die("pull", &d);

  runtime::v1::PodSandboxConfig pod;
  pod.mutable_metadata()->set_name("list-bench");
  pod.mutable_metadata()->set_namespace_("bench");
  pod.mutable_metadata()->set_uid(crius::NewObjectId().substr(0, 16));
  pod.set_log_directory(d.dir() + "/logs");
  auto* ns = pod.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  ns->set_network(runtime::v1::NODE);
  ns->set_pid(runtime::v1::CONTAINER);
  runtime::v1::RunPodSandboxRequest run;
  *run.mutable_config() = pod;
  auto ran = d.client().RunPodSandbox(run);
  if (!ran.ok()) Die(ran.status().ToString(), &d);
  const std::string pod_id = ran->pod_sandbox_id();

  runtime::v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_id);
  *create.mutable_sandbox_config() = pod;
  create.mutable_config()->mutable_metadata()->set_name("c0");
  create.mutable_config()->mutable_image()->set_image(image);
  create.mutable_config()->set_log_path("c0.log");
  (*create.mutable_config()->mutable_labels())["io.kubernetes.container.name"] = "c0";
  auto created = d.client().CreateContainer(create);
  if (!created.ok()) Die(created.status().ToString(), &d);
  runtime::v1::StartContainerRequest start;
  start.set_container_id(created->container_id());
  if (!d.client().StartContainer(start).ok()) Die("start container", &d);
  runtime::v1::ContainerStatusRequest status;
  status.set_container_id(created->container_id());
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);;) {
    auto st = d.client().ContainerStatus(status);
    if (st.ok() && st->status().state() == runtime::v1::CONTAINER_EXITED) break;
    if (absl::Now() > deadline) Die("container never exited", &d);
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (!d.Stop().ok()) Die("stop", &d);

  // Clone the record: new id, name, attempt and labels, same pod and image.
  const std::string records = d.root_dir() + "/containers";
  auto text = crius::ReadFile(records + "/" + created->container_id() + ".json");
  if (!text.ok()) Die(text.status().ToString());
  const nlohmann::json base = nlohmann::json::parse(*text);
  std::string dump = base.dump();
  for (int i = 1; i < containers; ++i) {
    nlohmann::json j = base;
    const std::string id = crius::NewObjectId();
    std::string copy = dump;
    for (size_t at = 0; (at = copy.find(created->container_id(), at)) != std::string::npos;) {
      copy.replace(at, created->container_id().size(), id);
    }
    j = nlohmann::json::parse(copy);
    nlohmann::json* meta = j.contains("config") ? &j["config"]["metadata"] : nullptr;
    if (meta == nullptr) Die("record has no config.metadata: " + dump.substr(0, 200));
    (*meta)["name"] = absl::StrCat("c", i);
    j["config"]["labels"]["bench-group"] = absl::StrCat("g", i % 10);
    j["config"]["labels"]["io.kubernetes.container.name"] = absl::StrCat("c", i);
    if (!crius::WriteFileAtomic(records + "/" + id + ".json", j.dump(), 0600,
                                crius::Durability::kProcessCrash)
             .ok()) {
      Die("write record");
    }
  }

  auto t0 = std::chrono::steady_clock::now();
  if (!d.Start(absl::Minutes(5)).ok()) Die("restart", &d);
  const double startup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const long rss = RssKiB(d.pid());

  runtime::v1::ListContainersRequest all;
  size_t listed = 0;
  Summary s_all = Time(calls, [&] {
    auto r = d.client().ListContainers(all);
    listed = r.ok() ? r->containers_size() : 0;
    return r.ok();
  });
  // What the client alone spends on the answer: parsing the same bytes.
  std::string wire;
  if (auto r = d.client().ListContainers(all); r.ok()) r->SerializeToString(&wire);
  Summary s_parse = Time(calls, [&] {
    runtime::v1::ListContainersResponse parsed;
    return parsed.ParseFromString(wire);
  });
  runtime::v1::ListContainersRequest by_label;
  (*by_label.mutable_filter()->mutable_label_selector())["bench-group"] = "g3";
  size_t labelled = 0;
  Summary s_label = Time(calls, [&] {
    auto r = d.client().ListContainers(by_label);
    labelled = r.ok() ? r->containers_size() : 0;
    return r.ok();
  });
  runtime::v1::ListContainersRequest by_state;
  by_state.mutable_filter()->mutable_state()->set_state(runtime::v1::CONTAINER_RUNNING);
  Summary s_state = Time(calls, [&] { return d.client().ListContainers(by_state).ok(); });
  runtime::v1::ListContainersRequest by_id;
  by_id.mutable_filter()->set_id(created->container_id());
  Summary s_id = Time(calls, [&] { return d.client().ListContainers(by_id).ok(); });
  Summary s_status = Time(calls, [&] { return d.client().ContainerStatus(status).ok(); });

  std::cout << absl::StrFormat("containers %d (listed %d, label g3 %d), calls %d per row\n",
                               containers, listed, labelled, calls);
  std::cout << absl::StrFormat("%-34s %9s %9s %9s %8s\n", "call", "p50 ms", "p90 ms", "p99 ms",
                               "p50/floor");
  auto row = [&](const char* name, const Summary& s) {
    std::cout << absl::StrFormat("%-34s %9.3f %9.3f %9.3f %8.1f\n", name, s.p50, s.p90, s.p99,
                                 s.p50 / s_id.p50);
  };
  row("ListContainers (all)", s_all);
  row("ListContainers (label, 1/10)", s_label);
  row("ListContainers (state RUNNING, 0)", s_state);
  row("ListContainers (id, 1) = floor", s_id);
  row("ContainerStatus", s_status);
  row("(client parse of the full answer)", s_parse);
  std::cout << absl::StrFormat("full answer: %d bytes\n", wire.size());
  std::cout << absl::StrFormat("criusd restart with %d records: %.0f ms; RSS %ld KiB\n", containers,
                               startup_ms, rss);

  runtime::v1::RemovePodSandboxRequest rm;
  rm.set_pod_sandbox_id(pod_id);
  t0 = std::chrono::steady_clock::now();
  auto removed = d.client().RemovePodSandbox(rm, absl::Minutes(10));
  const double rm_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!removed.ok()) Die(removed.status().ToString(), &d);
  std::cout << absl::StrFormat("RemovePodSandbox with %d containers: %.0f ms\n", containers, rm_ms);
  (void)d.Stop();
  return 0;
}
