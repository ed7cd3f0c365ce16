#pragma once
// DialInNetns: a TCP connection to 127.0.0.1:<port> inside a pod's network
// namespace, for port-forward. A socket belongs to the network namespace of
// the thread that created it, for its whole life, so the socket is made on
// a short-lived thread of its own that enters the namespace (setns affects
// only the calling thread) and then ends; the daemon's other threads, pool
// threads included, never change namespace.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/os.h"
#include "common/unique_fd.h"

namespace crius::sandbox {

// `netns_path`: the pinned namespace (e.g. /run/netns/<name>); empty dials
// in the daemon's own namespace (host-network pods). Returns the connected,
// blocking socket. Errors: InvalidArgument for a port outside 1..65535;
// Unavailable when nothing listens there (connection refused) or the
// connect does not finish within `timeout`; the errno's code otherwise.
absl::StatusOr<UniqueFd> DialInNetns(Os& os, const std::string& netns_path, int port,
                                     absl::Duration timeout = absl::Seconds(10));

}  // namespace crius::sandbox
