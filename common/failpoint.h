#pragma once
// Crash points: named places in criusd's durable steps where a test can make
// the daemon die, to prove that recovery and kubelet's retries leave
// nothing behind wherever a real crash (OOM kill, power loss, node reboot)
// would strike.
//
// CRIUS_FAILPOINT=<name>[,<name>...] in criusd's environment arms points;
// reaching an armed point SIGKILLs the whole process at once, like the OOM
// killer would: no destructors, no flush, no reply to the caller.
// `criusd --list-failpoints` prints every name.
//
// CRIUS_FAILPOINT_HOLD=<name>[,<name>...] with CRIUS_FAILPOINT_HOLD_DIR=<dir>
// makes the same points hold instead: the thread that reaches one creates
// `<dir>/<name>` and waits until that file is removed. A test sees the file
// appear, checks what the daemon does meanwhile (e.g. that List answers
// while a record write is held), and removes it to let the thread go on.
//
// Compiled into release builds: an unarmed point costs one relaxed atomic
// load and a branch.
//
//   failpoint::Hit(failpoint::Point::kRunPodAfterCniAdd);

#include <atomic>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace crius::failpoint {

// X(enumerator, "name"); the name is what CRIUS_FAILPOINT takes.
#define CRIUS_FAILPOINTS(X)                                                      \
  X(kRunPodAfterIntent, "run-pod-after-intent-record")                           \
  X(kRunPodAfterCgroup, "run-pod-after-cgroup")                                  \
  X(kRunPodAfterNamespaces, "run-pod-after-namespaces")                          \
  X(kRunPodAfterInfraStart, "run-pod-after-infra-start")                         \
  X(kRunPodBeforeCniAdd, "run-pod-before-cni-add")                               \
  X(kRunPodAfterCniAdd, "run-pod-after-cni-add")                                 \
  X(kRunPodBeforeRecord, "run-pod-before-final-record")                          \
  X(kCreateContainerAfterRootfs, "create-container-after-rootfs-mount")          \
  X(kCreateContainerAfterSpec, "create-container-after-spec")                    \
  X(kCreateContainerAfterRuntimeCreate, "create-container-after-runtime-create") \
  X(kCreateContainerBeforeRecord, "create-container-before-record")              \
  X(kStartContainerBeforeRuntimeStart, "start-container-before-runtime-start")   \
  X(kStartContainerAfterRuntimeStart, "start-container-after-runtime-start")     \
  X(kStopContainerAfterKill, "stop-container-after-kill")                        \
  X(kRemoveContainerAfterRuntimeDelete, "remove-container-after-runtime-delete") \
  X(kRemoveContainerBeforeRecordDelete, "remove-container-before-record-delete") \
  X(kStopPodBeforeCniDel, "stop-pod-before-cni-del")                             \
  X(kStopPodAfterCniDel, "stop-pod-after-cni-del")                               \
  X(kRemovePodAfterCgroup, "remove-pod-after-cgroup-removal")                    \
  X(kRemovePodBeforeRecordDelete, "remove-pod-before-record-delete")             \
  X(kPullImageMidLayer, "pull-image-mid-layer")                                  \
  X(kPullImageAfterUnpack, "pull-image-after-unpack")                            \
  X(kPullImageBeforeRecord, "pull-image-before-record")                          \
  X(kStartContainerRecordWrite, "start-container-record-write")                  \
  X(kContainerExitRecordWrite, "container-exit-record-write")

enum class Point : uint32_t {
#define CRIUS_FAILPOINT_ENUM(e, name) e,
  CRIUS_FAILPOINTS(CRIUS_FAILPOINT_ENUM)
#undef CRIUS_FAILPOINT_ENUM
      kCount
};
static_assert(static_cast<uint32_t>(Point::kCount) <= 64, "the armed set is one 64-bit word");

std::string_view Name(Point p);
// Every name, in declaration order.
std::vector<std::string_view> AllNames();

// Arms the points named in `spec` (comma-separated). An unknown name is
// InvalidArgument, so a misspelt point in a test fails loudly instead of
// never firing.
absl::Status Arm(std::string_view spec);
// Arms the points named in `spec` to hold (see above) in `dir`.
absl::Status ArmHold(std::string_view spec, std::string_view dir);
// Arm(getenv("CRIUS_FAILPOINT")) and ArmHold(getenv("CRIUS_FAILPOINT_HOLD"),
// getenv("CRIUS_FAILPOINT_HOLD_DIR")) when they are set.
absl::Status ArmFromEnvironment();
void DisarmAll();

namespace internal {
// Every armed point, killing or holding: the one word the fast path reads.
inline std::atomic<uint64_t> armed{0};
// Reached: dies, or holds if the point is armed to hold.
void Reached(Point p);
}  // namespace internal

inline bool Armed(Point p) {
  return (internal::armed.load(std::memory_order_relaxed) >> static_cast<uint32_t>(p)) & 1;
}

// Dies (or holds) here if `p` is armed.
inline void Hit(Point p) {
  if (Armed(p)) [[unlikely]]
    internal::Reached(p);
}

}  // namespace crius::failpoint
