#include "common/failpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/strings.h"

namespace crius::failpoint {
namespace {

constexpr std::string_view kNames[] = {
#define CRIUS_FAILPOINT_NAME(e, name) name,
    CRIUS_FAILPOINTS(CRIUS_FAILPOINT_NAME)
#undef CRIUS_FAILPOINT_NAME
};
static_assert(std::size(kNames) == static_cast<size_t>(Point::kCount));

// The points armed to hold, and where their files go.
std::atomic<uint64_t> hold_bits{0};
// Never destroyed: a held thread may still read them at exit.
absl::Mutex& HoldMu() {
  static auto* mu = new absl::Mutex;
  return *mu;
}
std::string& HoldDir() ABSL_EXCLUSIVE_LOCKS_REQUIRED(HoldMu()) {
  static auto* dir = new std::string;
  return *dir;
}

absl::StatusOr<uint64_t> Parse(std::string_view spec) {
  uint64_t bits = 0;
  for (absl::string_view part : absl::StrSplit(AbslView(spec), ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    bool found = false;
    for (size_t i = 0; i < std::size(kNames); ++i) {
      if (StdView(part) == kNames[i]) {
        bits |= uint64_t{1} << i;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown failpoint \"", part, "\" (criusd --list-failpoints names them)"));
    }
  }
  return bits;
}

void Say(const std::string& line) { (void)!::write(STDERR_FILENO, line.data(), line.size()); }

[[noreturn]] void Die(Point p) {
  // One write(2), no allocation-free guarantee needed: the process is about
  // to vanish anyway. The line tells a test which point fired.
  Say(absl::StrCat("criusd: failpoint ", AbslView(Name(p)), " reached; SIGKILL\n"));
  ::kill(::getpid(), SIGKILL);
  for (;;) ::pause();
}

void Hold(Point p) {
  std::string file;
  {
    absl::MutexLock lock(&HoldMu());
    file = absl::StrCat(HoldDir(), "/", AbslView(Name(p)));
  }
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    // A test that cannot see the hold would wait for it forever: fail loudly.
    Say(absl::StrCat("criusd: failpoint ", AbslView(Name(p)), ": cannot create ", file, ": errno ",
                     errno, "; SIGKILL\n"));
    Die(p);
  }
  ::close(fd);
  Say(absl::StrCat("criusd: failpoint ", AbslView(Name(p)), " reached; holding until ", file,
                   " is removed\n"));
  // Test-only: a plain poll is enough, and needs no watcher of its own.
  while (::access(file.c_str(), F_OK) == 0) absl::SleepFor(absl::Milliseconds(5));
}

}  // namespace

std::string_view Name(Point p) { return kNames[static_cast<uint32_t>(p)]; }

std::vector<std::string_view> AllNames() { return {std::begin(kNames), std::end(kNames)}; }

absl::Status Arm(std::string_view spec) {
  auto bits = Parse(spec);
  if (!bits.ok()) return bits.status();
  internal::armed.fetch_or(*bits, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ArmHold(std::string_view spec, std::string_view dir) {
  auto bits = Parse(spec);
  if (!bits.ok()) return bits.status();
  if (*bits != 0 && dir.empty()) {
    return absl::InvalidArgumentError("held failpoints need CRIUS_FAILPOINT_HOLD_DIR");
  }
  {
    absl::MutexLock lock(&HoldMu());
    HoldDir() = std::string(dir);
  }
  hold_bits.fetch_or(*bits, std::memory_order_relaxed);
  internal::armed.fetch_or(*bits, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ArmFromEnvironment() {
  const char* spec = std::getenv("CRIUS_FAILPOINT");
  if (spec != nullptr && *spec != '\0') {
    if (absl::Status s = Arm(spec); !s.ok()) return s;
  }
  const char* hold = std::getenv("CRIUS_FAILPOINT_HOLD");
  const char* dir = std::getenv("CRIUS_FAILPOINT_HOLD_DIR");
  if (hold == nullptr || *hold == '\0') return absl::OkStatus();
  return ArmHold(hold, dir == nullptr ? "" : dir);
}

void DisarmAll() {
  internal::armed.store(0, std::memory_order_relaxed);
  hold_bits.store(0, std::memory_order_relaxed);
}

namespace internal {

void Reached(Point p) {
  if ((hold_bits.load(std::memory_order_relaxed) >> static_cast<uint32_t>(p)) & 1) {
    Hold(p);
  } else {
    Die(p);
  }
}

}  // namespace internal
}  // namespace crius::failpoint
