// criusctl stats and statsp: the CRI stats RPCs in crictl's table shapes
// (stats: CONTAINER NAME CPU % MEM DISK INODES; statsp: POD POD ID CPU %
// MEM) or as JSON. CPU % is the runtime's usage_nano_cores, so one call is
// enough (100% is one core).

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/criusctl_command.h"
#include "client/criusctl_format.h"

namespace crius::client {
namespace {

namespace v1 = runtime::v1;

absl::Status ParseLabels(const std::vector<std::string>& labels,
                         google::protobuf::Map<std::string, std::string>& selector) {
  for (const std::string& label : labels) {
    size_t eq = label.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label wants key=value, not \"", label, "\""));
    }
    selector[label.substr(0, eq)] = label.substr(eq + 1);
  }
  return absl::OkStatus();
}

std::string CpuPercent(const v1::CpuUsage& cpu) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f",
                static_cast<double>(cpu.usage_nano_cores().value()) / 1e7);
  return buf;
}

absl::StatusOr<int> ContainerStats(CommandContext& ctx) {
  v1::ListContainerStatsRequest request;
  v1::ContainerStatsFilter& filter = *request.mutable_filter();
  filter.set_id(ctx.flags.Get("id"));
  filter.set_pod_sandbox_id(ctx.flags.Get("pod"));
  if (absl::Status s = ParseLabels(ctx.flags.GetAll("label"), *filter.mutable_label_selector());
      !s.ok()) {
    return s;
  }
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->ListContainerStats(request));
  if (ctx.flags.Get("output") == "json") {
    CRIUSCTL_ASSIGN_OR_RETURN(json, MessageToJson(response));
    ctx.out << json;
    return 0;
  }
  bool no_trunc = ctx.flags.GetBool("no-trunc");
  Table table({"CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"});
  for (const v1::ContainerStats& s : response.stats()) {
    table.AddRow({no_trunc ? s.attributes().id() : TruncateId(s.attributes().id()),
                  s.attributes().metadata().name(), CpuPercent(s.cpu()),
                  HumanSize(s.memory().working_set_bytes().value()),
                  HumanSize(s.writable_layer().used_bytes().value()),
                  absl::StrCat(s.writable_layer().inodes_used().value())});
  }
  table.Print(ctx.out);
  return 0;
}

absl::StatusOr<int> PodStats(CommandContext& ctx) {
  v1::ListPodSandboxStatsRequest request;
  v1::PodSandboxStatsFilter& filter = *request.mutable_filter();
  filter.set_id(ctx.flags.Get("id"));
  if (absl::Status s = ParseLabels(ctx.flags.GetAll("label"), *filter.mutable_label_selector());
      !s.ok()) {
    return s;
  }
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->ListPodSandboxStats(request));
  if (ctx.flags.Get("output") == "json") {
    CRIUSCTL_ASSIGN_OR_RETURN(json, MessageToJson(response));
    ctx.out << json;
    return 0;
  }
  bool no_trunc = ctx.flags.GetBool("no-trunc");
  Table table({"POD", "POD ID", "CPU %", "MEM"});
  for (const v1::PodSandboxStats& s : response.stats()) {
    table.AddRow({s.attributes().metadata().name(),
                  no_trunc ? s.attributes().id() : TruncateId(s.attributes().id()),
                  CpuPercent(s.linux().cpu()),
                  HumanSize(s.linux().memory().working_set_bytes().value())});
  }
  table.Print(ctx.out);
  return 0;
}

FlagSpec LabelFlag() {
  return {{"--label"}, true, "KEY=VALUE", "only with this label (repeatable)"};
}
FlagSpec OutputFlag() { return {{"-o", "--output"}, true, "FORMAT", "table (default) or json"}; }
FlagSpec NoTruncFlag() { return {{"--no-trunc"}, false, "", "show full ids"}; }

}  // namespace

void AddStatsCommands(std::vector<Command>& commands) {
  commands.push_back({
      .name = "stats",
      .summary = "Show containers' resource usage",
      .flags = {{{"--id"}, true, "ID", "only this container (id or prefix)"},
                {{"-p", "--pod"}, true, "POD-ID", "only this pod's containers"},
                LabelFlag(),
                NoTruncFlag(),
                OutputFlag()},
      .max_args = 0,
      .run = &ContainerStats,
  });
  commands.push_back({
      .name = "statsp",
      .summary = "Show pod sandboxes' resource usage",
      .flags = {{{"--id"}, true, "ID", "only this pod (id or prefix)"},
                LabelFlag(),
                NoTruncFlag(),
                OutputFlag()},
      .max_args = 0,
      .run = &PodStats,
  });
}

}  // namespace crius::client
