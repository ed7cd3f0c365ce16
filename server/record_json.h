#pragma once
// The JSON plumbing shared by the pod and container record files: proto
// messages in and out of nlohmann::json, and the final dump. Every failure
// is a status, never a silently broken or missing record.

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace crius::server {

// `m` as JSON with the proto's field names.
absl::StatusOr<nlohmann::json> ProtoToJson(const google::protobuf::Message& m);
// Fills `m` from `j` (unknown fields ignored); DataLoss if it does not fit.
absl::Status JsonToProto(const nlohmann::json& j, google::protobuf::Message* m);
// The record's text; Internal if a string in it is not valid UTF-8.
absl::StatusOr<std::string> DumpRecord(const nlohmann::json& j);

}  // namespace crius::server
