#pragma once

// Output formatting shared by criusctl's commands. The shapes follow
// crictl's so scripts and eyes trained on crictl read criusctl the same way.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/map.h"
#include "google/protobuf/message.h"

namespace crius::client {

// crictl shortens ids to this many characters unless --no-trunc is given.
inline constexpr size_t kTruncatedIdLength = 13;

// Drops an algorithm prefix such as "sha256:" and cuts to kTruncatedIdLength.
std::string TruncateId(std::string_view id);

// Columns aligned the way Go's tabwriter does with crictl's settings
// (minimum width 20, padding 3); the last column is never padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "3 minutes", "About an hour", "2 days", as docker/crictl print ages.
std::string HumanDuration(absl::Duration age);

// "4.26MB", "512B": decimal units, three significant digits.
std::string HumanSize(uint64_t bytes);

// "<age> ago" for a CRI timestamp in nanoseconds since the epoch.
std::string CreatedAgo(int64_t created_at_ns, absl::Time now);

// A protobuf message as indented JSON with camelCase names and default
// values printed, like crictl's JSON output.
absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& m);

// crictl's inspect/info shape: {"status": <message>, <info key>: <value>...}
// where each info value is embedded as JSON when it parses as JSON and as a
// string otherwise. Keys after "status" are sorted.
absl::StatusOr<std::string> StatusWithInfoJson(
    const google::protobuf::Message& status,
    const google::protobuf::Map<std::string, std::string>& info);

}  // namespace crius::client
