#pragma once

// Reading the CRI container log format, which runtimes (through conmon or
// their shims) write and clients such as kubelet and crictl read directly
// from disk:
//
//   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <text>
//
// "P" marks a chunk of a line that continues in the next entry of the same
// stream; "F" ends the line. Clients join the chunks before showing them.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crius::client {

enum class LogStream { kStdout, kStderr };

struct CriLogEntry {
  std::string timestamp;
  LogStream stream = LogStream::kStdout;
  bool partial = false;
  std::string text;
};

// Parses one line of a CRI log file, without its trailing newline.
absl::StatusOr<CriLogEntry> ParseCriLogLine(std::string_view line);

// One logical line after joining partial chunks.
struct CriLogLine {
  std::string timestamp;  // of the line's first chunk
  LogStream stream = LogStream::kStdout;
  std::string text;
  // False for chunks still waiting for their "F" entry when the log ended;
  // they are shown without a newline, as kubelet does.
  bool complete = true;
};

// Joins "P" chunks per stream, so interleaved stdout and stderr chunks do
// not corrupt each other.
class CriLogJoiner {
 public:
  // Returns the finished line when `entry` completes one.
  std::optional<CriLogLine> Add(CriLogEntry entry);

  // Returns the unfinished lines (stdout first) and forgets them.
  std::vector<CriLogLine> TakePending();

 private:
  std::optional<CriLogLine> pending_[2];
};

// Parses a whole log text into logical lines. Lines that are not in the CRI
// format are skipped; a last line without its newline counts as written.
std::vector<CriLogLine> ParseCriLog(std::string_view content);

}  // namespace crius::client
