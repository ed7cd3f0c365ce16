// crius_pod_steps: where criusd's RunPodSandbox time goes.
//
// It replays the steps of SandboxManager::Create (server/sandbox_manager.cc)
// with the same library calls criusd makes, in the same order, and times
// each one; then the steps of Stop and Remove. No gRPC, no daemon: what is
// left when these are summed and compared with crius_pod_bench's
// RunPodSandbox latency is the RPC path itself (gRPC, validation, the name
// registry, the edge decorator).
//
// It must track Create by hand: when Create changes, change the step list
// here too. A profiling aid run by hand (bench/README.md), never a test.
//
// usage: crius_pod_steps --conflist FILE [--iterations N] [--no-cgroup]
//                        [--state-dir DIR]
//   Runs in a temp tree under /tmp (records, CNI cache, and pod dirs unless
//   --state-dir puts them elsewhere, as criusd's state dir does); pins go
//   under /run/netns as criusd's do. Everything is removed again, also
//   after a failure.

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cni/network_manager.h"
#include "common/files.h"
#include "common/os.h"
#include "common/status.h"
#include "common/strings.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/namespaces.h"
#include "sandbox/pod_files.h"
#include "sandbox/shm.h"

namespace crius::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string conflist;
  int iterations = 50;
  bool cgroup = true;
  // Where pod dirs go (criusd's state dir; /run, a tmpfs, on a real node).
  // Empty: inside the temp tree.
  std::string state_dir;
};

// Step name -> latencies in ms, in first-seen order for printing.
class Timings {
 public:
  // Runs `fn`, records its duration under `name`, returns its status.
  absl::Status Time(const std::string& name, const std::function<absl::Status()>& fn) {
    const Clock::time_point start = Clock::now();
    absl::Status s = fn();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (samples_.find(name) == samples_.end()) order_.push_back(name);
    samples_[name].push_back(ms);
    return s;
  }

  void Print() const {
    std::printf("%-44s %5s %9s %9s %9s %9s\n", "step", "n", "p50 ms", "p90 ms", "mean ms", "share");
    double total = 0;
    std::map<std::string, double> medians;
    for (const auto& name : order_) {
      std::vector<double> v = samples_.at(name);
      std::sort(v.begin(), v.end());
      medians[name] = v[(v.size() - 1) / 2];
      if (name.rfind("run:", 0) == 0) total += medians[name];
    }
    for (const auto& name : order_) {
      std::vector<double> v = samples_.at(name);
      std::sort(v.begin(), v.end());
      double sum = 0;
      for (double x : v) sum += x;
      const double p90 = v[static_cast<size_t>(std::ceil(0.9 * static_cast<double>(v.size()))) - 1];
      std::string share = name.rfind("run:", 0) == 0 && total > 0
                              ? absl::StrFormat("%5.1f%%", 100 * medians.at(name) / total)
                              : "";
      std::printf("%-44s %5zu %9.2f %9.2f %9.2f %9s\n", name.c_str(), v.size(), medians.at(name),
                  p90, sum / static_cast<double>(v.size()), share.c_str());
    }
    std::printf("%-44s %5s %9.2f   (sum of the run: step medians)\n", "run: total", "", total);
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<double>> samples_;
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--conflist" && i + 1 < argc) {
      o->conflist = argv[++i];
    } else if (arg == "--iterations" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &o->iterations) || o->iterations < 1) return false;
    } else if (arg == "--no-cgroup") {
      o->cgroup = false;
    } else if (arg == "--state-dir" && i + 1 < argc) {
      o->state_dir = argv[++i];
    } else {
      return false;
    }
  }
  return !o->conflist.empty();
}

// The temp tree, removed at exit.
struct Tree {
  std::string path;
  ~Tree() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// What one pod acquired, for undoing it whatever happened.
struct Pod {
  std::string id;
  std::string pod_dir;
  sandbox::PinnedNamespaces ns;
  std::string shm;
  sandbox::PodCgroup cgroup;
  bool has_cgroup = false;
  bool network = false;
};

class Steps {
 public:
  Steps(const Options& o, const std::string& tree, sandbox::CgroupSetup cgroups)
      : o_(o), tree_(tree), cgroups_(std::move(cgroups)) {
    cni::NetworkManagerOptions nm;
    nm.conf_dir = JoinPath(tree, "net.d");
    nm.cache_dir = JoinPath(tree, "cni-cache");
    nm.bin_dirs = {"/usr/lib/cni"};
    network_ = std::make_unique<cni::NetworkManager>(nm);
  }

  absl::Status Start() {
    RETURN_IF_ERROR(MkdirAll(JoinPath(tree_, "net.d")));
    auto text = ReadFile(o_.conflist);
    if (!text.ok()) return text.status();
    RETURN_IF_ERROR(WriteFileAtomic(JoinPath(tree_, "net.d/10-bench.conflist"), *text, 0644));
    RETURN_IF_ERROR(network_->Start());
    if (!network_->WaitForReady(true, absl::Seconds(10))) {
      return absl::FailedPreconditionError(network_->Status().message);
    }
    return absl::OkStatus();
  }

  absl::Status RunOne(int index);
  absl::Status WhatIf(int index);
  void Print() const { timings_.Print(); }

 private:
  absl::Status Create(Pod& pod, int index);
  absl::Status StopAndRemove(Pod& pod);
  cni::PodNetworkRequest NetRequest(const Pod& pod, int index) const {
    cni::PodNetworkRequest r;
    r.pod_id = pod.id;
    r.netns_path = pod.ns.net;
    r.pod_name = absl::StrCat("steps-", index);
    r.pod_namespace = "crius-bench";
    r.pod_uid = absl::StrCat("steps-uid-", index);
    return r;
  }

  const Options& o_;
  const std::string tree_;
  const sandbox::CgroupSetup cgroups_;
  RealOs os_;
  std::unique_ptr<cni::NetworkManager> network_;
  Timings timings_;
};

absl::Status Steps::Create(Pod& pod, int index) {
  pod.pod_dir =
      JoinPath(o_.state_dir.empty() ? tree_ : o_.state_dir, absl::StrCat("pods/", pod.id));
  RETURN_IF_ERROR(timings_.Time("run: mkdir pod dir", [&] { return MkdirAll(pod.pod_dir, 0711); }));
  // A record about the size criusd writes (the config as JSON plus, at the
  // end, the CNI result).
  const std::string record(3000, 'x');
  const std::string record_file = JoinPath(tree_, "sandboxes/" + pod.id + ".json");
  RETURN_IF_ERROR(MkdirAll(JoinPath(tree_, "sandboxes"), 0700));
  // The intent record, so recovery can undo a run criusd died in.
  RETURN_IF_ERROR(timings_.Time("run: intent record (no fsync)", [&] {
    return WriteFileAtomic(record_file, record, 0600, Durability::kProcessCrash);
  }));
  if (o_.cgroup) {
    RETURN_IF_ERROR(timings_.Time("run: create pod cgroup (all hierarchies)", [&] {
      auto cg =
          sandbox::CreatePodCgroup(os_, cgroups_, absl::StrCat("/crius-bench-steps/pod", pod.id));
      if (!cg.ok()) return cg.status();
      pod.cgroup = *cg;
      pod.has_cgroup = true;
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(timings_.Time("run: intent record with the cgroup (no fsync)", [&] {
      return WriteFileAtomic(record_file, record, 0600, Durability::kProcessCrash);
    }));
  }
  sandbox::NamespaceSpec spec;
  spec.netns_name = "crius-steps-" + pod.id;
  spec.pin_dir = JoinPath(pod.pod_dir, "ns");
  spec.hostname = absl::StrCat("steps-", index);
  RETURN_IF_ERROR(timings_.Time("run: namespaces (helper fork, unshare, pins)", [&] {
    auto pinned = sandbox::CreatePodNamespaces(os_, spec);
    if (!pinned.ok()) return pinned.status();
    pod.ns = *pinned;
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(timings_.Time("run: mount /dev/shm", [&] {
    pod.shm = JoinPath(pod.pod_dir, "shm");
    return sandbox::MountPodShm(os_, pod.shm, 64 << 20);
  }));
  sandbox::PodFilesSpec files;
  files.pod_dir = pod.pod_dir;
  files.hostname = spec.hostname;
  files.dns = sandbox::DnsConfig{{"10.96.0.10"}, {"default.svc.cluster.local"}, {"ndots:5"}};
  RETURN_IF_ERROR(timings_.Time("run: hostname/hosts/resolv.conf (3 fsynced)",
                                [&] { return sandbox::WritePodFiles(files).status(); }));
  std::vector<std::string> ips;
  pod.network = true;
  RETURN_IF_ERROR(timings_.Time("run: CNI SetUp (lo + chain + 4 cache writes)", [&] {
    auto r = network_->SetUp(NetRequest(pod, index));
    if (!r.ok()) return r.status();
    ips = r->ips;
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(timings_.Time("run: rewrite hosts with pod IP (fsynced)", [&] {
    return sandbox::WriteHostsFile(pod.pod_dir, spec.hostname, ips, {});
  }));
  return timings_.Time("run: persist record (fsynced)",
                       [&] { return WriteFileAtomic(record_file, record, 0600); });
}

absl::Status Steps::StopAndRemove(Pod& pod) {
  absl::Status first;
  auto keep = [&](absl::Status s) {
    if (!s.ok() && first.ok()) first = s;
  };
  if (pod.network) {
    keep(timings_.Time("stop: CNI TearDown (chain + lo)",
                       [&] { return network_->TearDown(NetRequest(pod, 0)); }));
  }
  if (!pod.shm.empty()) {
    keep(timings_.Time("stop: unmount /dev/shm",
                       [&] { return sandbox::UnmountPodShm(os_, pod.shm); }));
  }
  keep(timings_.Time("stop: unpin namespaces",
                     [&] { return sandbox::RemovePodNamespaces(os_, pod.ns); }));
  const std::string record(3000, 'x');
  keep(timings_.Time("stop: persist record (fsynced)", [&] {
    return WriteFileAtomic(JoinPath(tree_, "sandboxes/" + pod.id + ".json"), record, 0600);
  }));
  if (pod.has_cgroup) {
    keep(timings_.Time("remove: rmdir pod cgroup (all hierarchies)",
                       [&] { return sandbox::RemovePodCgroup(os_, pod.cgroup); }));
  }
  keep(timings_.Time("remove: pod dir and record", [&] {
    RETURN_IF_ERROR(RemoveAll(pod.pod_dir));
    ::unlink(JoinPath(tree_, "sandboxes/" + pod.id + ".json").c_str());
    return absl::OkStatus();
  }));
  return first;
}

// What the same small file costs written three ways, for comparison with
// the fsynced atomic writes above (not part of the run: total).
absl::Status Steps::WhatIf(int index) {
  const std::string dir = JoinPath(tree_, "whatif");
  RETURN_IF_ERROR(MkdirAll(dir, 0700));
  const std::string data(200, 'x');
  const std::string path = JoinPath(dir, absl::StrCat("f", index));
  RETURN_IF_ERROR(timings_.Time("what-if: small file, WriteFileAtomic (2 fsyncs)",
                                [&] { return WriteFileAtomic(path, data, 0644); }));
  RETURN_IF_ERROR(timings_.Time("what-if: small file, temp + rename, no fsync", [&] {
    const std::string tmp = path + ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return ErrnoStatus("open " + tmp);
    if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      return ErrnoStatus("write " + tmp);
    }
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename " + tmp);
    return absl::OkStatus();
  }));
  return absl::OkStatus();
}

absl::Status Steps::RunOne(int index) {
  Pod pod;
  pod.id = absl::StrFormat("%d%08x", getpid(), index);
  absl::Status created = Create(pod, index);
  absl::Status removed = StopAndRemove(pod);
  if (!created.ok()) return created;
  if (!removed.ok()) return removed;
  return WhatIf(index);
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::cerr << "usage: crius_pod_steps --conflist FILE [--iterations N] [--no-cgroup]"
                 " [--state-dir DIR]\n";
    return 2;
  }
  Tree tree;
  char tmpl[] = "/tmp/crius-pod-steps-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  tree.path = tmpl;
  sandbox::CgroupSetup cgroups;
  if (o.cgroup) {
    auto detected = sandbox::DetectCgroups();
    if (!detected.ok()) {
      std::cerr << detected.status() << "\n";
      return 1;
    }
    cgroups = *detected;
  }
  Steps steps(o, tree.path, cgroups);
  if (auto s = steps.Start(); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  // The first pod also creates the bridge and the cgroup parents; the
  // medians below are not moved by that one slow sample.
  for (int i = 0; i < o.iterations; ++i) {
    if (auto s = steps.RunOne(i); !s.ok()) {
      std::cerr << "iteration " << i << ": " << s << "\n";
      return 1;
    }
  }
  steps.Print();
  if (o.cgroup) {
    // The shared parent each pod cgroup was created under.
    for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup")) {
      std::error_code ec;
      std::filesystem::remove(entry.path() / "crius-bench-steps", ec);
    }
    std::error_code ec;
    std::filesystem::remove("/sys/fs/cgroup/crius-bench-steps", ec);
  }
  return 0;
}

}  // namespace
}  // namespace crius::bench

int main(int argc, char** argv) { return crius::bench::Main(argc, argv); }
