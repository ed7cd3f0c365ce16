#include "server/container_record.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/record_json.h"

namespace crius::server {
namespace {

using nlohmann::json;
constexpr int kFormat = 1;

}  // namespace

std::string ContainerRecord::ReservationName(const runtime::v1::PodSandboxMetadata& pod) const {
  return absl::StrCat(config.metadata().name(), "_", pod.name(), "_", pod.namespace_(), "_",
                      pod.uid(), "_", config.metadata().attempt());
}

absl::StatusOr<std::string> ContainerToJson(const ContainerRecord& r) {
  auto config = ProtoToJson(r.config);
  if (!config.ok()) return config.status();
  auto resources = ProtoToJson(r.resources);
  if (!resources.ok()) return resources.status();
  json j = {{"format", kFormat},
            {"id", r.id},
            {"sandbox_id", r.sandbox_id},
            {"config", *std::move(config)},
            {"image_name", r.image_name},
            {"image_id", r.image_id},
            {"runtime_handler", r.runtime_handler},
            {"state", runtime::v1::ContainerState_Name(r.state)},
            {"created_at_ns", r.created_at_ns},
            {"started_at_ns", r.started_at_ns},
            {"finished_at_ns", r.finished_at_ns},
            {"exit_code", r.exit_code},
            {"reason", r.reason},
            {"message", r.message},
            {"pid", r.pid},
            {"conmon_pid", r.conmon.pid},
            {"conmon_start_time", r.conmon.start_time},
            {"bundle", r.bundle},
            {"log_path", r.log_path},
            {"termination_log", r.termination_log},
            {"cgroups_path", r.cgroups_path},
            {"stop_signal", r.stop_signal},
            {"process", r.process_json},
            {"resources", *std::move(resources)},
            {"creating", r.creating},
            {"runtime_deleted", r.runtime_deleted}};
  return DumpRecord(j);
}

absl::StatusOr<ContainerRecord> ContainerFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    if (j.at("format").get<int>() != kFormat) {
      return absl::FailedPreconditionError("unsupported container record format");
    }
    ContainerRecord r;
    r.id = j.at("id").get<std::string>();
    r.sandbox_id = j.at("sandbox_id").get<std::string>();
    if (auto s = JsonToProto(j.at("config"), &r.config); !s.ok()) return s;
    r.image_name = j.value("image_name", "");
    r.image_id = j.value("image_id", "");
    r.runtime_handler = j.value("runtime_handler", "");
    runtime::v1::ContainerState state;
    if (!runtime::v1::ContainerState_Parse(j.at("state").get<std::string>(), &state)) {
      return absl::DataLossError("bad container state");
    }
    r.state = state;
    r.created_at_ns = j.value("created_at_ns", int64_t{0});
    r.started_at_ns = j.value("started_at_ns", int64_t{0});
    r.finished_at_ns = j.value("finished_at_ns", int64_t{0});
    r.exit_code = j.value("exit_code", 0);
    r.reason = j.value("reason", "");
    r.message = j.value("message", "");
    r.pid = j.value("pid", 0);
    r.conmon.pid = j.value("conmon_pid", 0);
    r.conmon.start_time = j.value("conmon_start_time", uint64_t{0});
    r.bundle = j.value("bundle", "");
    r.log_path = j.value("log_path", "");
    r.termination_log = j.value("termination_log", "");
    r.cgroups_path = j.value("cgroups_path", "");
    r.stop_signal = j.value("stop_signal", 15);
    r.process_json = j.value("process", "");
    r.creating = j.value("creating", false);
    r.runtime_deleted = j.value("runtime_deleted", false);
    if (j.contains("resources")) {
      if (auto s = JsonToProto(j.at("resources"), &r.resources); !s.ok()) return s;
    }
    return r;
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("container record: ", e.what()));
  }
}

absl::StatusOr<nlohmann::json> ExecProcessFor(const ContainerRecord& r,
                                              const std::vector<std::string>& cmd) {
  nlohmann::json process = nlohmann::json::parse(r.process_json, nullptr, false);
  if (process.is_discarded() || !process.is_object()) {
    // Without it the command would run as root with no capabilities
    // dropped, no environment and no cwd: refuse instead.
    return absl::InternalError(absl::StrCat("container ", r.id, ": its stored process spec does not parse"));
  }
  process["args"] = cmd;
  process["terminal"] = false;
  return process;
}

}  // namespace crius::server
