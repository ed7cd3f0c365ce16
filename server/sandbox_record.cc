#include "server/sandbox_record.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/record_json.h"

namespace crius::server {
namespace {

using nlohmann::json;

// The record's file format version, bumped when a field changes meaning.
constexpr int kFormat = 1;

}  // namespace

std::string ReservationNameOf(const runtime::v1::PodSandboxMetadata& md) {
  return absl::StrCat(md.name(), "_", md.namespace_(), "_", md.uid(), "_", md.attempt());
}

std::string SandboxRecord::ReservationName() const { return ReservationNameOf(config.metadata()); }

bool SandboxRecord::HostNetwork() const {
  return config.linux().security_context().namespace_options().network() == runtime::v1::NODE;
}

absl::StatusOr<std::string> SandboxToJson(const SandboxRecord& r) {
  auto config = ProtoToJson(r.config);
  if (!config.ok()) return config.status();
  json j = {
      {"format", kFormat},
      {"id", r.id},
      {"config", *std::move(config)},
      {"runtime_handler", r.runtime_handler},
      {"state", runtime::v1::PodSandboxState_Name(r.state)},
      {"created_at_ns", r.created_at_ns},
      {"namespaces",
       {{"net", r.namespaces.net},
        {"ipc", r.namespaces.ipc},
        {"uts", r.namespaces.uts},
        {"pin_dir", r.namespaces.pin_dir}}},
      {"pod_dir", r.pod_dir},
      {"shm_path", r.shm_path},
      {"cgroup", {{"path", r.cgroup.path}, {"created", r.cgroup.created}, {"unit", r.cgroup.unit}}},
      {"network_attached", r.network_attached},
      {"ips", r.ips},
      {"cni_result", r.cni_result},
      {"network_error", r.network_error},
      {"creating", r.creating},
      {"infra",
       {{"container_id", r.infra.container_id},
        {"pid", r.infra.pid},
        {"start_time", r.infra.start_time},
        {"bundle", r.infra.bundle},
        {"handler", r.infra_handler}}},
  };
  return DumpRecord(j);
}

absl::StatusOr<SandboxRecord> SandboxFromJson(const std::string& text) {
  try {
    json j = json::parse(text);
    if (j.at("format").get<int>() != kFormat) {
      return absl::FailedPreconditionError(
          absl::StrCat("unsupported sandbox record format ", j.at("format").dump()));
    }
    SandboxRecord r;
    r.id = j.at("id").get<std::string>();
    if (auto s = JsonToProto(j.at("config"), &r.config); !s.ok()) return s;
    r.runtime_handler = j.value("runtime_handler", "");
    runtime::v1::PodSandboxState state;
    if (!runtime::v1::PodSandboxState_Parse(j.at("state").get<std::string>(), &state)) {
      return absl::DataLossError("bad sandbox state");
    }
    r.state = state;
    r.created_at_ns = j.at("created_at_ns").get<int64_t>();
    const json& ns = j.at("namespaces");
    r.namespaces.net = ns.value("net", "");
    r.namespaces.ipc = ns.value("ipc", "");
    r.namespaces.uts = ns.value("uts", "");
    r.namespaces.pin_dir = ns.value("pin_dir", "");
    r.pod_dir = j.value("pod_dir", "");
    r.shm_path = j.value("shm_path", "");
    r.cgroup.path = j.at("cgroup").value("path", "");
    r.cgroup.created = j.at("cgroup").value("created", std::vector<std::string>{});
    r.cgroup.unit = j.at("cgroup").value("unit", "");
    r.network_attached = j.value("network_attached", false);
    r.ips = j.value("ips", std::vector<std::string>{});
    r.cni_result = j.value("cni_result", "");
    r.network_error = j.value("network_error", "");
    r.creating = j.value("creating", false);
    if (j.contains("infra")) {
      const json& in = j.at("infra");
      r.infra.container_id = in.value("container_id", "");
      r.infra.pid = in.value("pid", 0);
      r.infra.start_time = in.value("start_time", uint64_t{0});
      r.infra.bundle = in.value("bundle", "");
      r.infra_handler = in.value("handler", "");
    }
    return r;
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("sandbox record: ", e.what()));
  }
}

}  // namespace crius::server
