#include "stats/cgroup_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/strings.h"

namespace crius::stats {
namespace {

// Control files are small (memory.stat is the largest, ~2 KiB on v1 and
// ~3 KiB on v2); one stack buffer per read keeps the hot path allocation
// free. A file longer than this is cut, which only loses trailing keys
// (cgroup.procs is counted in chunks instead, see CountLines).
constexpr size_t kBufSize = 8192;

struct Buf {
  char data[kBufSize];
  size_t len = 0;
  std::string_view view() const { return {data, len}; }
};

// Reads `dir`/`name` into `buf`. False when the file is missing or
// unreadable: a controller file that is absent (no swap accounting, an old
// kernel) leaves its figures at zero instead of failing the read.
bool ReadInto(const std::string& dir, const char* name, Buf& buf) {
  char path[512];
  int n = snprintf(path, sizeof(path), "%s/%s", dir.c_str(), name);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(path)) return false;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  buf.len = 0;
  while (buf.len < sizeof(buf.data)) {
    ssize_t r = ::read(fd, buf.data + buf.len, sizeof(buf.data) - buf.len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    buf.len += static_cast<size_t>(r);
  }
  ::close(fd);
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool ParseU64(std::string_view s, uint64_t& out) {
  s = Trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseI64(std::string_view s, int64_t& out) {
  s = Trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Calls `fn(key, value)` for each "key value" line of a flat keyed file
// (cpu.stat, memory.stat, memory.events, cpuacct.stat).
template <typename Fn>
void ForEachKeyValue(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    uint64_t v = 0;
    if (ParseU64(line.substr(sp + 1), v)) fn(line.substr(0, sp), v);
  }
}

bool ReadU64(const std::string& dir, const char* name, uint64_t& out) {
  Buf buf;
  return ReadInto(dir, name, buf) && ParseU64(buf.view(), out);
}

// Lines of a file that may be longer than the buffer (cgroup.procs of a
// busy cgroup): one pid per line.
uint64_t CountLines(const std::string& dir, const char* name) {
  std::string path = absl::StrCat(dir, "/", name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char chunk[4096];
  uint64_t lines = 0;
  for (;;) {
    ssize_t r = ::read(fd, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    lines += static_cast<uint64_t>(std::count(chunk, chunk + r, '\n'));
  }
  ::close(fd);
  return lines;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return !path.empty() && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// v1 reports "no limit" as the largest page-aligned counter value
// (PAGE_COUNTER_MAX * page size, 0x7FFFFFFFFFFFF000 on x86-64); anything
// from 2^62 up is treated as unlimited so other page sizes work too.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

void FinishMemory(MemoryStats& m) {
  m.working_set_bytes = m.usage_bytes > m.inactive_file_bytes ? m.usage_bytes - m.inactive_file_bytes : 0;
}

void ReadV1Cpu(const std::string& cpuacct, const std::string& cpu, CgroupStats& s) {
  Buf buf;
  ReadU64(cpuacct, "cpuacct.usage", s.cpu.usage_ns);
  if (ReadInto(cpuacct, "cpuacct.stat", buf)) {
    // cpuacct.stat counts USER_HZ ticks.
    static const uint64_t kNsPerTick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "user") s.cpu.user_ns = v * kNsPerTick;
      if (k == "system") s.cpu.system_ns = v * kNsPerTick;
    });
  }
  if (ReadInto(cpu, "cpu.stat", buf)) {
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "nr_periods") s.cpu.periods = v;
      if (k == "nr_throttled") s.cpu.throttled_periods = v;
      if (k == "throttled_time") s.cpu.throttled_ns = v;
    });
  }
  ReadU64(cpu, "cpu.shares", s.cpu.shares);
  ReadU64(cpu, "cpu.cfs_period_us", s.cpu.period_us);
  int64_t quota = -1;
  if (ReadInto(cpu, "cpu.cfs_quota_us", buf) && ParseI64(buf.view(), quota) && quota > 0) {
    s.cpu.quota_us = quota;
  }
}

void ReadV1Memory(const std::string& dir, CgroupStats& s) {
  MemoryStats& m = s.memory;
  Buf buf;
  ReadU64(dir, "memory.usage_in_bytes", m.usage_bytes);
  if (ReadInto(dir, "memory.stat", buf)) {
    // The total_* keys cover the whole subtree (a pod's containers), the
    // plain ones only tasks directly in this cgroup.
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "total_rss") m.rss_bytes = v;
      else if (k == "total_cache") m.cache_bytes = v;
      else if (k == "total_inactive_file") m.inactive_file_bytes = v;
      else if (k == "total_mapped_file") m.mapped_file_bytes = v;
      else if (k == "total_pgfault") m.page_faults = v;
      else if (k == "total_pgmajfault") m.major_page_faults = v;
    });
  }
  uint64_t limit = 0;
  if (ReadU64(dir, "memory.limit_in_bytes", limit) && limit < kV1Unlimited) m.limit_bytes = limit;
  ReadU64(dir, "memory.failcnt", m.failcnt);
  uint64_t memsw = 0;
  if (ReadU64(dir, "memory.memsw.usage_in_bytes", memsw)) {
    m.swap_bytes = memsw > m.usage_bytes ? memsw - m.usage_bytes : 0;
  }
  if (ReadInto(dir, "memory.oom_control", buf)) {
    // v1 has no count of OOM events apart from the kills.
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "oom_kill") s.oom_events = s.oom_kills = v;
    });
  }
  FinishMemory(m);
}

void ReadV2Cpu(const std::string& dir, CgroupStats& s) {
  Buf buf;
  if (ReadInto(dir, "cpu.stat", buf)) {
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "usage_usec") s.cpu.usage_ns = v * 1000;
      else if (k == "user_usec") s.cpu.user_ns = v * 1000;
      else if (k == "system_usec") s.cpu.system_ns = v * 1000;
      else if (k == "nr_periods") s.cpu.periods = v;
      else if (k == "nr_throttled") s.cpu.throttled_periods = v;
      else if (k == "throttled_usec") s.cpu.throttled_ns = v * 1000;
    });
  }
  if (ReadInto(dir, "cpu.max", buf)) {
    std::string_view text = Trim(buf.view());
    size_t sp = text.find(' ');
    int64_t quota = 0;
    if (sp != std::string_view::npos) {
      ParseU64(text.substr(sp + 1), s.cpu.period_us);
      if (ParseI64(text.substr(0, sp), quota) && quota > 0) s.cpu.quota_us = quota;
    }
  }
  uint64_t weight = 0;
  if (ReadU64(dir, "cpu.weight", weight) && weight >= 1) {
    // Inverse of runc's shares -> weight mapping (shares 2..262144 onto
    // weight 1..10000), so both versions report v1 shares.
    s.cpu.shares = 2 + ((weight - 1) * 262142) / 9999;
  }
}

void ReadV2Memory(const std::string& dir, CgroupStats& s) {
  MemoryStats& m = s.memory;
  Buf buf;
  ReadU64(dir, "memory.current", m.usage_bytes);
  if (ReadInto(dir, "memory.stat", buf)) {
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "anon") m.rss_bytes = v;
      else if (k == "file") m.cache_bytes = v;
      else if (k == "inactive_file") m.inactive_file_bytes = v;
      else if (k == "file_mapped") m.mapped_file_bytes = v;
      else if (k == "pgfault") m.page_faults = v;
      else if (k == "pgmajfault") m.major_page_faults = v;
    });
  }
  uint64_t limit = 0;
  if (ReadU64(dir, "memory.max", limit)) m.limit_bytes = limit;  // "max" does not parse
  uint64_t swap = 0;
  if (ReadU64(dir, "memory.swap.current", swap)) m.swap_bytes = swap;
  if (ReadInto(dir, "memory.events", buf)) {
    ForEachKeyValue(buf.view(), [&](std::string_view k, uint64_t v) {
      if (k == "max") m.failcnt = v;
      else if (k == "oom") s.oom_events = v;
      else if (k == "oom_kill") s.oom_kills = v;
    });
  }
  FinishMemory(m);
}

bool SafeCgroupPath(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return false;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    if (path.substr(pos, next - pos) == "..") return false;
    pos = next + 1;
  }
  return true;
}

}  // namespace

CgroupReader::CgroupReader(const sandbox::CgroupSetup& setup) {
  v2_ = setup.layout == sandbox::CgroupLayout::kV2;
  for (const auto& h : setup.hierarchies) {
    if (h.v2) {
      unified_ = h.mount_point;
      continue;
    }
    if (HasController(h, "cpu")) cpu_ = h.mount_point;
    if (HasController(h, "cpuacct")) cpuacct_ = h.mount_point;
    if (HasController(h, "memory")) memory_ = h.mount_point;
    if (HasController(h, "pids")) pids_ = h.mount_point;
  }
}

std::string CgroupReader::Dir(std::string_view controller, std::string_view path) const {
  const std::string* root = &unified_;
  if (!v2_) {
    if (controller == "cpu") root = &cpu_;
    else if (controller == "cpuacct") root = &cpuacct_;
    else if (controller == "memory") root = &memory_;
    else if (controller == "pids") root = &pids_;
    else return "";
  }
  if (root->empty()) return "";
  std::string dir = *root;
  if (!path.empty() && path.front() != '/') dir.push_back('/');
  dir.append(path.data(), path.size());
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

absl::StatusOr<CgroupStats> CgroupReader::Read(std::string_view path) const {
  if (!SafeCgroupPath(path)) {
    return absl::InvalidArgumentError(absl::StrCat("bad cgroup path \"", AbslView(path), "\""));
  }
  CgroupStats s;
  s.timestamp_ns = absl::GetCurrentTimeNanos();
  if (v2_) {
    std::string dir = Dir("", path);
    if (!IsDir(dir)) return absl::NotFoundError(absl::StrCat("cgroup ", AbslView(path), " not found in ", unified_));
    s.has_cpu = s.has_memory = s.has_pids = true;
    ReadV2Cpu(dir, s);
    ReadV2Memory(dir, s);
    ReadU64(dir, "pids.current", s.threads);
    s.processes = CountLines(dir, "cgroup.procs");
    return s;
  }
  std::string cpuacct = Dir("cpuacct", path), cpu = Dir("cpu", path);
  std::string memory = Dir("memory", path), pids = Dir("pids", path);
  s.has_cpu = IsDir(cpuacct);
  s.has_memory = IsDir(memory);
  s.has_pids = IsDir(pids);
  if (!s.has_cpu && !s.has_memory && !s.has_pids) {
    return absl::NotFoundError(absl::StrCat("cgroup ", AbslView(path), " not found in any v1 hierarchy"));
  }
  if (s.has_cpu) ReadV1Cpu(cpuacct, IsDir(cpu) ? cpu : cpuacct, s);
  if (s.has_memory) {
    ReadV1Memory(memory, s);
    s.processes = CountLines(memory, "cgroup.procs");
  }
  if (s.has_pids) ReadU64(pids, "pids.current", s.threads);
  return s;
}

absl::StatusOr<std::vector<int>> CgroupReader::Procs(std::string_view path) const {
  if (!SafeCgroupPath(path)) {
    return absl::InvalidArgumentError(absl::StrCat("bad cgroup path \"", AbslView(path), "\""));
  }
  std::string dir = v2_ ? Dir("", path) : Dir("pids", path);
  if (!v2_ && !IsDir(dir)) dir = Dir("memory", path);
  std::string file = absl::StrCat(dir, "/cgroup.procs");
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", file));
  std::string text;
  char chunk[4096];
  for (;;) {
    ssize_t r = ::read(fd, chunk, sizeof(chunk));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    text.append(chunk, static_cast<size_t>(r));
  }
  ::close(fd);
  std::vector<int> pids;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    int64_t pid = 0;
    if (ParseI64(rest.substr(0, eol), pid) && pid > 0) pids.push_back(static_cast<int>(pid));
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
  }
  return pids;
}

uint64_t CountOpenFds(const std::vector<int>& pids) {
  uint64_t total = 0;
  char path[64];
  for (int pid : pids) {
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR* d = ::opendir(path);
    if (d == nullptr) continue;  // exited meanwhile
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++total;
    }
    ::closedir(d);
  }
  return total;
}

}  // namespace crius::stats
