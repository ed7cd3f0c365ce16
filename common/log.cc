#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/strings.h"

namespace crius::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_level.load()); }
bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  std::string n = absl::AsciiStrToLower(AbslView(name));
  if (n == "debug" || n == "trace") return Level::kDebug;
  if (n == "info") return Level::kInfo;
  if (n == "warn" || n == "warning") return Level::kWarn;
  if (n == "error" || n == "fatal") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", AbslView(name), "\" (want debug, info, warn or error)"));
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

Line::Line(Level level, const char* file, int line) : level_(level) {
  const char* base = std::strrchr(file, '/');
  out_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E6S%Ez", absl::Now(), absl::LocalTimeZone()) << ' '
       << LevelName(level_) << ' ' << (base ? base + 1 : file) << ':' << line << "] ";
}

Line::~Line() {
  out_ << '\n';
  std::string s = out_.str();
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace crius::log
