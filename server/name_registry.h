#pragma once
// Name reservations for pods (and later containers): kubelet retries a
// create that timed out with the same name, so a name maps to the id of the
// object being created for it. A retry that arrives while the first attempt
// is still running waits for it instead of failing with "name is reserved";
// one that arrives after it finished gets the same id.

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crius::server {

class NameRegistry {
 public:
  enum class Outcome {
    kReserved,  // the caller owns the name and must Finish or Release it
    kExisting,  // a finished object holds the name: its id is returned
  };
  struct Reservation {
    Outcome outcome;
    std::string id;
  };

  // Reserves `name` for `id`. When another call is creating an object under
  // that name, waits (until `deadline`) for it to finish: then its id is
  // returned as kExisting, or, if it failed, the name is reserved for us.
  // DeadlineExceeded when the wait runs out.
  absl::StatusOr<Reservation> Reserve(const std::string& name, const std::string& id,
                                      absl::Time deadline);
  // The creation under `name` succeeded: later Reserve calls get its id.
  void Finish(const std::string& name);
  // The creation failed, or the object was removed: the name is free.
  void Release(const std::string& name);
  // Same, but only while `name` still belongs to `id`: removing an old
  // object (one kept after a failed create, or recovered) must not free the
  // name a newer object of the same name holds.
  void Release(const std::string& name, const std::string& id);
  // Re-registers a finished object at startup.
  void Restore(const std::string& name, const std::string& id);

 private:
  struct Entry {
    std::string id;
    bool done = false;
  };
  absl::Mutex mu_;
  std::map<std::string, Entry> names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crius::server
