// GetContainerEvents: one hub subscription per call, streamed until the
// client goes away or criusd shuts down. See container_events.h for what
// is sent and when.

#include "absl/strings/str_cat.h"
#include "server/container_events.h"
#include <atomic>

#include "server/cri_service.h"

namespace crius::server {
namespace {

// How often a stream with nothing to send looks whether its client left.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(200);

}  // namespace

absl::Status CriService::GetContainerEvents(
    const CallContext& ctx, const runtime::v1::GetEventsRequest&,
    const std::function<bool(const runtime::v1::ContainerEventResponse&)>& send) {
  if (events_ == nullptr) return absl::UnimplementedError("GetContainerEvents: no event hub");
  static std::atomic<uint64_t> next_subscriber{1};
  auto sub = events_->Subscribe(absl::StrCat("#", next_subscriber.fetch_add(1)));
  if (ctx.headers_ready) ctx.headers_ready();
  for (;;) {
    if (ctx.cancelled && ctx.cancelled()) return absl::OkStatus();
    auto event = sub->Next(kCancelPoll);
    if (!event.has_value()) {
      if (sub->closed()) return absl::OkStatus();
      continue;
    }
    // A failed write means the client is gone; the subscription ends with
    // this scope either way.
    if (!send(**event)) return absl::OkStatus();
  }
}

}  // namespace crius::server
