#include "sandbox/systemd_bus.h"

#include <systemd/sd-bus.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"

namespace crius::sandbox {
namespace {

constexpr char kDest[] = "org.freedesktop.systemd1";
constexpr char kPath[] = "/org/freedesktop/systemd1";
constexpr char kManager[] = "org.freedesktop.systemd1.Manager";
constexpr char kUnit[] = "org.freedesktop.systemd1.Unit";
constexpr char kNoSuchUnit[] = "org.freedesktop.systemd1.NoSuchUnit";
constexpr char kUnitExists[] = "org.freedesktop.systemd1.UnitExists";
// One D-Bus call; systemd answers in milliseconds, but TCG VMs are slow.
constexpr uint64_t kCallTimeoutUsec = 60ull * 1000 * 1000;

// Owns an sd_bus_error and turns it into a Status.
struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
  bool Is(const char* name) const { return sd_bus_error_has_name(&e, name); }
  absl::Status ToStatus(int r, std::string_view what) const {
    std::string msg =
        absl::StrCat(AbslView(what), ": ", e.message != nullptr ? e.message : strerror(-r));
    if (Is(kNoSuchUnit)) return absl::NotFoundError(msg);
    if (Is(kUnitExists)) return absl::AlreadyExistsError(msg);
    if (r == -ECONNRESET || r == -ENOTCONN || r == -ETIMEDOUT) return absl::UnavailableError(msg);
    return absl::InternalError(msg);
  }
};

struct MessageRef {
  sd_bus_message* m = nullptr;
  ~MessageRef() { sd_bus_message_unref(m); }
};

int AppendProperty(sd_bus_message* m, const UnitProperty& p) {
  int r = sd_bus_message_open_container(m, 'r', "sv");
  if (r < 0) return r;
  if ((r = sd_bus_message_append(m, "s", p.name.c_str())) < 0) return r;
  if (const bool* b = std::get_if<bool>(&p.value)) {
    r = sd_bus_message_append(m, "v", "b", static_cast<int>(*b));
  } else if (const uint64_t* t = std::get_if<uint64_t>(&p.value)) {
    r = sd_bus_message_append(m, "v", "t", *t);
  } else if (const std::string* s = std::get_if<std::string>(&p.value)) {
    r = sd_bus_message_append(m, "v", "s", s->c_str());
  } else {
    const auto& pids = std::get<std::vector<uint32_t>>(p.value);
    if ((r = sd_bus_message_open_container(m, 'v', "au")) < 0) return r;
    if ((r = sd_bus_message_append_array(m, 'u', pids.data(), pids.size() * sizeof(uint32_t))) <
        0) {
      return r;
    }
    r = sd_bus_message_close_container(m);
  }
  if (r < 0) return r;
  return sd_bus_message_close_container(m);
}

// Appends an a(sv) array of `properties`.
int AppendProperties(sd_bus_message* m, const std::vector<UnitProperty>& properties) {
  int r = sd_bus_message_open_container(m, 'a', "(sv)");
  for (const UnitProperty& p : properties) {
    if (r >= 0) r = AppendProperty(m, p);
  }
  if (r >= 0) r = sd_bus_message_close_container(m);
  return r;
}

// Polls `done` with a growing pause until it answers or `timeout` passes.
template <typename Check>
absl::Status PollUntil(absl::Duration timeout, std::string_view what, Check done) {
  const absl::Time deadline = absl::Now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    absl::StatusOr<bool> d = done();
    if (!d.ok()) return d.status();
    if (*d) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(AbslView(what), ": not done after ", absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SystemdBus>> SystemdBus::Connect() {
  std::unique_ptr<SystemdBus> bus(new SystemdBus());
  absl::MutexLock l(&bus->mu_);
  RETURN_IF_ERROR(bus->EnsureOpen());
  return bus;
}

SystemdBus::~SystemdBus() {
  absl::MutexLock l(&mu_);
  sd_bus_flush_close_unref(bus_);
}

absl::Status SystemdBus::EnsureOpen() {
  if (bus_ != nullptr && sd_bus_is_open(bus_) > 0) return absl::OkStatus();
  sd_bus_flush_close_unref(bus_);
  bus_ = nullptr;
  int r = sd_bus_open_system(&bus_);
  if (r < 0) {
    bus_ = nullptr;
    return absl::FailedPreconditionError(
        absl::StrCat("connect to the system D-Bus: ", strerror(-r)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SystemdBus::CallManager(const char* method, const std::string& a,
                                                    const std::string* b) {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(EnsureOpen());
  BusError err;
  MessageRef reply;
  int r = b == nullptr ? sd_bus_call_method(bus_, kDest, kPath, kManager, method, &err.e, &reply.m,
                                            "s", a.c_str())
                       : sd_bus_call_method(bus_, kDest, kPath, kManager, method, &err.e, &reply.m,
                                            "ss", a.c_str(), b->c_str());
  if (r < 0) return err.ToStatus(r, absl::StrCat("systemd ", method, " ", a));
  const char* path = nullptr;
  if (sd_bus_message_read(reply.m, "o", &path) < 0 || path == nullptr) return std::string();
  return std::string(path);
}

absl::StatusOr<std::string> SystemdBus::ActiveState(const std::string& name) {
  ASSIGN_OR_RETURN(std::string unit_path, CallManager("GetUnit", name, nullptr));
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(EnsureOpen());
  BusError err;
  char* state = nullptr;
  int r = sd_bus_get_property_string(bus_, kDest, unit_path.c_str(), kUnit, "ActiveState", &err.e,
                                     &state);
  if (r < 0) return err.ToStatus(r, absl::StrCat("systemd ActiveState of ", name));
  std::string out = state;
  free(state);
  return out;
}

absl::Status SystemdBus::StartTransientUnit(const std::string& name,
                                            const std::vector<UnitProperty>& properties,
                                            absl::Duration timeout) {
  {
    absl::MutexLock l(&mu_);
    RETURN_IF_ERROR(EnsureOpen());
    MessageRef m;
    int r =
        sd_bus_message_new_method_call(bus_, &m.m, kDest, kPath, kManager, "StartTransientUnit");
    if (r >= 0) r = sd_bus_message_append(m.m, "ss", name.c_str(), "fail");
    if (r >= 0) r = AppendProperties(m.m, properties);
    if (r >= 0) r = sd_bus_message_append(m.m, "a(sa(sv))", 0);
    if (r < 0) return ErrnoStatus(-r, absl::StrCat("build StartTransientUnit ", name));
    BusError err;
    MessageRef reply;
    r = sd_bus_call(bus_, m.m, kCallTimeoutUsec, &err.e, &reply.m);
    if (r < 0) return err.ToStatus(r, absl::StrCat("systemd StartTransientUnit ", name));
  }
  return PollUntil(timeout, absl::StrCat("start ", name), [&]() -> absl::StatusOr<bool> {
    absl::StatusOr<std::string> state = ActiveState(name);
    if (absl::IsNotFound(state.status())) return false;  // the job has not loaded it yet
    if (!state.ok()) return state.status();
    if (*state == "failed") {
      (void)ResetFailed(name);
      return absl::InternalError(absl::StrCat("systemd unit ", name, " failed to start"));
    }
    return *state == "active";
  });
}

absl::Status SystemdBus::SetUnitProperties(const std::string& name,
                                           const std::vector<UnitProperty>& properties) {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(EnsureOpen());
  MessageRef m;
  int r = sd_bus_message_new_method_call(bus_, &m.m, kDest, kPath, kManager, "SetUnitProperties");
  if (r >= 0) r = sd_bus_message_append(m.m, "sb", name.c_str(), 1);
  if (r >= 0) r = AppendProperties(m.m, properties);
  if (r < 0) return ErrnoStatus(-r, absl::StrCat("build SetUnitProperties ", name));
  BusError err;
  MessageRef reply;
  r = sd_bus_call(bus_, m.m, kCallTimeoutUsec, &err.e, &reply.m);
  if (r < 0) return err.ToStatus(r, absl::StrCat("systemd SetUnitProperties ", name));
  return absl::OkStatus();
}

absl::Status SystemdBus::StopUnit(const std::string& name, absl::Duration timeout) {
  const std::string mode = "replace";
  absl::StatusOr<std::string> job = CallManager("StopUnit", name, &mode);
  if (absl::IsNotFound(job.status())) return absl::OkStatus();
  RETURN_IF_ERROR(job.status());
  return PollUntil(timeout, absl::StrCat("stop ", name), [&]() -> absl::StatusOr<bool> {
    absl::StatusOr<std::string> state = ActiveState(name);
    if (absl::IsNotFound(state.status())) return true;
    if (!state.ok()) return state.status();
    if (*state == "failed") {
      RETURN_IF_ERROR(ResetFailed(name));
      return true;
    }
    return *state == "inactive";
  });
}

absl::Status SystemdBus::ResetFailed(const std::string& name) {
  absl::StatusOr<std::string> r = CallManager("ResetFailedUnit", name, nullptr);
  if (absl::IsNotFound(r.status())) return absl::OkStatus();
  return r.status();
}

}  // namespace crius::sandbox
