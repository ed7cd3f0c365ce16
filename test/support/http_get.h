#pragma once
// A minimal HTTP/1.0 GET over loopback for tests that read what criusd
// serves over HTTP (metrics). Returns the whole response, headers included.

#include <string>

#include "absl/status/statusor.h"

namespace crius::testing {

absl::StatusOr<std::string> HttpGet(const std::string& host, int port, const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then
// closed): for daemons that must be told a fixed port.
absl::StatusOr<int> PickFreePort();

}  // namespace crius::testing
