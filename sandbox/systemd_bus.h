#pragma once
// A small client of systemd's D-Bus API (org.freedesktop.systemd1.Manager)
// over sd-bus: start a transient slice or scope with properties, stop a
// unit, and wait for either to finish. One connection, used by one caller
// at a time (sd-bus objects are not thread-safe); it is reopened when the
// bus went away (a dbus or systemd restart).

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct sd_bus;

namespace crius::sandbox {

// One property of a transient unit: D-Bus types b, t, s and au.
struct UnitProperty {
  std::string name;
  std::variant<bool, uint64_t, std::string, std::vector<uint32_t>> value;
};

class SystemdBus {
 public:
  // Connects to the system bus. FailedPrecondition when it cannot.
  static absl::StatusOr<std::unique_ptr<SystemdBus>> Connect();
  ~SystemdBus();
  SystemdBus(const SystemdBus&) = delete;
  SystemdBus& operator=(const SystemdBus&) = delete;

  // StartTransientUnit(name, "fail", properties) and waits until the unit
  // is active. AlreadyExists when a unit of that name is already loaded;
  // Internal when it failed; DeadlineExceeded after `timeout`.
  absl::Status StartTransientUnit(const std::string& name,
                                  const std::vector<UnitProperty>& properties,
                                  absl::Duration timeout);

  // StopUnit(name, "replace") and waits until the unit is inactive or gone
  // (a failed unit is reset so it does not stay loaded). A unit that is not
  // loaded is success.
  absl::Status StopUnit(const std::string& name, absl::Duration timeout);

  // SetUnitProperties(name, runtime=true, properties): changes a loaded
  // unit's properties (a slice's MemoryMax, CPUWeight, ...) until the next
  // boot. NotFound when no such unit is loaded.
  absl::Status SetUnitProperties(const std::string& name,
                                 const std::vector<UnitProperty>& properties);

  // The unit's ActiveState ("active", "inactive", "failed", ...); NotFound
  // when no such unit is loaded.
  absl::StatusOr<std::string> ActiveState(const std::string& name);

 private:
  SystemdBus() = default;
  // Opens the connection if there is none (or it closed).
  absl::Status EnsureOpen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls Manager.<method>("ss", a, b) and returns the object path it
  // answers (a job or a unit).
  absl::StatusOr<std::string> CallManager(const char* method, const std::string& a,
                                          const std::string* b);
  absl::Status ResetFailed(const std::string& name);

  absl::Mutex mu_;
  sd_bus* bus_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace crius::sandbox
