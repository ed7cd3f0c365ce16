// crius_stats_bench: ListContainerStats and ListPodSandboxStats latency and
// the runtime's CPU time per call, against any CRI endpoint.
//
//   crius_stats_bench --endpoint EP --pid PID [--pid PID...] [--calls 200]
//                     [--warmup 10] [--json OUT]
//
// The pods are already running (bench/run_stats_bench.sh starts them with
// crius_container_bench). For each call type in turn: `warmup` untimed
// calls, then `calls` timed ones back to back; the utime+stime of every
// --pid (the daemon, and for containerd its shims, which gather the task
// metrics) is read from /proc before and after the timed block, so CPU
// seconds per call = that difference / calls. The answer's item count is
// reported so both runtimes are seen answering for the same pods.
//
// A benchmark, not a test: nothing here asserts on timings.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "client/cri_client.h"
#include "nlohmann/json.hpp"

namespace crius::bench {
namespace {

using Json = nlohmann::ordered_json;
namespace rt = runtime::v1;

struct Options {
  std::string endpoint, json;
  std::vector<int> pids;
  int calls = 200;
  int warmup = 10;
};

int Usage() {
  std::cerr << "usage: crius_stats_bench --endpoint EP --pid PID [--pid PID...] [--calls N] "
               "[--warmup N] [--json OUT]\n";
  return 2;
}

// utime + stime of `pid` in clock ticks (fields 14 and 15 of
// /proc/<pid>/stat, counted after the parenthesised command name).
long long CpuTicks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  long long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {
    if (i == 14) utime = std::stoll(f);
    if (i == 15) {
      stime = std::stoll(f);
      break;
    }
  }
  return utime + stime;
}

long long TotalTicks(const std::vector<int>& pids) {
  long long t = 0;
  for (int p : pids) t += CpuTicks(p);
  return t;
}

template <typename Call>
Json Measure(const Options& o, const char* name, Call call) {
  int items = 0;
  for (int i = 0; i < o.warmup; ++i) {
    if (call(&items) != 0) return nullptr;
  }
  Samples samples;
  long long t0 = TotalTicks(o.pids);
  for (int i = 0; i < o.calls; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (call(&items) != 0) return nullptr;
    samples.Add(std::chrono::steady_clock::now() - start);
  }
  long long ticks = TotalTicks(o.pids) - t0;
  double cpu_s = static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  Json j = samples.Summary();
  j["items"] = items;
  j["cpu_seconds_total"] = cpu_s;
  j["cpu_ms_per_call"] = Samples::Round3(cpu_s * 1000.0 / o.calls);
  std::cerr << name << ": " << items << " items, p50 " << j["p50_ms"] << " ms, p99 " << j["p99_ms"]
            << " ms, cpu " << j["cpu_ms_per_call"] << " ms/call\n";
  return j;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    std::string v = argv[++i];
    if (a == "--endpoint") o.endpoint = v;
    else if (a == "--json") o.json = v;
    else if (a == "--pid") o.pids.push_back(std::stoi(v));
    else if (a == "--calls") o.calls = std::stoi(v);
    else if (a == "--warmup") o.warmup = std::stoi(v);
    else return Usage();
  }
  if (o.endpoint.empty() || o.pids.empty() || o.calls <= 0) return Usage();
  auto connected = client::CriClient::Connect(o.endpoint, absl::Seconds(10));
  if (!connected.ok()) {
    std::cerr << "connect " << o.endpoint << ": " << connected.status() << "\n";
    return 1;
  }
  client::CriClient& cri = **connected;

  Json out = {{"endpoint", o.endpoint}, {"calls", o.calls}};
  Json c = Measure(o, "ListContainerStats", [&](int* items) {
    auto r = cri.ListContainerStats(rt::ListContainerStatsRequest());
    if (!r.ok()) {
      std::cerr << "ListContainerStats: " << r.status() << "\n";
      return 1;
    }
    *items = r->stats_size();
    return 0;
  });
  Json p = Measure(o, "ListPodSandboxStats", [&](int* items) {
    auto r = cri.ListPodSandboxStats(rt::ListPodSandboxStatsRequest());
    if (!r.ok()) {
      std::cerr << "ListPodSandboxStats: " << r.status() << "\n";
      return 1;
    }
    *items = r->stats_size();
    return 0;
  });
  if (c.is_null() || p.is_null()) return 1;
  out["calls_by_type"] = {{"ListContainerStats", c}, {"ListPodSandboxStats", p}};
  if (!o.json.empty()) std::ofstream(o.json) << out.dump(2) << "\n";
  return 0;
}

}  // namespace
}  // namespace crius::bench

int main(int argc, char** argv) { return crius::bench::Main(argc, argv); }
