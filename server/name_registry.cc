#include "server/name_registry.h"

#include "absl/strings/str_cat.h"

namespace crius::server {

absl::StatusOr<NameRegistry::Reservation> NameRegistry::Reserve(const std::string& name,
                                                                const std::string& id,
                                                                absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  for (;;) {
    auto it = names_.find(name);
    if (it == names_.end()) {
      names_[name] = Entry{id, false};
      return Reservation{Outcome::kReserved, id};
    }
    if (it->second.done) return Reservation{Outcome::kExisting, it->second.id};
    // Someone is creating it right now: wait for that to settle.
    auto settled = [this, &name, pending = it->second.id]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      auto e = names_.find(name);
      return e == names_.end() || e->second.done || e->second.id != pending;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&settled), deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat("name ", name, " is still being created by an earlier request (",
                       it->second.id, ")"));
    }
  }
}

void NameRegistry::Finish(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = names_.find(name);
  if (it != names_.end()) it->second.done = true;
}

void NameRegistry::Release(const std::string& name) {
  absl::MutexLock lock(&mu_);
  names_.erase(name);
}

void NameRegistry::Release(const std::string& name, const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = names_.find(name);
  if (it != names_.end() && it->second.id == id) names_.erase(it);
}

void NameRegistry::Restore(const std::string& name, const std::string& id) {
  absl::MutexLock lock(&mu_);
  names_[name] = Entry{id, true};
}

}  // namespace crius::server
