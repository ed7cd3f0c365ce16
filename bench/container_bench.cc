// crius_container_bench: container latencies of any CRI endpoint, and the
// container benchmark's image server (bench/run_container_bench.sh drives it).
//
//   serve --info FILE --rootfs-tar PATH
//     Builds the benchmark image (busybox-static as its only layer, gzip),
//     starts Debian's docker-registry on a free loopback port, pushes the
//     image as bench/busybox:1.0, writes the image's name and the registry's
//     address to FILE (JSON), and the same layer, uncompressed, to PATH (the
//     floor unpacks it). Then waits until its stdin closes and stops the
//     registry.
//
//   pull --endpoint EP --image REF
//     One CRI PullImage; prints the image_ref the runtime answers.
//
//   start --endpoint EP --image REF --pods N --state FILE [--json OUT] ...
//     N pods, one at a time, each started the way kubelet starts a pod with
//     one container: RunPodSandbox, CreateContainer, StartContainer, each
//     timed on the client, and the three together ("pod+container start").
//     The pods keep running; their ids are appended to FILE (one JSON line
//     per pod, written as soon as the pod exists), so later calls can stop
//     them and a failed run can be cleaned up.
//
//   stop --endpoint EP --state FILE --pods N [--json OUT]
//     Takes the first N pods of FILE (and drops them from it): StopContainer
//     of each (kubelet's 30 s grace period), then RemoveContainer of each,
//     then StopPodSandbox and RemovePodSandbox of each, all timed.
//
//   cleanup --endpoint EP --run-id ID
//     Removes every container and pod labelled crius-bench/run=ID.
//
// The container runs `sh -c 'trap "exit 0" TERM; sleep 86400 & wait'`:
// busybox sleep, under a shell that exits on SIGTERM (a bare sleep as PID 1
// of its PID namespace ignores SIGTERM, and every StopContainer would then
// take the whole grace period). It is a benchmark run by hand, never a
// test: it asserts nothing about time.

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/bench_common.h"
#include "client/cri_client.h"
#include "nlohmann/json.hpp"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"

namespace crius::bench {
namespace {

using client::CriClient;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;
namespace rt = runtime::v1;

constexpr char kRunLabel[] = "crius-bench/run";
constexpr char kContainerName[] = "sleeper";
constexpr int64_t kGracePeriodSeconds = 30;  // kubelet's default
const absl::Duration kRunTimeout = absl::Minutes(4);

struct Options {
  std::string mode;
  std::string endpoint, image, state, json, run_id, tag, log_dir, info, rootfs_tar;
  std::string runtime_handler;  // RunPodSandboxRequest.runtime_handler ("": the default)
  int pods = 20;
  bool shared_pid = false;
};

int Usage() {
  std::cerr << "usage: crius_container_bench serve --info FILE --rootfs-tar PATH\n"
               "       crius_container_bench pull --endpoint EP --image REF\n"
               "       crius_container_bench start --endpoint EP --image REF --pods N --state FILE\n"
               "                 --run-id ID [--tag T] --log-dir DIR [--shared-pid] [--json OUT]\n"
               "                 [--runtime-handler H]\n"
               "       crius_container_bench stop --endpoint EP --state FILE --pods N [--json OUT]\n"
               "       crius_container_bench cleanup --endpoint EP --run-id ID\n";
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  if (argc < 2) return false;
  o->mode = argv[1];
  std::map<std::string, std::string*> strings = {
      {"--endpoint", &o->endpoint}, {"--image", &o->image},     {"--state", &o->state},
      {"--json", &o->json},         {"--run-id", &o->run_id},   {"--tag", &o->tag},
      {"--log-dir", &o->log_dir},   {"--info", &o->info},       {"--rootfs-tar", &o->rootfs_tar},
      {"--runtime-handler", &o->runtime_handler}};
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--shared-pid") {
      o->shared_pid = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (arg == "--pods") {
      if (!absl::SimpleAtoi(v, &o->pods) || o->pods < 1) return false;
    } else if (auto it = strings.find(arg); it != strings.end()) {
      *it->second = v;
    } else {
      return false;
    }
  }
  // Both end up in names, uids, labels and a cgroup path.
  for (char c : o->run_id + o->tag) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool WriteJson(const std::string& path, const Json& doc) {
  if (path.empty()) return true;
  std::ofstream f(path);
  f << doc.dump(2) << "\n";
  return static_cast<bool>(f);
}

// ---- serve ---------------------------------------------------------------

int Serve(const Options& o) {
  if (o.info.empty() || o.rootfs_tar.empty()) return Usage();
  auto rootfs = testing::BusyboxRootfs();
  if (!rootfs.ok()) {
    std::cerr << "busybox rootfs: " << rootfs.status() << "\n";
    return 1;
  }
  auto tar = testing::BuildTar(*rootfs);
  if (!tar.ok()) {
    std::cerr << "tar: " << tar.status() << "\n";
    return 1;
  }
  {
    std::ofstream out(o.rootfs_tar, std::ios::binary);
    out << *tar;
    if (!out) {
      std::cerr << "writing " << o.rootfs_tar << " failed\n";
      return 1;
    }
  }
  testing::ImageBuilder builder;
  builder.AddLayer(*rootfs, testing::Compression::kGzip).Cmd({"/bin/sh"});
  auto image = builder.Build();
  if (!image.ok()) {
    std::cerr << "build: " << image.status() << "\n";
    return 1;
  }
  auto registry = testing::RegistryFixture::Start();
  if (!registry.ok()) {
    std::cerr << "registry: " << registry.status() << "\n";
    return 1;
  }
  auto pushed = (*registry)->Push(*image, "bench/busybox:1.0");
  if (!pushed.ok()) {
    std::cerr << "push: " << pushed.status() << "\n";
    return 1;
  }
  Json info = {{"image", (*registry)->host() + "/bench/busybox:1.0"},
               {"registry", (*registry)->url()},
               {"host", (*registry)->host()},
               {"manifest", pushed->manifest_digest},
               {"layer_bytes", image->layers[0].size()},
               {"unpacked_tar_bytes", tar->size()}};
  if (!WriteJson(o.info + ".tmp", info) || std::rename((o.info + ".tmp").c_str(), o.info.c_str()) != 0) {
    std::cerr << "writing " << o.info << " failed\n";
    return 1;
  }
  // Up until the script closes our stdin or sends SIGTERM (its cleanup does
  // both, in a race): either way this returns and the fixture stops the
  // registry. Ctrl-C is the script's to handle.
  std::signal(SIGINT, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  const int sfd = signalfd(-1, &term, SFD_CLOEXEC);
  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
  char buf[256];
  for (;;) {
    if (poll(fds, sfd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    if (fds[0].revents != 0 && read(STDIN_FILENO, buf, sizeof buf) <= 0) break;
  }
  if (sfd >= 0) close(sfd);
  return 0;
}

// ---- pods and containers -------------------------------------------------

struct PodIds {
  std::string pod, container;
};

std::vector<PodIds> ReadState(const std::string& path) {
  std::vector<PodIds> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("pod")) continue;
    out.push_back({j["pod"].get<std::string>(), j.value("container", "")});
  }
  return out;
}

bool WriteState(const std::string& path, const std::vector<PodIds>& pods) {
  std::ofstream f(path + ".tmp", std::ios::trunc);
  for (const auto& p : pods) f << Json{{"pod", p.pod}, {"container", p.container}}.dump() << "\n";
  f.close();
  return f && std::rename((path + ".tmp").c_str(), path.c_str()) == 0;
}

// What kubelet sends for a plain Deployment pod (as crius_pod_bench).
rt::PodSandboxConfig PodConfig(const Options& o, int index) {
  const std::string name = absl::StrCat("cbench-", o.tag, index);
  const std::string ns = absl::StrCat("crius-bench-", o.run_id);
  const std::string uid = absl::StrCat(o.run_id, "-c", o.tag, index);
  rt::PodSandboxConfig c = KubeletPodConfig(name, ns, uid, o.log_dir);
  c.set_hostname(name);
  auto& labels = *c.mutable_labels();
  labels[kRunLabel] = o.run_id;
  (*c.mutable_annotations())["kubernetes.io/config.seen"] = "2026-11-24T00:00:00.000000000Z";
  auto* linux = c.mutable_linux();
  linux->set_cgroup_parent(absl::StrCat("/crius-bench-", o.run_id, "/pod", uid));
  auto* nsopt = linux->mutable_security_context()->mutable_namespace_options();
  nsopt->set_network(rt::POD);
  nsopt->set_pid(o.shared_pid ? rt::POD : rt::CONTAINER);
  nsopt->set_ipc(rt::POD);
  return c;
}

// kubelet's container config for one container of that pod: its labels and
// annotations, log path "<name>/<restart count>.log" under the pod's log
// dir, the termination-log and /etc/hosts bind mounts, BestEffort
// resources, the default masked and read-only paths.
rt::ContainerConfig ContainerConfig(const rt::PodSandboxConfig& pod, const std::string& image_ref,
                                    const std::string& pod_dir) {
  rt::ContainerConfig c;
  c.mutable_metadata()->set_name(kContainerName);
  c.mutable_metadata()->set_attempt(0);
  c.mutable_image()->set_image(image_ref);
  for (const char* a : {"/bin/sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"}) c.add_command(a);
  c.set_working_dir("/");
  for (auto [k, v] : std::vector<std::pair<const char*, const char*>>{
           {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
           {"KUBERNETES_SERVICE_PORT", "443"},
           {"KUBERNETES_PORT", "tcp://10.96.0.1:443"}}) {
    auto* e = c.add_envs();
    e->set_key(k);
    e->set_value(v);
  }
  auto* hosts = c.add_mounts();
  hosts->set_container_path("/etc/hosts");
  hosts->set_host_path(pod_dir + "/etc-hosts");
  auto* term = c.add_mounts();
  term->set_container_path("/dev/termination-log");
  term->set_host_path(pod_dir + "/termination-log");
  c.set_log_path(absl::StrCat(kContainerName, "/0.log"));
  const auto& md = pod.metadata();
  auto& labels = *c.mutable_labels();
  labels["io.kubernetes.container.name"] = kContainerName;
  labels["io.kubernetes.pod.name"] = md.name();
  labels["io.kubernetes.pod.namespace"] = md.namespace_();
  labels["io.kubernetes.pod.uid"] = md.uid();
  labels[kRunLabel] = pod.labels().at(kRunLabel);
  auto& ann = *c.mutable_annotations();
  ann["io.kubernetes.container.hash"] = "5c1e2a7d";
  ann["io.kubernetes.container.restartCount"] = "0";
  ann["io.kubernetes.container.terminationMessagePath"] = "/dev/termination-log";
  ann["io.kubernetes.container.terminationMessagePolicy"] = "File";
  ann["io.kubernetes.pod.terminationGracePeriod"] = "30";
  auto* linux = c.mutable_linux();
  auto* res = linux->mutable_resources();
  res->set_cpu_shares(2);  // BestEffort
  res->set_cpu_period(100000);
  res->set_oom_score_adj(1000);
  auto* sc = linux->mutable_security_context();
  *sc->mutable_namespace_options() = pod.linux().security_context().namespace_options();
  for (const char* p : {"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                        "/sys/firmware"}) {
    sc->add_masked_paths(p);
  }
  for (const char* p : {"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                        "/proc/sysrq-trigger"}) {
    sc->add_readonly_paths(p);
  }
  return c;
}

// Files kubelet makes before the calls (off the clock): the pod's log dir
// and the container's log subdir, the hosts file and termination log.
absl::Status PrepareDirs(const rt::PodSandboxConfig& pod, const std::string& pod_dir) {
  std::error_code ec;
  std::filesystem::create_directories(pod.log_directory() + "/" + kContainerName, ec);
  if (!ec) std::filesystem::create_directories(pod_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir: ", ec.message()));
  std::ofstream(pod_dir + "/etc-hosts") << "127.0.0.1\tlocalhost\n::1\tlocalhost\n";
  std::ofstream(pod_dir + "/termination-log");
  return absl::OkStatus();
}

int Pull(CriClient& cri, const Options& o) {
  rt::PullImageRequest req;
  req.mutable_image()->set_image(o.image);
  auto r = cri.PullImage(req, absl::InfiniteDuration());
  if (!r.ok()) {
    std::cerr << "PullImage: " << r.status() << "\n";
    return 1;
  }
  std::cout << r->image_ref() << "\n";
  return 0;
}

int Start(CriClient& cri, const Options& o) {
  if (o.image.empty() || o.state.empty() || o.log_dir.empty() || o.run_id.empty()) return Usage();
  // kubelet names the image by the ref PullImage answered (an image id).
  rt::ImageStatusRequest isr;
  isr.mutable_image()->set_image(o.image);
  auto is = cri.ImageStatus(isr);
  if (!is.ok() || !is->has_image()) {
    std::cerr << "image " << o.image << " is not present: " << (is.ok() ? "" : is.status().ToString()) << "\n";
    return 1;
  }
  const std::string image_ref = is->image().id();
  Samples run, create, start, total;
  std::ofstream state(o.state, std::ios::app);
  for (int i = 0; i < o.pods; ++i) {
    rt::PodSandboxConfig pod = PodConfig(o, i);
    const std::string pod_dir = pod.log_directory() + ".kubelet";
    if (auto s = PrepareDirs(pod, pod_dir); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
    rt::RunPodSandboxRequest rr;
    *rr.mutable_config() = pod;
    rr.set_runtime_handler(o.runtime_handler);
    const Clock::time_point t0 = Clock::now();
    auto ran = cri.RunPodSandbox(rr, kRunTimeout);
    const Clock::time_point t1 = Clock::now();
    if (!ran.ok()) {
      std::cerr << "RunPodSandbox " << pod.metadata().name() << ": " << ran.status() << "\n";
      return 1;
    }
    state << Json{{"pod", ran->pod_sandbox_id()}}.dump() << "\n" << std::flush;
    rt::CreateContainerRequest cr;
    cr.set_pod_sandbox_id(ran->pod_sandbox_id());
    *cr.mutable_config() = ContainerConfig(pod, image_ref, pod_dir);
    *cr.mutable_sandbox_config() = pod;
    auto created = cri.CreateContainer(cr);
    const Clock::time_point t2 = Clock::now();
    if (!created.ok()) {
      std::cerr << "CreateContainer in " << pod.metadata().name() << ": " << created.status() << "\n";
      return 1;
    }
    state << Json{{"pod", ran->pod_sandbox_id()}, {"container", created->container_id()}}.dump() << "\n"
          << std::flush;
    rt::StartContainerRequest sr;
    sr.set_container_id(created->container_id());
    auto started = cri.StartContainer(sr);
    const Clock::time_point t3 = Clock::now();
    if (!started.ok()) {
      std::cerr << "StartContainer in " << pod.metadata().name() << ": " << started.status() << "\n";
      return 1;
    }
    run.Add(t1 - t0);
    create.Add(t2 - t1);
    start.Add(t3 - t2);
    total.Add(t3 - t0);
    // Off the clock: the container really runs.
    rt::ContainerStatusRequest st;
    st.set_container_id(created->container_id());
    auto status = cri.ContainerStatus(st);
    if (!status.ok() || status->status().state() != rt::CONTAINER_RUNNING) {
      std::cerr << "container in " << pod.metadata().name() << " is not running: "
                << (status.ok() ? status->status().DebugString() : status.status().ToString()) << "\n";
      return 1;
    }
  }
  Json doc = {{"pods", o.pods},
              {"calls",
               {{"RunPodSandbox", run.Summary()},
                {"CreateContainer", create.Summary()},
                {"StartContainer", start.Summary()},
                {"pod+container start", total.Summary()}}}};
  return WriteJson(o.json, doc) ? 0 : 1;
}

int Stop(CriClient& cri, const Options& o) {
  if (o.state.empty()) return Usage();
  std::vector<PodIds> all = ReadState(o.state);
  // The state file has a line per pod and another once its container
  // exists; the last line of a pod wins.
  std::vector<PodIds> pods;
  for (const auto& p : all) {
    auto it = std::find_if(pods.begin(), pods.end(), [&](const PodIds& q) { return q.pod == p.pod; });
    if (it == pods.end()) pods.push_back(p); else *it = p;
  }
  const size_t n = std::min<size_t>(static_cast<size_t>(o.pods), pods.size());
  std::vector<PodIds> mine(pods.begin(), pods.begin() + static_cast<long>(n));
  Samples stop_c, remove_c, stop_p, remove_p;
  auto timed = [](Samples* s, auto&& call) {
    const Clock::time_point t0 = Clock::now();
    absl::Status st = call();
    s->Add(Clock::now() - t0);
    return st;
  };
  int failures = 0;
  auto check = [&](const absl::Status& s, const char* what, const std::string& id) {
    if (!s.ok()) {
      ++failures;
      std::cerr << what << " " << id << ": " << s << "\n";
    }
  };
  for (const auto& p : mine) {
    if (p.container.empty()) continue;
    rt::StopContainerRequest r;
    r.set_container_id(p.container);
    r.set_timeout(kGracePeriodSeconds);
    check(timed(&stop_c, [&] { return cri.StopContainer(r, absl::Seconds(kGracePeriodSeconds + 120)).status(); }),
          "StopContainer", p.container);
  }
  for (const auto& p : mine) {
    if (p.container.empty()) continue;
    rt::RemoveContainerRequest r;
    r.set_container_id(p.container);
    check(timed(&remove_c, [&] { return cri.RemoveContainer(r).status(); }), "RemoveContainer", p.container);
  }
  for (const auto& p : mine) {
    rt::StopPodSandboxRequest r;
    r.set_pod_sandbox_id(p.pod);
    check(timed(&stop_p, [&] { return cri.StopPodSandbox(r).status(); }), "StopPodSandbox", p.pod);
  }
  for (const auto& p : mine) {
    rt::RemovePodSandboxRequest r;
    r.set_pod_sandbox_id(p.pod);
    check(timed(&remove_p, [&] { return cri.RemovePodSandbox(r).status(); }), "RemovePodSandbox", p.pod);
  }
  if (!WriteState(o.state, std::vector<PodIds>(pods.begin() + static_cast<long>(n), pods.end()))) {
    std::cerr << "rewriting " << o.state << " failed\n";
    return 1;
  }
  Json doc = {{"pods", n},
              {"calls",
               {{"StopContainer", stop_c.Summary()},
                {"RemoveContainer", remove_c.Summary()},
                {"StopPodSandbox", stop_p.Summary()},
                {"RemovePodSandbox", remove_p.Summary()}}}};
  if (!WriteJson(o.json, doc)) return 1;
  return failures == 0 ? 0 : 1;
}

int Cleanup(CriClient& cri, const Options& o) {
  if (o.run_id.empty()) return Usage();
  int failures = 0;
  rt::ListContainersRequest lc;
  (*lc.mutable_filter()->mutable_label_selector())[kRunLabel] = o.run_id;
  if (auto list = cri.ListContainers(lc); list.ok()) {
    for (const auto& c : list->containers()) {
      rt::StopContainerRequest s;
      s.set_container_id(c.id());
      s.set_timeout(0);
      rt::RemoveContainerRequest r;
      r.set_container_id(c.id());
      if (!cri.StopContainer(s).ok() || !cri.RemoveContainer(r).ok()) ++failures;
    }
  }
  rt::ListPodSandboxRequest lp;
  (*lp.mutable_filter()->mutable_label_selector())[kRunLabel] = o.run_id;
  auto pods = cri.ListPodSandbox(lp);
  if (!pods.ok()) {
    std::cerr << "cleanup: " << pods.status() << "\n";
    return 1;
  }
  for (const auto& p : pods->items()) {
    rt::StopPodSandboxRequest s;
    s.set_pod_sandbox_id(p.id());
    rt::RemovePodSandboxRequest r;
    r.set_pod_sandbox_id(p.id());
    if (!cri.StopPodSandbox(s).ok() || !cri.RemovePodSandbox(r).ok()) ++failures;
  }
  if (pods->items_size() > 0) std::cerr << "cleanup: removed " << pods->items_size() << " pods\n";
  return failures == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) return Usage();
  if (o.mode == "serve") return Serve(o);
  if (o.endpoint.empty()) return Usage();
  auto connected = CriClient::Connect(o.endpoint, absl::Seconds(10));
  if (!connected.ok()) {
    std::cerr << connected.status() << "\n";
    return 1;
  }
  CriClient& cri = **connected;
  if (o.mode == "pull") return Pull(cri, o);
  if (o.mode == "start") return Start(cri, o);
  if (o.mode == "stop") return Stop(cri, o);
  if (o.mode == "cleanup") return Cleanup(cri, o);
  return Usage();
}

}  // namespace
}  // namespace crius::bench

int main(int argc, char** argv) { return crius::bench::Main(argc, argv); }
