#include "client/criusctl_format.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace crius::client {

std::string TruncateId(std::string_view id) {
  if (size_t colon = id.find(':'); colon != std::string_view::npos) {
    id.remove_prefix(colon + 1);
  }
  return std::string(id.substr(0, kTruncatedIdLength));
}

Table::Table(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void Table::AddRow(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  constexpr size_t kMinWidth = 20;
  constexpr size_t kPadding = 3;
  std::vector<size_t> widths;
  for (const std::vector<std::string>& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), kMinWidth);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size() + kPadding);
    }
  }
  for (const std::vector<std::string>& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    out << line << '\n';
  }
}

std::string HumanDuration(absl::Duration age) {
  int64_t seconds = absl::ToInt64Seconds(age);
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return absl::StrCat(seconds, " seconds");
  int64_t minutes = absl::ToInt64Minutes(age);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return absl::StrCat(minutes, " minutes");
  // Hours are rounded, not truncated, so 89 minutes reads "About an hour"
  // and 90 minutes "2 hours".
  int64_t hours = absl::ToInt64Hours(age + absl::Minutes(30));
  if (hours == 1) return "About an hour";
  if (hours < 48) return absl::StrCat(hours, " hours");
  if (hours < 24 * 7 * 2) return absl::StrCat(hours / 24, " days");
  if (hours < 24 * 30 * 2) return absl::StrCat(hours / 24 / 7, " weeks");
  if (hours < 24 * 365 * 2) return absl::StrCat(hours / 24 / 30, " months");
  return absl::StrCat(absl::ToInt64Hours(age) / 24 / 365, " years");
}

std::string HumanSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B",  "kB", "MB", "GB", "TB",
                                           "PB", "EB", "ZB", "YB"};
  double size = static_cast<double>(bytes);
  size_t unit = 0;
  while (size >= 1000.0 && unit + 1 < std::size(kUnits)) {
    size /= 1000.0;
    ++unit;
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3g%s", size, kUnits[unit]);
  return buffer;
}

std::string CreatedAgo(int64_t created_at_ns, absl::Time now) {
  return absl::StrCat(HumanDuration(now - absl::FromUnixNanos(created_at_ns)),
                      " ago");
}

absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  google::protobuf::util::Status status =
      google::protobuf::util::MessageToJsonString(m, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("encode ", m.GetTypeName(),
                                            " as JSON: ", status.ToString()));
  }
  return json;
}

absl::StatusOr<std::string> StatusWithInfoJson(
    const google::protobuf::Message& status,
    const google::protobuf::Map<std::string, std::string>& info) {
  // ordered_json keeps "status" first and each embedded document in the
  // order its producer wrote it.
  using Json = nlohmann::ordered_json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string status_json;
  google::protobuf::util::Status encoded =
      google::protobuf::util::MessageToJsonString(status, &status_json,
                                                  options);
  if (!encoded.ok()) {
    return absl::InternalError(absl::StrCat("encode ", status.GetTypeName(),
                                            " as JSON: ", encoded.ToString()));
  }
  Json document = Json::object();
  document["status"] = Json::parse(status_json, nullptr,
                                   /*allow_exceptions=*/false);

  std::vector<std::pair<std::string, std::string>> sorted(info.begin(),
                                                          info.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, value] : sorted) {
    Json parsed = Json::parse(value, nullptr, /*allow_exceptions=*/false);
    document[key] = parsed.is_discarded() ? Json(value) : std::move(parsed);
  }
  return document.dump(2, ' ', /*ensure_ascii=*/false,
                       Json::error_handler_t::replace);
}

}  // namespace crius::client
