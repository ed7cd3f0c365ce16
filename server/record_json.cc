#include "server/record_json.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace crius::server {

absl::StatusOr<nlohmann::json> ProtoToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!st.ok()) {
    return absl::InternalError(absl::StrCat("serialize ", m.GetTypeName(), ": ", st.ToString()));
  }
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) {
    return absl::InternalError(absl::StrCat("serialize ", m.GetTypeName(), ": not JSON"));
  }
  return j;
}

absl::Status JsonToProto(const nlohmann::json& j, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(j.dump(), m, opts);
  if (!st.ok()) return absl::DataLossError(absl::StrCat(m->GetTypeName(), ": ", st.ToString()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> DumpRecord(const nlohmann::json& j) {
  try {
    return j.dump(2);
  } catch (const nlohmann::json::exception& e) {
    // dump() throws on a string that is not valid UTF-8.
    return absl::InternalError(absl::StrCat("serialize record: ", e.what()));
  }
}

}  // namespace crius::server
