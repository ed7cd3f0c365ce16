#pragma once
// The Stream* RPCs (pods, containers, images) send what the matching List
// would answer, in batches: each message stays far below the gRPC size
// limit however many items there are, and every item goes out exactly once.

#include <functional>

#include "absl/status/status.h"

namespace crius::server {

inline constexpr int kStreamBatch = 256;

// Calls `add(item, batch)` (which may move from a non-const item) for each element of `items` that `keep(item)`
// accepts and hands each full batch, then the last partial one, to `send`.
// CANCELLED when `send` reports the client gone.
template <typename Response, typename Items, typename Keep, typename Add>
absl::Status StreamInBatches(Items&& items, Keep keep, Add add,
                             const std::function<bool(const Response&)>& send) {
  Response batch;
  int in_batch = 0;
  for (auto&& item : items) {
    if (!keep(item)) continue;
    add(item, batch);
    if (++in_batch == kStreamBatch) {
      if (!send(batch)) return absl::CancelledError("client went away");
      batch.Clear();
      in_batch = 0;
    }
  }
  if (in_batch > 0 && !send(batch)) return absl::CancelledError("client went away");
  return absl::OkStatus();
}

}  // namespace crius::server
