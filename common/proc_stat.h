#pragma once
// /proc/<pid>/stat, the fields crius needs: the state letter, the parent
// and the start time (which, with the pid, names one process for good).

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace crius {

struct ProcStat {
  char state = '?';        // R, S, D, Z, T, X...
  pid_t ppid = 0;
  uint64_t start_time = 0;  // clock ticks after boot
};

// NotFound when there is no such process.
absl::StatusOr<ProcStat> ReadProcStat(pid_t pid);

}  // namespace crius
