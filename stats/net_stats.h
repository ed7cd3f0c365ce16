#pragma once
// Per-interface network counters of a pod, read inside the pod's network
// namespace without spawning anything: one worker thread setns()s into the
// pinned netns (its fd is cached), reads /proc/thread-self/net/dev, and
// returns to the host namespace. Only that thread ever changes namespace,
// so no other thread of the daemon is affected.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crius::stats {

struct InterfaceStats {
  std::string name;  // "eth0"
  uint64_t rx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_dropped = 0;
};

struct NetStats {
  int64_t timestamp_ns = 0;  // wall clock when read
  std::vector<InterfaceStats> interfaces;  // in the file's order, "lo" excluded
};

// Parses the text of /proc/net/dev. "lo" is left out (kubelet and cAdvisor
// report only real interfaces). InvalidArgument on a malformed line.
absl::StatusOr<std::vector<InterfaceStats>> ParseNetDev(std::string_view text);

class NetStatsReader {
 public:
  // Starts the worker thread. Internal error if the host netns cannot be
  // opened (the worker must be able to come back to it).
  static absl::StatusOr<std::unique_ptr<NetStatsReader>> Create();
  ~NetStatsReader();
  NetStatsReader(const NetStatsReader&) = delete;
  NetStatsReader& operator=(const NetStatsReader&) = delete;

  // Reads each netns path (e.g. /run/netns/<name>) in one round trip to the
  // worker; the result has one entry per path, in order. An empty path
  // (host-network pod) gives an empty NetStats; a netns that cannot be
  // opened or entered gives its error in its slot.
  std::vector<absl::StatusOr<NetStats>> Read(const std::vector<std::string>& netns_paths);
  // Drops the cached fd of a netns (call when a pod is removed).
  void Forget(const std::string& netns_path);
  // Drops every cached fd whose path is not in `netns_paths` (after a full
  // list: what is not listed is gone). A cached fd keeps its namespace
  // alive, so fds unused for a minute are closed by the worker as well.
  void RetainOnly(const std::set<std::string>& netns_paths);

  class Impl;

 private:
  explicit NetStatsReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crius::stats
