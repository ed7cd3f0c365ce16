// crius_pod_bench: pod sandbox latencies of any CRI endpoint.
//
// It drives the endpoint with plain CRI (crius::client::CriClient), so the
// same binary measures criusd and containerd's CRI plugin side by side:
//
//   1. sequential: N pods, one call at a time. All N are run, then each gets
//      PodSandboxStatus, then each is stopped, then each is removed, so the
//      later calls see N pods present as on a busy node.
//   2. parallel: the same four steps with P callers at once (kubelet starts
//      pods from one goroutine per pod).
//   3. list: L host-network pods are run (they skip CNI but are full pods
//      as far as ListPodSandbox is concerned), then ListPodSandbox is timed
//      unfiltered (kubelet's relist) and with a label selector that matches
//      one pod (crictl pods --label), then they are removed.
//
// Each call's latency is taken on the client around the RPC. Results are a
// table on stdout and, with --json, a JSON document. It is a benchmark run
// by hand (bench/run_pod_bench.sh), never a test: it asserts nothing about
// time.
//
// Every pod carries the label crius-bench/run=<run id>. A run that fails
// removes what it created; `--cleanup RUN_ID` removes whatever a killed run
// left behind.

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/absl_view.h"
#include "bench/bench_common.h"
#include "client/cri_client.h"
#include "nlohmann/json.hpp"

namespace crius::bench {
namespace {

using client::AbslView;
using client::CriClient;
using Clock = std::chrono::steady_clock;
namespace rt = runtime::v1;
// Keys keep their insertion order, so the table and the JSON list phases and
// calls in the order they ran.
using Json = nlohmann::ordered_json;

constexpr char kRunLabel[] = "crius-bench/run";
constexpr char kPhaseLabel[] = "crius-bench/phase";
// kubelet's deadlines: RunPodSandbox gets 4 minutes, the rest 2.
const absl::Duration kRunTimeout = absl::Minutes(4);

struct Options {
  std::string endpoint;
  std::string name;  // how the runtime is named in the output
  int pods = 100;
  int parallel = 8;
  int list_pods = 1000;
  int list_calls = 50;
  bool list_stopped = false;
  bool cgroup_parent = true;
  bool lifecycle = true;
  std::string run_id;
  std::string tag;  // keeps names unique when one run id calls this repeatedly
  std::string log_dir;
  std::string json_path;
  std::string cleanup_run;
};

void Usage() {
  std::cerr
      << "usage: crius_pod_bench --endpoint unix:///path.sock [options]\n"
         "  --name NAME          label for this runtime in the output (default: its runtime_name)\n"
         "  --pods N             pods per phase, sequential and parallel (default 100)\n"
         "  --parallel P         concurrent callers in the parallel phase (default 8)\n"
         "  --list-pods L        host-network pods present for the list test (default 1000;\n"
         "                       0 skips it)\n"
         "  --list-calls K       ListPodSandbox calls timed per variant (default 50)\n"
         "  --list-stopped       stop the list pods before listing (they stay listed, NOTREADY)\n"
         "  --no-cgroup-parent   leave linux.cgroup_parent empty (kubelet always sets it)\n"
         "  --no-lifecycle       skip the sequential and parallel phases (list only)\n"
         "  --run-id ID          pod names/uids/labels use it (default: random)\n"
         "  --tag TAG            added to pod names and uids, for repeated calls with one run id\n"
         "  --log-dir DIR        parent of the pods' log_directory (default: a temp dir,\n"
         "                       removed at exit)\n"
         "  --json PATH          also write the results as JSON ('-' for stdout)\n"
         "  --cleanup RUN_ID     only stop and remove the pods labelled with RUN_ID\n";
}

bool ParseInt(const std::string& text, int min, int* out) {
  int v = 0;
  if (!absl::SimpleAtoi(AbslView(text), &v) || v < min) return false;
  *out = v;
  return true;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    bool ok = true;
    if (arg == "--endpoint") {
      ok = value(&o->endpoint);
    } else if (arg == "--name") {
      ok = value(&o->name);
    } else if (arg == "--pods") {
      ok = value(&v) && ParseInt(v, 1, &o->pods);
    } else if (arg == "--parallel") {
      ok = value(&v) && ParseInt(v, 1, &o->parallel);
    } else if (arg == "--list-pods") {
      ok = value(&v) && ParseInt(v, 0, &o->list_pods);
    } else if (arg == "--list-calls") {
      ok = value(&v) && ParseInt(v, 1, &o->list_calls);
    } else if (arg == "--list-stopped") {
      o->list_stopped = true;
    } else if (arg == "--no-cgroup-parent") {
      o->cgroup_parent = false;
    } else if (arg == "--no-lifecycle") {
      o->lifecycle = false;
    } else if (arg == "--run-id") {
      ok = value(&o->run_id);
    } else if (arg == "--tag") {
      ok = value(&o->tag);
    } else if (arg == "--log-dir") {
      ok = value(&o->log_dir);
    } else if (arg == "--json") {
      ok = value(&o->json_path);
    } else if (arg == "--cleanup") {
      ok = value(&o->cleanup_run);
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      std::exit(0);
    } else {
      ok = false;
    }
    if (!ok) {
      std::cerr << "bad or incomplete argument: " << arg << "\n";
      return false;
    }
  }
  if (o->endpoint.empty()) {
    std::cerr << "--endpoint is required\n";
    return false;
  }
  // Both end up in pod names, uids, label values and a cgroup path.
  for (char c : o->run_id + o->tag) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
      std::cerr << "--run-id and --tag may hold only letters, digits and '-'\n";
      return false;
    }
  }
  return true;
}

std::string RandomId() {
  std::random_device rd;
  return absl::StrFormat("%08x", rd());
}

// Every pod this process created and has not removed yet, so a failed run
// can take them all away again.
class PodTracker {
 public:
  void Add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.insert(id);
  }
  void Remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.erase(id);
  }
  std::vector<std::string> All() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {ids_.begin(), ids_.end()};
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> ids_;
};

// Stops and removes each pod; reports but does not stop at failures.
int RemovePods(CriClient& cri, const std::vector<std::string>& ids) {
  int failures = 0;
  for (const std::string& id : ids) {
    rt::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(id);
    auto s = cri.StopPodSandbox(stop);
    rt::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(id);
    auto r = cri.RemovePodSandbox(remove);
    if (!s.ok() || !r.ok()) {
      ++failures;
      std::cerr << "cleanup of pod " << id
                << " failed: " << (!s.ok() ? s.status().ToString() : r.status().ToString()) << "\n";
    }
  }
  return failures;
}

class Bench {
 public:
  Bench(Options options, CriClient& cri) : o_(std::move(options)), cri_(cri) {}

  // Runs every phase; false after the first failed call (the pods it made
  // are removed by then).
  bool Run(Json* out);

 private:
  struct Pod {
    rt::PodSandboxConfig config;
    std::string id;
  };
  // The four per-pod steps; each is applied to all pods before the next.
  enum Step { kRun, kStatus, kStop, kRemove, kSteps };
  static constexpr const char* kStepNames[kSteps] = {"RunPodSandbox", "PodSandboxStatus",
                                                     "StopPodSandbox", "RemovePodSandbox"};

  rt::PodSandboxConfig MakeConfig(const std::string& phase, int index, bool host_network) const;
  bool PrepareLogDir(const rt::PodSandboxConfig& config);
  bool CallStep(Step step, Pod& pod, Samples* samples);
  // Applies `step` to every pod with `concurrency` callers; returns the
  // wall time, or a negative value after a failure.
  double ForAll(Step step, std::vector<Pod>& pods, int concurrency, Samples* samples);
  bool LifecyclePhase(const std::string& phase, int concurrency, Json* out);
  bool ListPhase(Json* out);
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (error_.empty()) error_ = what;
    failed_ = true;
  }

  const Options o_;
  CriClient& cri_;
  PodTracker tracker_;
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::string error_;
};

rt::PodSandboxConfig Bench::MakeConfig(const std::string& phase, int index,
                                       bool host_network) const {
  // Shaped like what kubelet sends for a plain Deployment pod.
  const std::string name = absl::StrCat("bench-", o_.tag, phase, "-", index);
  const std::string ns = absl::StrCat("crius-bench-", o_.run_id);
  const std::string uid = absl::StrCat(o_.run_id, "-", o_.tag, phase, "-", index);
  rt::PodSandboxConfig c = KubeletPodConfig(name, ns, uid, o_.log_dir);
  if (!host_network) c.set_hostname(name);
  auto& labels = *c.mutable_labels();
  labels[kRunLabel] = o_.run_id;
  labels[kPhaseLabel] = phase;
  auto* linux = c.mutable_linux();
  if (o_.cgroup_parent) {
    linux->set_cgroup_parent(absl::StrCat("/crius-bench-", o_.run_id, "/pod", uid));
  }
  auto* nsopt = linux->mutable_security_context()->mutable_namespace_options();
  nsopt->set_network(host_network ? rt::NODE : rt::POD);
  nsopt->set_pid(rt::CONTAINER);  // kubelet's default: no shared PID namespace
  nsopt->set_ipc(rt::POD);
  return c;
}

bool Bench::PrepareLogDir(const rt::PodSandboxConfig& config) {
  // kubelet creates the directory before RunPodSandbox; so does this, off
  // the clock.
  std::error_code ec;
  std::filesystem::create_directories(config.log_directory(), ec);
  if (ec) {
    Fail(absl::StrCat("create ", config.log_directory(), ": ", ec.message()));
    return false;
  }
  return true;
}

bool Bench::CallStep(Step step, Pod& pod, Samples* samples) {
  absl::Status status;
  const Clock::time_point start = Clock::now();
  switch (step) {
    case kRun: {
      rt::RunPodSandboxRequest req;
      *req.mutable_config() = pod.config;
      auto r = cri_.RunPodSandbox(req, kRunTimeout);
      samples->Add(Clock::now() - start);
      status = r.status();
      if (r.ok()) {
        pod.id = r->pod_sandbox_id();
        tracker_.Add(pod.id);
      }
      break;
    }
    case kStatus: {
      rt::PodSandboxStatusRequest req;
      req.set_pod_sandbox_id(pod.id);
      auto r = cri_.PodSandboxStatus(req);
      samples->Add(Clock::now() - start);
      status = r.status();
      if (r.ok() && r->status().state() != rt::SANDBOX_READY) {
        status = absl::InternalError(absl::StrCat("pod ", pod.id, " is not READY after run"));
      }
      break;
    }
    case kStop: {
      rt::StopPodSandboxRequest req;
      req.set_pod_sandbox_id(pod.id);
      auto r = cri_.StopPodSandbox(req);
      samples->Add(Clock::now() - start);
      status = r.status();
      break;
    }
    case kRemove: {
      rt::RemovePodSandboxRequest req;
      req.set_pod_sandbox_id(pod.id);
      auto r = cri_.RemovePodSandbox(req);
      samples->Add(Clock::now() - start);
      status = r.status();
      if (r.ok()) tracker_.Remove(pod.id);
      break;
    }
    case kSteps:
      break;
  }
  if (!status.ok()) {
    Fail(absl::StrCat(kStepNames[step], " of ", pod.config.metadata().name(), ": ",
                      status.ToString()));
    return false;
  }
  return true;
}

double Bench::ForAll(Step step, std::vector<Pod>& pods, int concurrency, Samples* samples) {
  std::atomic<size_t> next{0};
  std::vector<Samples> per_thread(static_cast<size_t>(concurrency));
  auto worker = [&](Samples* mine) {
    for (;;) {
      if (failed_) return;
      size_t i = next.fetch_add(1);
      if (i >= pods.size()) return;
      if (!CallStep(step, pods[i], mine)) return;
    }
  };
  const Clock::time_point start = Clock::now();
  if (concurrency == 1) {
    worker(&per_thread[0]);
  } else {
    std::vector<std::thread> threads;
    for (int t = 0; t < concurrency; ++t) threads.emplace_back(worker, &per_thread[t]);
    for (auto& t : threads) t.join();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  for (const Samples& s : per_thread) samples->Merge(s);
  return failed_ ? -1 : wall;
}

bool Bench::LifecyclePhase(const std::string& phase, int concurrency, Json* out) {
  std::vector<Pod> pods(static_cast<size_t>(o_.pods));
  for (int i = 0; i < o_.pods; ++i) {
    pods[i].config = MakeConfig(phase, i, /*host_network=*/false);
    if (!PrepareLogDir(pods[i].config)) return false;
  }
  Json calls = Json::object();
  Json wall = Json::object();
  for (int step = 0; step < kSteps; ++step) {
    Samples samples;
    double seconds = ForAll(static_cast<Step>(step), pods, concurrency, &samples);
    if (seconds < 0) return false;
    calls[kStepNames[step]] = samples.Summary();
    wall[kStepNames[step]] = {{"seconds", std::round(seconds * 1000) / 1000},
                              {"per_second", std::round(o_.pods / seconds * 10) / 10}};
  }
  *out = {{"pods", o_.pods}, {"concurrency", concurrency}, {"calls", calls}, {"wall", wall}};
  return true;
}

bool Bench::ListPhase(Json* out) {
  std::vector<Pod> pods(static_cast<size_t>(o_.list_pods));
  for (int i = 0; i < o_.list_pods; ++i) {
    pods[i].config = MakeConfig("list", i, /*host_network=*/true);
    if (!PrepareLogDir(pods[i].config)) return false;
  }
  Samples run_samples;
  const double run_wall = ForAll(kRun, pods, o_.parallel, &run_samples);
  if (run_wall < 0) return false;
  if (o_.list_stopped) {
    Samples ignored;
    if (ForAll(kStop, pods, o_.parallel, &ignored) < 0) return false;
  }

  auto time_list = [&](const rt::ListPodSandboxRequest& req, size_t want, Samples* samples,
                       size_t* bytes) {
    for (int i = 0; i < o_.list_calls; ++i) {
      const Clock::time_point start = Clock::now();
      auto r = cri_.ListPodSandbox(req);
      samples->Add(Clock::now() - start);
      if (!r.ok()) {
        Fail(absl::StrCat("ListPodSandbox: ", r.status().ToString()));
        return false;
      }
      // Other pods (of other runs or users) may be present too, so only a
      // shortfall is an error.
      size_t ours = 0;
      for (const auto& p : r->items()) {
        auto it = p.labels().find(kRunLabel);
        if (it != p.labels().end() && it->second == o_.run_id) ++ours;
      }
      if (ours < want) {
        Fail(absl::StrCat("ListPodSandbox returned ", ours, " of this run's pods, want ", want));
        return false;
      }
      *bytes = r->ByteSizeLong();
    }
    return true;
  };
  Samples all, by_label;
  size_t all_bytes = 0, label_bytes = 0;
  rt::ListPodSandboxRequest all_req;
  if (!time_list(all_req, pods.size(), &all, &all_bytes)) return false;
  rt::ListPodSandboxRequest label_req;
  auto& selector = *label_req.mutable_filter()->mutable_label_selector();
  selector[kRunLabel] = o_.run_id;
  selector["io.kubernetes.pod.uid"] = pods[pods.size() / 2].config.metadata().uid();
  if (!time_list(label_req, 1, &by_label, &label_bytes)) return false;

  // Removal is part of the run (it must finish), but is not what this
  // phase measures.
  Samples stop, remove;
  if (!o_.list_stopped && ForAll(kStop, pods, o_.parallel, &stop) < 0) return false;
  if (ForAll(kRemove, pods, o_.parallel, &remove) < 0) return false;

  *out = {
      {"pods", o_.list_pods},
      {"pods_state", o_.list_stopped ? "NOTREADY" : "READY"},
      {"host_network", true},
      {"calls",
       {{"ListPodSandbox", all.Summary()},
        {"ListPodSandbox(label)", by_label.Summary()},
        {"RunPodSandbox(host network)", run_samples.Summary()}}},
      {"response_bytes", {{"ListPodSandbox", all_bytes}, {"ListPodSandbox(label)", label_bytes}}},
      {"wall",
       {{"RunPodSandbox(host network)",
         {{"seconds", std::round(run_wall * 1000) / 1000},
          {"per_second", std::round(o_.list_pods / run_wall * 10) / 10}}}}}};
  return true;
}

bool Bench::Run(Json* out) {
  Json phases = Json::object();
  bool ok = true;
  if (o_.lifecycle) {
    ok = LifecyclePhase("seq", 1, &phases["sequential"]);
    if (ok) ok = LifecyclePhase("par", o_.parallel, &phases["parallel"]);
  }
  if (ok && o_.list_pods > 0) ok = ListPhase(&phases["list"]);
  (*out)["phases"] = phases;
  if (!ok) {
    std::cerr << "benchmark failed: " << error_ << "\n";
    std::vector<std::string> left = tracker_.All();
    if (!left.empty()) {
      std::cerr << "removing the " << left.size() << " pods this run created\n";
      RemovePods(cri_, left);
    }
  }
  return ok;
}

void PrintTable(const Json& doc) {
  std::printf("%s: %s %s (CRI %s) at %s, run %s\n", doc["name"].get<std::string>().c_str(),
              doc["runtime_name"].get<std::string>().c_str(),
              doc["runtime_version"].get<std::string>().c_str(),
              doc["runtime_api_version"].get<std::string>().c_str(),
              doc["endpoint"].get<std::string>().c_str(), doc["run_id"].get<std::string>().c_str());
  std::printf("%-16s %-28s %6s %9s %9s %9s %9s %9s\n", "phase", "call", "n", "p50 ms", "p90 ms",
              "p99 ms", "mean ms", "max ms");
  for (const auto& [phase, body] : doc["phases"].items()) {
    std::string label = phase;
    if (body.contains("concurrency")) {
      label = absl::StrCat(phase, " x", body["concurrency"].get<int>());
    } else if (body.contains("pods")) {
      label = absl::StrCat(phase, " @", body["pods"].get<int>());
    }
    for (const auto& [call, s] : body["calls"].items()) {
      std::printf("%-16s %-28s %6d %9.2f %9.2f %9.2f %9.2f %9.2f\n", label.c_str(), call.c_str(),
                  s["n"].get<int>(), s["p50_ms"].get<double>(), s["p90_ms"].get<double>(),
                  s["p99_ms"].get<double>(), s["mean_ms"].get<double>(), s["max_ms"].get<double>());
    }
    if (body.contains("wall")) {
      for (const auto& [call, w] : body["wall"].items()) {
        std::printf("%-16s   wall %-23s %.2f s (%.1f/s)\n", label.c_str(), call.c_str(),
                    w["seconds"].get<double>(), w["per_second"].get<double>());
      }
    }
  }
}

int Cleanup(CriClient& cri, const std::string& run_id) {
  rt::ListPodSandboxRequest req;
  (*req.mutable_filter()->mutable_label_selector())[kRunLabel] = run_id;
  auto list = cri.ListPodSandbox(req);
  if (!list.ok()) {
    std::cerr << "cleanup: " << list.status() << "\n";
    return 1;
  }
  std::vector<std::string> ids;
  for (const auto& p : list->items()) ids.push_back(p.id());
  if (!ids.empty())
    std::cerr << "cleanup: removing " << ids.size() << " pods of run " << run_id << "\n";
  return RemovePods(cri, ids) == 0 ? 0 : 1;
}

// The temp log dir, when none was given; removed at exit.
class OwnedDir {
 public:
  OwnedDir() = default;
  ~OwnedDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  bool Make() {
    char tmpl[] = "/tmp/crius-pod-bench-logs-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return false;
    path_ = tmpl;
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int Main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    Usage();
    return 2;
  }
  auto connected = CriClient::Connect(o.endpoint, absl::Seconds(10));
  if (!connected.ok()) {
    std::cerr << connected.status() << "\n";
    return 1;
  }
  CriClient& cri = **connected;
  if (!o.cleanup_run.empty()) return Cleanup(cri, o.cleanup_run);

  auto version = cri.Version();
  if (!version.ok()) {
    std::cerr << version.status() << "\n";
    return 1;
  }
  if (o.run_id.empty()) o.run_id = RandomId();
  if (o.name.empty()) o.name = version->runtime_name();
  OwnedDir owned_logs;
  if (o.log_dir.empty()) {
    if (!owned_logs.Make()) {
      std::cerr << "mkdtemp for the log dir: " << std::strerror(errno) << "\n";
      return 1;
    }
    o.log_dir = owned_logs.path();
  }

  Json doc = {{"name", o.name},
              {"endpoint", o.endpoint},
              {"runtime_name", version->runtime_name()},
              {"runtime_version", version->runtime_version()},
              {"runtime_api_version", version->runtime_api_version()},
              {"run_id", o.run_id},
              {"cgroup_parent", o.cgroup_parent}};
  Bench bench(o, cri);
  const bool ok = bench.Run(&doc);
  PrintTable(doc);
  if (!o.json_path.empty()) {
    if (o.json_path == "-") {
      std::cout << doc.dump(2) << "\n";
    } else {
      std::ofstream f(o.json_path);
      f << doc.dump(2) << "\n";
      if (!f) {
        std::cerr << "writing " << o.json_path << " failed\n";
        return 1;
      }
    }
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace crius::bench

int main(int argc, char** argv) { return crius::bench::Main(argc, argv); }
