#pragma once
// Minimal leveled logging to stderr. One call writes one line with a single
// write(2), so lines from concurrent threads never interleave.
//
//   CRIUS_LOG(kInfo) << "serving on " << path;

#include <sstream>
#include <string_view>

#include "absl/status/statusor.h"

namespace crius::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);
// Accepts debug, info, warn/warning, error (any case).
absl::StatusOr<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);

// Collects one line and writes it when destroyed.
class Line {
 public:
  Line(Level level, const char* file, int line);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  std::ostream& stream() { return out_; }

 private:
  Level level_;
  std::ostringstream out_;
};

}  // namespace crius::log

// A one-pass for loop rather than if/else, so the macro is safe as the body
// of an unbraced if (no dangling else).
#define CRIUS_LOG(level)                                                         \
  for (bool crius_log_on_ = ::crius::log::Enabled(::crius::log::Level::level); \
       crius_log_on_; crius_log_on_ = false)                                     \
  ::crius::log::Line(::crius::log::Level::level, __FILE__, __LINE__).stream()
