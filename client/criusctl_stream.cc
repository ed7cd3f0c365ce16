// criusctl commands that stream: exec (without -s), attach, port-forward.
// The RPC only answers a URL; the bytes then go over SPDY or WebSocket
// (--transport; stream_client.h).

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/criusctl_command.h"
#include "client/stream_client.h"

namespace crius::client {
namespace {

namespace v1 = runtime::v1;

absl::StatusOr<StreamTransport> TransportOf(const CommandContext& ctx) {
  return ParseStreamTransport(ctx.flags.Get("transport", "spdy"));
}

absl::StatusOr<RemoteCommandIo> IoFor(CommandContext& ctx, bool in, bool tty) {
  absl::StatusOr<StreamTransport> transport = TransportOf(ctx);
  if (!transport.ok()) return transport.status();
  return RemoteCommandIo{.transport = *transport,
                         .stdin = in,
                         .tty = tty,
                         .in_fd = ctx.session.options().stdin_fd,
                         .out = &ctx.out,
                         .err = &ctx.err};
}

absl::StatusOr<int> Exec(CommandContext& ctx) {
  if (ctx.flags.GetBool("sync")) return ExecSync(ctx);
  bool in = ctx.flags.GetBool("interactive");
  bool tty = ctx.flags.GetBool("tty");
  CRIUSCTL_ASSIGN_OR_RETURN(io, IoFor(ctx, in, tty));
  const std::vector<std::string>& args = ctx.flags.positional();
  v1::ExecRequest request;
  request.set_container_id(args[0]);
  for (size_t i = 1; i < args.size(); ++i) request.add_cmd(args[i]);
  request.set_stdin(in);
  request.set_stdout(true);
  request.set_stderr(!tty);  // a terminal has one output stream
  request.set_tty(tty);
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->Exec(request));
  return RunRemoteCommand(response.url(), io);
}

absl::StatusOr<int> Attach(CommandContext& ctx) {
  bool in = ctx.flags.GetBool("interactive");
  bool tty = ctx.flags.GetBool("tty");
  CRIUSCTL_ASSIGN_OR_RETURN(io, IoFor(ctx, in, tty));
  v1::AttachRequest request;
  request.set_container_id(ctx.flags.positional()[0]);
  request.set_stdin(in);
  request.set_stdout(true);
  request.set_stderr(!tty);
  request.set_tty(tty);
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->Attach(request));
  return RunRemoteCommand(response.url(), io);
}

absl::StatusOr<int> PortForward(CommandContext& ctx) {
  CRIUSCTL_ASSIGN_OR_RETURN(transport, TransportOf(ctx));
  const std::string& ports = ctx.flags.positional()[1];
  size_t colon = ports.find(':');
  int local = 0, remote = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(ports.substr(0, colon), &local) ||
      !absl::SimpleAtoi(ports.substr(colon + 1), &remote) || local <= 0 ||
      local > 65535 || remote <= 0 || remote > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("want LOCAL:REMOTE ports, got \"", ports, "\""));
  }
  v1::PortForwardRequest request;
  request.set_pod_sandbox_id(ctx.flags.positional()[0]);
  request.add_port(remote);
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  CRIUSCTL_ASSIGN_OR_RETURN(response, client->PortForward(request));
  PortTunnelTarget target;
  target.transport = transport;
  target.url = response.url();
  target.remote_port = remote;
  // A WebSocket session carries one connection and a URL serves one
  // session: every further connection asks the runtime for a fresh URL.
  target.next_url = [client, request]() -> absl::StatusOr<std::string> {
    absl::StatusOr<runtime::v1::PortForwardResponse> again = client->PortForward(request);
    if (!again.ok()) return again.status();
    return again->url();
  };
  ctx.err << "Forwarding from 127.0.0.1:" << local << " -> " << remote << "\n";
  if (absl::Status s = RunPortForward(std::move(target), local, ctx.err); !s.ok()) {
    return s;
  }
  return 0;
}

FlagSpec TransportFlag() {
  return {{"--transport"}, true, "spdy|websocket", "streaming protocol"};
}

}  // namespace

void AddStreamCommands(std::vector<Command>& commands) {
  commands.push_back({
      .name = "exec",
      .args_usage = "CONTAINER-ID COMMAND [ARG...]",
      .summary = "Run a command in a container and exit with its code",
      .flags = {{{"--timeout"}, true, "SECONDS", "time limit (with -s)"},
                {{"-s", "--sync"}, false, "", "run through ExecSync"},
                {{"-i", "--interactive"}, false, "", "send stdin"},
                {{"-t", "--tty"}, false, "", "allocate a terminal"},
                TransportFlag()},
      .min_args = 2,
      .stop_at_positional = true,
      .run = &Exec,
  });
  commands.push_back({
      .name = "attach",
      .args_usage = "CONTAINER-ID",
      .summary = "Attach to a running container",
      .flags = {{{"-i", "--interactive"}, false, "", "send stdin"},
                {{"-t", "--tty"}, false, "", "the container has a terminal"},
                TransportFlag()},
      .min_args = 1,
      .max_args = 1,
      .run = &Attach,
  });
  commands.push_back({
      .name = "port-forward",
      .args_usage = "POD-ID LOCAL-PORT:REMOTE-PORT",
      .summary = "Forward a local port to a port in a pod",
      .flags = {TransportFlag()},
      .min_args = 2,
      .max_args = 2,
      .run = &PortForward,
  });
}

}  // namespace crius::client
