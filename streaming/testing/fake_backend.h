#pragma once
// A Backend without containers, for the streaming tests and the interop
// test server. Exec understands a few commands:
//   ["echo", args...]  writes the args joined by spaces (no newline)
//   ["cat"]            copies stdin to stdout until EOF
//   ["exit", "N"]      returns exit code N
//   ["tty"]            writes "/dev/pts/0\n" when the request has tty
//   ["size"]           waits for one resize and writes "H W\n"
//   ["sleep", "S"]     sleeps S seconds unless cancelled
// Attach behaves like cat; DialPod connects to 127.0.0.1:port on the host.

#include <atomic>

#include "streaming/backend.h"

namespace crius::streaming::testing {

class FakeBackend : public Backend {
 public:
  absl::StatusOr<int> Exec(const runtime::v1::ExecRequest& req, SessionIo io,
                           ResizeQueue* resize, const Cancellation& cancel) override;
  absl::Status Attach(const runtime::v1::AttachRequest& req, SessionIo io, ResizeQueue* resize,
                      const Cancellation& cancel) override;
  absl::StatusOr<UniqueFd> DialPod(const std::string& pod_sandbox_id, int32_t port) override;

  // Calls that returned because they were cancelled, and calls running now.
  int cancelled_calls() const { return cancelled_.load(); }
  int running_calls() const { return running_.load(); }

 private:
  std::atomic<int> cancelled_{0};
  std::atomic<int> running_{0};
};

}  // namespace crius::streaming::testing
