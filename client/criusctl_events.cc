// criusctl events: like crictl events, follows GetContainerEvents and prints
// each event as JSON until interrupted or the runtime ends the stream.

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/criusctl_command.h"
#include "client/criusctl_format.h"

namespace crius::client {
namespace {

namespace v1 = runtime::v1;

absl::StatusOr<int> Events(CommandContext& ctx) {
  int64_t limit = -1;
  if (ctx.flags.Has("count") && (!absl::SimpleAtoi(ctx.flags.Get("count"), &limit) || limit < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--count wants a positive number, not \"", ctx.flags.Get("count"), "\""));
  }
  CRIUSCTL_ASSIGN_OR_RETURN(client, ctx.session.Runtime());
  // A stream of events has no natural end: no deadline.
  auto call = client->NewContext(absl::InfiniteDuration());
  auto reader = client->runtime_stub().GetContainerEvents(call.get(), v1::GetEventsRequest());
  v1::ContainerEventResponse event;
  int64_t seen = 0;
  while ((limit < 0 || seen < limit) && reader->Read(&event)) {
    CRIUSCTL_ASSIGN_OR_RETURN(json, MessageToJson(event));
    ctx.out << json << std::flush;
    ++seen;
  }
  if (limit > 0 && seen >= limit) {
    call->TryCancel();
    (void)reader->Finish();
    return 0;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status, "GetContainerEvents");
  return 0;
}

}  // namespace

void AddEventsCommand(std::vector<Command>& commands) {
  commands.push_back({
      .name = "events",
      .summary = "Stream the runtime's container events (GetContainerEvents) as JSON",
      .flags = {{{"--count"}, true, "N", "exit after N events (default: follow until interrupted)"}},
      .max_args = 0,
      .run = &Events,
  });
}

}  // namespace crius::client
