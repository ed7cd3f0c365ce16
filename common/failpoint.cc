#include "common/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/strings.h"

namespace crius::failpoint {
namespace {

constexpr std::string_view kNames[] = {
#define CRIUS_FAILPOINT_NAME(e, name) name,
    CRIUS_FAILPOINTS(CRIUS_FAILPOINT_NAME)
#undef CRIUS_FAILPOINT_NAME
};
static_assert(std::size(kNames) == static_cast<size_t>(Point::kCount));

}  // namespace

std::string_view Name(Point p) { return kNames[static_cast<uint32_t>(p)]; }

std::vector<std::string_view> AllNames() { return {std::begin(kNames), std::end(kNames)}; }

absl::Status Arm(std::string_view spec) {
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
  internal::armed.fetch_or(bits, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status ArmFromEnvironment() {
  const char* spec = std::getenv("CRIUS_FAILPOINT");
  if (spec == nullptr || *spec == '\0') return absl::OkStatus();
  return Arm(spec);
}

void DisarmAll() { internal::armed.store(0, std::memory_order_relaxed); }

namespace internal {

void Die(Point p) {
  // One write(2), no allocation-free guarantee needed: the process is about
  // to vanish anyway. The line tells a test which point fired.
  const std::string line = absl::StrCat("criusd: failpoint ", AbslView(Name(p)), " reached; SIGKILL\n");
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  ::kill(::getpid(), SIGKILL);
  for (;;) ::pause();
}

}  // namespace internal
}  // namespace crius::failpoint
