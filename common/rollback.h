#pragma once
// A rollback stack for mutating operations: each acquired resource pushes a
// described undo; if the operation does not Commit(), the undos run in
// reverse order when the stack is destroyed. Failures of an undo are logged
// and collected, never thrown, so every later undo still runs.
//
//   Rollback rb("create pod " + id);
//   RETURN_IF_ERROR(MountShm());
//   rb.Push("unmount shm", [&] { return UnmountShm(); });
//   ...
//   rb.Commit();

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/log.h"

namespace crius {

class Rollback {
 public:
  explicit Rollback(std::string what) : what_(std::move(what)) {}
  ~Rollback() { (void)Run(); }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;

  void Push(std::string description, std::function<absl::Status()> undo) {
    undos_.emplace_back(std::move(description), std::move(undo));
  }
  // The operation succeeded: nothing is undone.
  void Commit() { undos_.clear(); }

  // Runs the undos now (newest first) and returns the first failure; the
  // failures are also logged. Safe to call more than once.
  absl::Status Run() {
    absl::Status first;
    while (!undos_.empty()) {
      auto [description, undo] = std::move(undos_.back());
      undos_.pop_back();
      absl::Status s = undo();
      if (!s.ok()) {
        CRIUS_LOG(kWarn) << "rollback of " << what_ << ": " << description << " failed: " << s;
        if (first.ok()) first = s;
      }
    }
    return first;
  }

 private:
  std::string what_;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> undos_;
};

}  // namespace crius
