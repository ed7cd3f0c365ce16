#include "metrics/process_collector.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crius::metrics {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

prometheus::MetricFamily Single(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// Entries of /proc/self/fd, less the one opendir itself holds.
double OpenFds(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  double n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n > 0 ? n - 1 : 0;
}

double MaxFds(const std::string& limits) {
  for (absl::string_view line : absl::StrSplit(limits, '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    double v = 0;
    if (!f.empty() && absl::SimpleAtod(f[0], &v)) return v;
  }
  return 0;
}

double BootTime(const std::string& stat) {
  for (absl::string_view line : absl::StrSplit(stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    double v = 0;
    if (absl::SimpleAtod(absl::StripAsciiWhitespace(line), &v)) return v;
  }
  return 0;
}

}  // namespace

ProcessCollector::ProcessCollector(std::string proc_dir, std::string proc_root)
    : proc_dir_(std::move(proc_dir)), proc_root_(std::move(proc_root)) {}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  // Fields after the command (which may hold spaces, so split after its
  // closing parenthesis): state is field 3, utime 14, stime 15, threads 20,
  // starttime 22, vsize 23, rss 24 (pages).
  const std::string stat = Slurp(proc_dir_ + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  auto field = [&f](size_t n) {
    double v = 0;
    return n - 3 < f.size() && absl::SimpleAtod(f[n - 3], &v) ? v : 0.0;
  };
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  out.push_back(Single("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                       prometheus::MetricType::Counter, (field(14) + field(15)) / ticks));
  out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                       prometheus::MetricType::Gauge, field(24) * page));
  out.push_back(Single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       prometheus::MetricType::Gauge, field(23)));
  out.push_back(Single("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge,
                       OpenFds(proc_dir_ + "/fd")));
  out.push_back(Single("process_max_fds", "Maximum number of open file descriptors.",
                       prometheus::MetricType::Gauge, MaxFds(Slurp(proc_dir_ + "/limits"))));
  out.push_back(Single("process_threads", "Number of OS threads in the process.", prometheus::MetricType::Gauge,
                       field(20)));
  out.push_back(Single("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                       prometheus::MetricType::Gauge, BootTime(Slurp(proc_root_ + "/stat")) + field(22) / ticks));
  return out;
}

}  // namespace crius::metrics
