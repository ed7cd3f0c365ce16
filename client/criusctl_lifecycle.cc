// criusctl commands that change state: pods, containers, exec and images.

#include "absl/strings/str_cat.h"
#include "client/criusctl_command.h"

namespace crius::client {
namespace {

namespace v1 = runtime::v1;

// Commands that hand the runtime its own timeout (stop -t, exec --timeout)
// must not be cut short by the RPC deadline: it gets the runtime's timeout
// plus slack for the runtime's own work when that exceeds the global one.
absl::Duration CallTimeoutCovering(const CommandContext& ctx,
                                   int64_t runtime_seconds) {
  absl::Duration global = ctx.session.options().timeout;
  if (runtime_seconds <= 0 || global <= absl::ZeroDuration()) return global;
  return std::max(global, absl::Seconds(runtime_seconds) + absl::Seconds(30));
}

absl::StatusOr<int64_t> SecondsFlag(const CommandContext& ctx,
                                    const std::string& key) {
  if (!ctx.flags.Has(key)) return 0;
  return ParseInt(absl::StrCat("--", key), ctx.flags.Get(key));
}

absl::StatusOr<int> RunPod(CommandContext& ctx) {
  v1::RunPodSandboxRequest request;
  if (absl::Status s =
          ReadJsonConfig(ctx.flags.positional()[0], *request.mutable_config());
      !s.ok()) {
    return s;
  }
  request.set_runtime_handler(ctx.flags.Get("runtime"));
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  // kubelet allows RunPodSandbox four minutes; a shorter global timeout
  // given on purpose still wins.
  absl::Duration timeout = ctx.session.options().timeout;
  if (!ctx.session.options().timeout_set) timeout = absl::Minutes(4);
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->RunPodSandbox(request, timeout));
  ctx.out << response.pod_sandbox_id() << "\n";
  return 0;
}

absl::StatusOr<int> CreateContainer(CommandContext& ctx) {
  const std::vector<std::string>& args = ctx.flags.positional();
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(args[0]);
  if (absl::Status s = ReadJsonConfig(args[1], *request.mutable_config());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ReadJsonConfig(args[2], *request.mutable_sandbox_config());
      !s.ok()) {
    return s;
  }
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->CreateContainer(request));
  ctx.out << response.container_id() << "\n";
  return 0;
}

absl::StatusOr<int> StartContainers(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  int exit_code = 0;
  for (const std::string& id : ctx.flags.positional()) {
    v1::StartContainerRequest request;
    request.set_container_id(id);
    absl::StatusOr<v1::StartContainerResponse> response =
        client->StartContainer(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    ctx.out << id << "\n";
  }
  return exit_code;
}

absl::StatusOr<int> StopContainers(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(seconds, SecondsFlag(ctx, "timeout"));
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  int exit_code = 0;
  for (const std::string& id : ctx.flags.positional()) {
    v1::StopContainerRequest request;
    request.set_container_id(id);
    request.set_timeout(seconds);
    absl::StatusOr<v1::StopContainerResponse> response =
        client->StopContainer(request, CallTimeoutCovering(ctx, seconds));
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    ctx.out << id << "\n";
  }
  return exit_code;
}

// The ids to act on: the arguments, or with --all every object listed.
template <typename ListFn>
absl::StatusOr<std::vector<std::string>> TargetIds(CommandContext& ctx,
                                                   ListFn list_all) {
  if (!ctx.flags.GetBool("all")) return ctx.flags.positional();
  if (!ctx.flags.positional().empty()) {
    return absl::InvalidArgumentError("--all takes no ids");
  }
  return list_all();
}

absl::StatusOr<int> RemoveContainers(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(
      ids, TargetIds(ctx, [&]() -> absl::StatusOr<std::vector<std::string>> {
        CRIUSCTL_ASSIGN_OR_RETURN(list, client->ListContainers({}));
        std::vector<std::string> all;
        for (const v1::Container& c : list.containers()) all.push_back(c.id());
        return all;
      }));
  if (ids.empty()) return absl::InvalidArgumentError("no container ids given");
  bool force = ctx.flags.GetBool("force");
  int exit_code = 0;
  for (const std::string& id : ids) {
    v1::ContainerStatusRequest status_request;
    status_request.set_container_id(id);
    absl::StatusOr<v1::ContainerStatusResponse> status =
        client->ContainerStatus(status_request);
    // CRI removes running containers by force anyway; the check only keeps
    // the tool from doing so by accident, as crictl does.
    if (status.ok() && status->status().state() == v1::CONTAINER_RUNNING) {
      if (!force) {
        ReportItemError(
            ctx,
            absl::FailedPreconditionError(absl::StrCat(
                "container ", id, " is running, stop it first or use -f")),
            exit_code);
        continue;
      }
      v1::StopContainerRequest stop;
      stop.set_container_id(id);
      if (absl::StatusOr<v1::StopContainerResponse> stopped =
              client->StopContainer(stop);
          !stopped.ok()) {
        ReportItemError(ctx, stopped.status(), exit_code);
        continue;
      }
    }
    v1::RemoveContainerRequest request;
    request.set_container_id(id);
    absl::StatusOr<v1::RemoveContainerResponse> response =
        client->RemoveContainer(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    ctx.out << id << "\n";
  }
  return exit_code;
}

absl::StatusOr<int> StopPods(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  int exit_code = 0;
  for (const std::string& id : ctx.flags.positional()) {
    v1::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    absl::StatusOr<v1::StopPodSandboxResponse> response =
        client->StopPodSandbox(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    ctx.out << "Stopped sandbox " << id << "\n";
  }
  return exit_code;
}

absl::StatusOr<int> RemovePods(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(
      ids, TargetIds(ctx, [&]() -> absl::StatusOr<std::vector<std::string>> {
        CRIUSCTL_ASSIGN_OR_RETURN(list, client->ListPodSandbox({}));
        std::vector<std::string> all;
        for (const v1::PodSandbox& pod : list.items()) all.push_back(pod.id());
        return all;
      }));
  if (ids.empty()) return absl::InvalidArgumentError("no pod ids given");
  bool force = ctx.flags.GetBool("force");
  int exit_code = 0;
  for (const std::string& id : ids) {
    if (!force) {
      v1::PodSandboxStatusRequest status_request;
      status_request.set_pod_sandbox_id(id);
      absl::StatusOr<v1::PodSandboxStatusResponse> status =
          client->PodSandboxStatus(status_request);
      if (status.ok() && status->status().state() == v1::SANDBOX_READY) {
        ReportItemError(
            ctx,
            absl::FailedPreconditionError(absl::StrCat(
                "pod sandbox ", id, " is ready, stop it first or use -f")),
            exit_code);
        continue;
      }
    }
    // RemovePodSandbox stops whatever still runs, so -f needs no extra call.
    v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    absl::StatusOr<v1::RemovePodSandboxResponse> response =
        client->RemovePodSandbox(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    ctx.out << "Removed sandbox " << id << "\n";
  }
  return exit_code;
}

}  // namespace

absl::StatusOr<int> ExecSync(CommandContext& ctx) {
  if (ctx.flags.GetBool("interactive") || ctx.flags.GetBool("tty")) {
    return absl::InvalidArgumentError(
        "-s runs the command through ExecSync, which has no stdin or "
        "terminal; drop -s for -i and -t");
  }
  CRIUSCTL_ASSIGN_OR_RETURN(seconds, SecondsFlag(ctx, "timeout"));
  const std::vector<std::string>& args = ctx.flags.positional();
  v1::ExecSyncRequest request;
  request.set_container_id(args[0]);
  for (size_t i = 1; i < args.size(); ++i) request.add_cmd(args[i]);
  request.set_timeout(seconds);
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(
      response, client->ExecSync(request, CallTimeoutCovering(ctx, seconds)));
  ctx.out << response.stdout();
  ctx.err << response.stderr();
  ctx.out.flush();
  ctx.err.flush();
  return response.exit_code();
}

namespace {

absl::StatusOr<int> Pull(CommandContext& ctx) {
  v1::PullImageRequest request;
  request.mutable_image()->set_image(ctx.flags.positional()[0]);
  if (ctx.flags.Has("creds")) {
    std::string creds = ctx.flags.Get("creds");
    size_t colon = creds.find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError("--creds wants USERNAME:PASSWORD");
    }
    request.mutable_auth()->set_username(creds.substr(0, colon));
    request.mutable_auth()->set_password(creds.substr(colon + 1));
  }
  if (ctx.flags.Has("auth")) {
    request.mutable_auth()->set_auth(ctx.flags.Get("auth"));
  }
  if (ctx.flags.Has("pod-config")) {
    if (absl::Status s = ReadJsonConfig(ctx.flags.Get("pod-config"),
                                        *request.mutable_sandbox_config());
        !s.ok()) {
      return s;
    }
  }
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Images());
  // Like kubelet, give a pull no deadline unless the user asked for one:
  // big images on slow registries take longer than any fixed default.
  absl::Duration timeout = ctx.session.options().timeout_set
                               ? ctx.session.options().timeout
                               : absl::InfiniteDuration();
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->PullImage(request, timeout));
  ctx.out << "Image is up to date for " << response.image_ref() << "\n";
  return 0;
}

absl::StatusOr<int> RemoveImages(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Images());
  CRIUSCTL_ASSIGN_OR_RETURN(
      refs, TargetIds(ctx, [&]() -> absl::StatusOr<std::vector<std::string>> {
        CRIUSCTL_ASSIGN_OR_RETURN(list, client->ListImages({}));
        std::vector<std::string> all;
        for (const v1::Image& image : list.images()) all.push_back(image.id());
        return all;
      }));
  if (refs.empty()) return absl::InvalidArgumentError("no images given");
  int exit_code = 0;
  for (const std::string& ref : refs) {
    // Resolve first: CRI reports a missing image as an empty status, and
    // RemoveImage of one succeeds silently, which would hide a typo.
    v1::ImageStatusRequest status_request;
    status_request.mutable_image()->set_image(ref);
    absl::StatusOr<v1::ImageStatusResponse> status =
        client->ImageStatus(status_request);
    if (!status.ok()) {
      ReportItemError(ctx, status.status(), exit_code);
      continue;
    }
    if (!status->has_image()) {
      ReportItemError(
          ctx, absl::NotFoundError(absl::StrCat("no such image \"", ref, "\"")),
          exit_code);
      continue;
    }
    v1::RemoveImageRequest request;
    request.mutable_image()->set_image(ref);
    absl::StatusOr<v1::RemoveImageResponse> response =
        client->RemoveImage(request);
    if (!response.ok()) {
      ReportItemError(ctx, response.status(), exit_code);
      continue;
    }
    const v1::Image& image = status->image();
    if (image.repo_tags().empty()) {
      ctx.out << "Deleted: " << image.id() << "\n";
    }
    for (const std::string& tag : image.repo_tags()) {
      ctx.out << "Deleted: " << tag << "\n";
    }
  }
  return exit_code;
}

FlagSpec All(std::string what) {
  return {{"-a", "--all"}, false, "", "act on every " + what};
}

}  // namespace

void AddLifecycleCommands(std::vector<Command>& commands) {
  commands.push_back({
      .name = "runp",
      .args_usage = "POD-CONFIG.json",
      .summary = "Run a pod sandbox and print its id",
      .flags = {{{"-r", "--runtime"}, true, "HANDLER", "runtime handler"}},
      .min_args = 1,
      .max_args = 1,
      .run = &RunPod,
  });
  commands.push_back({
      .name = "create",
      .args_usage = "POD-ID CONTAINER-CONFIG.json POD-CONFIG.json",
      .summary = "Create a container in a pod and print its id",
      .min_args = 3,
      .max_args = 3,
      .run = &CreateContainer,
  });
  commands.push_back({
      .name = "start",
      .args_usage = "CONTAINER-ID...",
      .summary = "Start created containers",
      .min_args = 1,
      .run = &StartContainers,
  });
  commands.push_back({
      .name = "stop",
      .args_usage = "CONTAINER-ID...",
      .summary = "Stop running containers",
      .flags = {{{"-t", "--timeout"},
                 true,
                 "SECONDS",
                 "seconds to wait before killing (default 0)"}},
      .min_args = 1,
      .run = &StopContainers,
  });
  commands.push_back({
      .name = "rm",
      .args_usage = "CONTAINER-ID...",
      .summary = "Remove containers",
      .flags = {{{"-f", "--force"}, false, "", "stop running ones first"},
                All("container")},
      .run = &RemoveContainers,
  });
  commands.push_back({
      .name = "stopp",
      .args_usage = "POD-ID...",
      .summary = "Stop pod sandboxes",
      .min_args = 1,
      .run = &StopPods,
  });
  commands.push_back({
      .name = "rmp",
      .args_usage = "POD-ID...",
      .summary = "Remove pod sandboxes",
      .flags = {{{"-f", "--force"}, false, "", "remove even if ready"},
                All("pod sandbox")},
      .run = &RemovePods,
  });
  commands.push_back({
      .name = "pull",
      .args_usage = "IMAGE",
      .summary = "Pull an image",
      .flags = {{{"--creds"}, true, "USER:PASSWORD", "registry credentials"},
                {{"--auth"}, true, "BASE64", "base64 of USER:PASSWORD"},
                {{"-p", "--pod-config"},
                 true,
                 "POD-CONFIG.json",
                 "pod sandbox config to pull for"}},
      .min_args = 1,
      .max_args = 1,
      .run = &Pull,
  });
  commands.push_back({
      .name = "rmi",
      .args_usage = "IMAGE...",
      .summary = "Remove images",
      .flags = {All("image")},
      .run = &RemoveImages,
  });
}

}  // namespace crius::client
