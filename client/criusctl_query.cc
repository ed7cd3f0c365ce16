// Read-only criusctl commands: version, info, pods, ps, images and the
// inspect family.

#include <algorithm>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/criusctl_command.h"
#include "client/criusctl_format.h"

namespace crius::client {
namespace {

namespace v1 = runtime::v1;

absl::StatusOr<int> Version(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  // kubelet and crictl announce themselves with this API version string.
  v1::VersionRequest request;
  request.set_version("0.1.0");
  CRIUSCTL_ASSIGN_OR_RETURN(version, client->Version(request));
  ctx.out << "Version:  " << version.version() << "\n"
          << "RuntimeName:  " << version.runtime_name() << "\n"
          << "RuntimeVersion:  " << version.runtime_version() << "\n"
          << "RuntimeApiVersion:  " << version.runtime_api_version() << "\n";
  return 0;
}

absl::StatusOr<int> Info(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(status, client->Status(/*verbose=*/true));
  CRIUSCTL_ASSIGN_OR_RETURN(json,
                            StatusWithInfoJson(status.status(), status.info()));
  ctx.out << json << "\n";
  return 0;
}

absl::Status AddLabelSelector(
    const std::vector<std::string>& labels,
    google::protobuf::Map<std::string, std::string>& selector) {
  for (const std::string& label : labels) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.first.empty() || label.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label wants key=value, not \"", label, "\""));
    }
    selector[kv.first] = kv.second;
  }
  return absl::OkStatus();
}

// --name and --namespace are regular expressions matched anywhere in the
// value, as in crictl.
absl::StatusOr<std::optional<std::regex>> OptionalRegex(
    const CommandContext& ctx, const std::string& flag) {
  if (!ctx.flags.Has(flag)) return std::nullopt;
  std::string pattern = ctx.flags.Get(flag);
  try {
    return std::optional<std::regex>(std::regex(pattern));
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " \"", pattern, "\": ", e.what()));
  }
}

bool Matches(const std::optional<std::regex>& re, const std::string& value) {
  return !re.has_value() || std::regex_search(value, *re);
}

std::string SandboxStateName(v1::PodSandboxState state) {
  return state == v1::SANDBOX_READY ? "Ready" : "NotReady";
}

absl::StatusOr<int> Pods(CommandContext& ctx) {
  v1::ListPodSandboxRequest request;
  v1::PodSandboxFilter& filter = *request.mutable_filter();
  filter.set_id(ctx.flags.Get("id"));
  if (ctx.flags.Has("state")) {
    std::string state = absl::AsciiStrToLower(ctx.flags.Get("state"));
    if (state == "ready") {
      filter.mutable_state()->set_state(v1::SANDBOX_READY);
    } else if (state == "notready") {
      filter.mutable_state()->set_state(v1::SANDBOX_NOTREADY);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--state wants ready or notready, not \"", state, "\""));
    }
  }
  if (absl::Status s = AddLabelSelector(ctx.flags.GetAll("label"),
                                        *filter.mutable_label_selector());
      !s.ok()) {
    return s;
  }
  CRIUSCTL_ASSIGN_OR_RETURN(name_re, OptionalRegex(ctx, "name"));
  CRIUSCTL_ASSIGN_OR_RETURN(namespace_re, OptionalRegex(ctx, "namespace"));

  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->ListPodSandbox(request));
  std::vector<v1::PodSandbox> pods;
  for (const v1::PodSandbox& pod : response.items()) {
    if (Matches(name_re, pod.metadata().name()) &&
        Matches(namespace_re, pod.metadata().namespace_())) {
      pods.push_back(pod);
    }
  }
  // Newest first, as crictl lists them.
  std::stable_sort(pods.begin(), pods.end(), [](const auto& a, const auto& b) {
    return a.created_at() > b.created_at();
  });

  if (ctx.flags.Get("output") == "json") {
    v1::ListPodSandboxResponse filtered;
    for (const v1::PodSandbox& pod : pods) *filtered.add_items() = pod;
    CRIUSCTL_ASSIGN_OR_RETURN(json, MessageToJson(filtered));
    ctx.out << json;
    return 0;
  }
  if (ctx.flags.GetBool("quiet")) {
    for (const v1::PodSandbox& pod : pods) ctx.out << pod.id() << "\n";
    return 0;
  }
  bool no_trunc = ctx.flags.GetBool("no-trunc");
  absl::Time now = absl::Now();
  Table table({"POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT",
               "RUNTIME"});
  for (const v1::PodSandbox& pod : pods) {
    table.AddRow(
        {no_trunc ? pod.id() : TruncateId(pod.id()),
         CreatedAgo(pod.created_at(), now), SandboxStateName(pod.state()),
         pod.metadata().name(), pod.metadata().namespace_(),
         absl::StrCat(pod.metadata().attempt()),
         pod.runtime_handler().empty() ? "(default)" : pod.runtime_handler()});
  }
  table.Print(ctx.out);
  return 0;
}

std::string ContainerStateName(v1::ContainerState state) {
  switch (state) {
    case v1::CONTAINER_CREATED:
      return "Created";
    case v1::CONTAINER_RUNNING:
      return "Running";
    case v1::CONTAINER_EXITED:
      return "Exited";
    default:
      return "Unknown";
  }
}

absl::StatusOr<v1::ContainerState> ParseContainerState(std::string state) {
  state = absl::AsciiStrToLower(state);
  if (state == "created") return v1::CONTAINER_CREATED;
  if (state == "running") return v1::CONTAINER_RUNNING;
  if (state == "exited") return v1::CONTAINER_EXITED;
  if (state == "unknown") return v1::CONTAINER_UNKNOWN;
  return absl::InvalidArgumentError(
      absl::StrCat("--state wants created, running, exited or unknown, not \"",
                   state, "\""));
}

absl::StatusOr<int> Ps(CommandContext& ctx) {
  v1::ListContainersRequest request;
  v1::ContainerFilter& filter = *request.mutable_filter();
  filter.set_id(ctx.flags.Get("id"));
  filter.set_pod_sandbox_id(ctx.flags.Get("pod"));
  if (ctx.flags.Has("state")) {
    CRIUSCTL_ASSIGN_OR_RETURN(state,
                              ParseContainerState(ctx.flags.Get("state")));
    filter.mutable_state()->set_state(state);
  } else if (!ctx.flags.GetBool("all")) {
    // Without -a only running containers show, as in crictl and docker.
    filter.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  }
  if (absl::Status s = AddLabelSelector(ctx.flags.GetAll("label"),
                                        *filter.mutable_label_selector());
      !s.ok()) {
    return s;
  }
  CRIUSCTL_ASSIGN_OR_RETURN(name_re, OptionalRegex(ctx, "name"));

  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->ListContainers(request));
  std::vector<v1::Container> containers;
  for (const v1::Container& c : response.containers()) {
    if (Matches(name_re, c.metadata().name())) containers.push_back(c);
  }
  std::stable_sort(containers.begin(), containers.end(),
                   [](const auto& a, const auto& b) {
                     return a.created_at() > b.created_at();
                   });

  if (ctx.flags.Get("output") == "json") {
    v1::ListContainersResponse filtered;
    for (const v1::Container& c : containers) *filtered.add_containers() = c;
    CRIUSCTL_ASSIGN_OR_RETURN(json, MessageToJson(filtered));
    ctx.out << json;
    return 0;
  }
  if (ctx.flags.GetBool("quiet")) {
    for (const v1::Container& c : containers) ctx.out << c.id() << "\n";
    return 0;
  }
  bool no_trunc = ctx.flags.GetBool("no-trunc");
  absl::Time now = absl::Now();
  Table table(
      {"CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"});
  for (const v1::Container& c : containers) {
    std::string image = c.image().image();
    // An image named by its digest alone is shortened like any other id.
    if (!no_trunc && image.rfind("sha256:", 0) == 0) image = TruncateId(image);
    table.AddRow(
        {no_trunc ? c.id() : TruncateId(c.id()), image,
         CreatedAgo(c.created_at(), now), ContainerStateName(c.state()),
         c.metadata().name(), absl::StrCat(c.metadata().attempt()),
         no_trunc ? c.pod_sandbox_id() : TruncateId(c.pod_sandbox_id())});
  }
  table.Print(ctx.out);
  return 0;
}

// Splits "registry:5000/app:1.0" into ("registry:5000/app", "1.0"); the tag
// is what follows the last ':' after the last '/'.
std::pair<std::string, std::string> SplitRepoTag(const std::string& ref) {
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  if (colon == std::string::npos ||
      (slash != std::string::npos && colon < slash)) {
    return {ref, "<none>"};
  }
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

absl::StatusOr<int> Images(CommandContext& ctx) {
  v1::ListImagesRequest request;
  if (!ctx.flags.positional().empty()) {
    request.mutable_filter()->mutable_image()->set_image(
        ctx.flags.positional()[0]);
  }
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Images());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->ListImages(request));
  std::vector<v1::Image> images(response.images().begin(),
                                response.images().end());
  auto first_tag = [](const v1::Image& image) {
    return image.repo_tags().empty() ? std::string() : image.repo_tags(0);
  };
  std::stable_sort(images.begin(), images.end(),
                   [&](const auto& a, const auto& b) {
                     return first_tag(a) < first_tag(b);
                   });

  if (ctx.flags.Get("output") == "json") {
    v1::ListImagesResponse sorted;
    for (const v1::Image& image : images) *sorted.add_images() = image;
    CRIUSCTL_ASSIGN_OR_RETURN(json, MessageToJson(sorted));
    ctx.out << json;
    return 0;
  }
  if (ctx.flags.GetBool("quiet")) {
    for (const v1::Image& image : images) ctx.out << image.id() << "\n";
    return 0;
  }
  bool no_trunc = ctx.flags.GetBool("no-trunc");
  Table table({"IMAGE", "TAG", "IMAGE ID", "SIZE"});
  for (const v1::Image& image : images) {
    std::vector<std::pair<std::string, std::string>> rows;
    for (const std::string& tag : image.repo_tags()) {
      rows.push_back(SplitRepoTag(tag));
    }
    if (rows.empty()) {
      // An untagged image still shows, under the repository of its digest.
      std::string repo = "<none>";
      if (!image.repo_digests().empty()) {
        const std::string& digest = image.repo_digests(0);
        repo = digest.substr(0, digest.find('@'));
      }
      rows.emplace_back(repo, "<none>");
    }
    std::string id = no_trunc ? image.id() : TruncateId(image.id());
    for (auto& [repo, tag] : rows) {
      table.AddRow({repo, tag, id, HumanSize(image.size())});
    }
  }
  table.Print(ctx.out);
  return 0;
}

absl::StatusOr<int> InspectContainers(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  int exit_code = 0;
  for (const std::string& id : ctx.flags.positional()) {
    v1::ContainerStatusRequest request;
    request.set_container_id(id);
    request.set_verbose(true);
    absl::StatusOr<v1::ContainerStatusResponse> response =
        client->ContainerStatus(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    CRIUSCTL_ASSIGN_OR_RETURN(
        json, StatusWithInfoJson(response->status(), response->info()));
    ctx.out << json << "\n";
  }
  return exit_code;
}

absl::StatusOr<int> InspectPods(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  int exit_code = 0;
  for (const std::string& id : ctx.flags.positional()) {
    v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(id);
    request.set_verbose(true);
    absl::StatusOr<v1::PodSandboxStatusResponse> response =
        client->PodSandboxStatus(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    CRIUSCTL_ASSIGN_OR_RETURN(
        json, StatusWithInfoJson(response->status(), response->info()));
    ctx.out << json << "\n";
  }
  return exit_code;
}

absl::StatusOr<int> InspectImages(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Images());
  int exit_code = 0;
  for (const std::string& image : ctx.flags.positional()) {
    v1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    request.set_verbose(true);
    absl::StatusOr<v1::ImageStatusResponse> response =
        client->ImageStatus(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    // CRI reports a missing image as an empty answer, not as an error.
    if (!response->has_image()) {
      ReportItemError(
          ctx,
          absl::NotFoundError(absl::StrCat("no such image \"", image, "\"")),
          exit_code);
      continue;
    }
    CRIUSCTL_ASSIGN_OR_RETURN(
        json, StatusWithInfoJson(response->image(), response->info()));
    ctx.out << json << "\n";
  }
  return exit_code;
}

FlagSpec Quiet(std::string what) {
  return {{"-q", "--quiet"}, false, "", "print only " + what};
}
FlagSpec NoTrunc() { return {{"--no-trunc"}, false, "", "do not shorten ids"}; }
FlagSpec Output() {
  return {{"-o", "--output"}, true, "FORMAT", "table (default) or json"};
}
FlagSpec Label() {
  return {{"--label"}, true, "KEY=VALUE", "only with this label (repeatable)"};
}

}  // namespace

void AddQueryCommands(std::vector<Command>& commands) {
  commands.push_back({
      .name = "version",
      .summary = "Show the runtime's name and version",
      .max_args = 0,
      .run = &Version,
  });
  commands.push_back({
      .name = "info",
      .summary = "Show the runtime's status and configuration as JSON",
      .max_args = 0,
      .run = &Info,
  });
  commands.push_back({
      .name = "pods",
      .summary = "List pod sandboxes",
      .flags = {{{"--id"}, true, "ID", "only this pod (id or prefix)"},
                {{"--name"}, true, "REGEX", "only pods whose name matches"},
                {{"--namespace"}, true, "REGEX", "only pods in matching ns"},
                {{"-s", "--state"}, true, "STATE", "ready or notready"},
                Label(),
                Quiet("pod ids"),
                NoTrunc(),
                Output()},
      .max_args = 0,
      .run = &Pods,
  });
  commands.push_back({
      .name = "ps",
      .summary = "List containers (running ones unless -a or --state)",
      .flags = {{{"-a", "--all"}, false, "", "show containers in any state"},
                {{"--id"}, true, "ID", "only this container"},
                {{"-p", "--pod"}, true, "POD-ID", "only this pod's containers"},
                {{"--name"}, true, "REGEX", "only matching container names"},
                {{"-s", "--state"},
                 true,
                 "STATE",
                 "created, running, exited or unknown"},
                Label(),
                Quiet("container ids"),
                NoTrunc(),
                Output()},
      .max_args = 0,
      .run = &Ps,
  });
  commands.push_back({
      .name = "images",
      .args_usage = "[IMAGE]",
      .summary = "List images",
      .flags = {Quiet("image ids"), NoTrunc(), Output()},
      .max_args = 1,
      .run = &Images,
  });
  commands.push_back({
      .name = "inspect",
      .args_usage = "CONTAINER-ID...",
      .summary = "Show containers' verbose status as JSON",
      .min_args = 1,
      .run = &InspectContainers,
  });
  commands.push_back({
      .name = "inspectp",
      .args_usage = "POD-ID...",
      .summary = "Show pod sandboxes' verbose status as JSON",
      .min_args = 1,
      .run = &InspectPods,
  });
  commands.push_back({
      .name = "inspecti",
      .args_usage = "IMAGE...",
      .summary = "Show images' verbose status as JSON",
      .min_args = 1,
      .run = &InspectImages,
  });
}

}  // namespace crius::client
