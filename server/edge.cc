#include "server/edge.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/descriptor.h"

namespace crius::server {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Calls kubelet makes every second or on every probe: logged at debug level,
// so an info-level log shows what changed on the node, not the polling.
bool IsQuery(std::string_view method) {
  return method.starts_with("List") || method.starts_with("Stream") ||
         method.ends_with("Status") || method.ends_with("Stats") ||
         method == "Version" || method == "ImageFsInfo" || method == "RuntimeConfig" ||
         method == "ExecSync" || method == "ListMetricDescriptors" ||
         method == "GetContainerEvents";
}

void AppendMetadata(const Message& config, std::string* out) {
  const auto* desc = config.GetDescriptor();
  const FieldDescriptor* md_field = desc->FindFieldByName("metadata");
  if (md_field == nullptr || md_field->type() != FieldDescriptor::TYPE_MESSAGE) return;
  const auto* refl = config.GetReflection();
  if (!refl->HasField(config, md_field)) return;
  const Message& md = refl->GetMessage(config, md_field);
  const FieldDescriptor* name = md.GetDescriptor()->FindFieldByName("name");
  const FieldDescriptor* ns = md.GetDescriptor()->FindFieldByName("namespace");
  if (name == nullptr) return;
  absl::StrAppend(out, " name=");
  if (ns != nullptr) {
    const std::string nsv = md.GetReflection()->GetString(md, ns);
    if (!nsv.empty()) absl::StrAppend(out, nsv, "/");
  }
  absl::StrAppend(out, md.GetReflection()->GetString(md, name));
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string DescribeRequest(const Message& request) {
  std::string out;
  const auto* desc = request.GetDescriptor();
  const auto* refl = request.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_repeated()) continue;
    if (f->type() == FieldDescriptor::TYPE_STRING && absl::EndsWith(f->name(), "_id")) {
      const std::string v = refl->GetString(request, f);
      if (!v.empty()) absl::StrAppend(&out, " ", f->name(), "=", v);
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE && refl->HasField(request, f)) {
      const Message& sub = refl->GetMessage(request, f);
      if (f->name() == "image") {
        const FieldDescriptor* image = sub.GetDescriptor()->FindFieldByName("image");
        if (image != nullptr) absl::StrAppend(&out, " image=", sub.GetReflection()->GetString(sub, image));
      } else if (f->name() == "config") {
        AppendMetadata(sub, &out);
      }
    }
  }
  return out;
}

void Edge::Finish(std::string_view method, const Message& request, const absl::Status& status,
                  absl::Duration elapsed) {
  if (recorder_ != nullptr) recorder_->Record(method, status.code(), elapsed);
  log::Level level = IsQuery(method) ? log::Level::kDebug : log::Level::kInfo;
  const bool expected_miss = status.code() == absl::StatusCode::kNotFound && IsQuery(method);
  if (!status.ok() && !expected_miss && status.code() != absl::StatusCode::kUnimplemented) {
    level = log::Level::kWarn;
  }
  if (!log::Enabled(level)) return;
  log::Line(level, __FILE__, __LINE__).stream()
      << method << DescribeRequest(request) << " took " << absl::FormatDuration(elapsed) << ": "
      << (status.ok() ? std::string("OK") : status.ToString());
}

}  // namespace crius::server
