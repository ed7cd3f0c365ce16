#include "client/cri_log.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/absl_view.h"

namespace crius::client {
namespace {

// Splits off the text up to the next space; false if there is no space.
bool NextField(absl::string_view& rest, absl::string_view& field) {
  size_t space = rest.find(' ');
  if (space == absl::string_view::npos) return false;
  field = rest.substr(0, space);
  rest.remove_prefix(space + 1);
  return true;
}

}  // namespace

absl::StatusOr<CriLogEntry> ParseCriLogLine(std::string_view line_view) {
  absl::string_view line = AbslView(line_view);
  absl::string_view rest = line;
  absl::string_view timestamp, stream;
  if (!NextField(rest, timestamp) || timestamp.empty() ||
      !NextField(rest, stream)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a CRI log line: ", line.substr(0, 80)));
  }
  CriLogEntry entry;
  entry.timestamp = std::string(timestamp);
  if (stream == "stdout") {
    entry.stream = LogStream::kStdout;
  } else if (stream == "stderr") {
    entry.stream = LogStream::kStderr;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown CRI log stream \"", stream, "\""));
  }
  // The tag field may carry more ':'-separated tags in future; only the
  // first one is defined. An empty "F" line may come without the space that
  // would separate it from its (empty) text.
  absl::string_view tags;
  if (!NextField(rest, tags)) {
    tags = rest;
    rest = {};
  }
  absl::string_view tag = tags.substr(0, tags.find(':'));
  if (tag == "P") {
    entry.partial = true;
  } else if (tag != "F") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown CRI log tag \"", tags, "\""));
  }
  entry.text = std::string(rest);
  return entry;
}

std::optional<CriLogLine> CriLogJoiner::Add(CriLogEntry entry) {
  std::optional<CriLogLine>& pending =
      pending_[entry.stream == LogStream::kStdout ? 0 : 1];
  if (!pending.has_value()) {
    pending = CriLogLine{std::move(entry.timestamp), entry.stream, "", false};
  }
  pending->text += entry.text;
  if (entry.partial) return std::nullopt;
  CriLogLine line = std::move(*pending);
  pending.reset();
  line.complete = true;
  return line;
}

std::vector<CriLogLine> CriLogJoiner::TakePending() {
  std::vector<CriLogLine> lines;
  for (std::optional<CriLogLine>& pending : pending_) {
    if (pending.has_value()) lines.push_back(std::move(*pending));
    pending.reset();
  }
  return lines;
}

std::vector<CriLogLine> ParseCriLog(std::string_view content) {
  std::vector<CriLogLine> lines;
  CriLogJoiner joiner;
  while (!content.empty()) {
    size_t newline = content.find('\n');
    std::string_view raw = content.substr(0, newline);
    content.remove_prefix(newline == std::string_view::npos ? content.size()
                                                            : newline + 1);
    absl::StatusOr<CriLogEntry> entry = ParseCriLogLine(raw);
    if (!entry.ok()) continue;
    if (std::optional<CriLogLine> line = joiner.Add(*std::move(entry))) {
      lines.push_back(*std::move(line));
    }
  }
  for (CriLogLine& line : joiner.TakePending()) {
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace crius::client
