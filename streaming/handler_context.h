#pragma once
// What every protocol handler of the server needs from it.

#include "absl/time/time.h"
#include "streaming/backend.h"
#include "streaming/session_support.h"

namespace crius::streaming {

struct HandlerContext {
  Backend* backend = nullptr;
  ThreadGroup* threads = nullptr;
  absl::Duration idle_timeout = absl::Hours(4);
  absl::Duration stream_creation_timeout = absl::Seconds(30);
};

}  // namespace crius::streaming
