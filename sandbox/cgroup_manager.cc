#include "sandbox/cgroup_manager.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/strings.h"
#include "sandbox/systemd_cgroup.h"

namespace crius::sandbox {
namespace {

class CgroupfsManager final : public CgroupManager {
 public:
  CgroupfsManager(Os& os, CgroupSetup setup) : CgroupManager(std::move(setup)), os_(os) {}

  CgroupDriver driver() const override { return CgroupDriver::kCgroupfs; }

  absl::Status ValidateParent(std::string_view parent) const override {
    return ValidateCgroupPath(parent);
  }

  absl::StatusOr<PodCgroup> CreatePod(const std::string& parent, const CgroupResources&) override {
    // kubelet sizes the pod cgroup itself through cgroupfs.
    return CreatePodCgroup(os_, setup_, parent);
  }

  absl::Status RemovePod(const PodCgroup& cgroup) override { return RemovePodCgroup(os_, cgroup); }

  absl::Status UpdatePod(const PodCgroup& cgroup, const CgroupResources& res) override {
    if (cgroup.path.empty()) {
      return absl::FailedPreconditionError("the pod has no pod-level cgroup (no cgroup_parent)");
    }
    return UpdatePodCgroup(os_, setup_, cgroup.path, res);
  }

  std::string RuntimeCgroupsPath(std::string_view parent, std::string_view name) const override {
    // A leaf of its own under the pod (or the root): runc removes exactly
    // that directory on delete, so no shared parent is left behind.
    absl::string_view p = AbslView(parent);
    while (absl::ConsumeSuffix(&p, "/")) {
    }
    return absl::StrCat(p, "/", kCgroupPrefix, "-", AbslView(name));
  }

  std::string CgroupDir(std::string_view path) const override { return std::string(path); }

  std::vector<std::string> RuntimeFlags() const override { return {}; }

  absl::Status PlaceMonitor(pid_t, std::string_view, std::string_view) override {
    return absl::OkStatus();
  }

 private:
  Os& os_;
};

}  // namespace

std::string_view CgroupDriverName(CgroupDriver driver) {
  return driver == CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
}

std::unique_ptr<CgroupManager> NewCgroupfsManager(Os& os, CgroupSetup setup) {
  return std::make_unique<CgroupfsManager>(os, std::move(setup));
}

absl::StatusOr<std::unique_ptr<CgroupManager>> NewCgroupManager(std::string_view driver, Os& os,
                                                                CgroupSetup setup) {
  if (driver == "systemd") return NewSystemdManager(std::move(setup));
  if (driver == "cgroupfs") return NewCgroupfsManager(os, std::move(setup));
  return absl::InvalidArgumentError(
      absl::StrCat("cgroup manager \"", AbslView(driver), "\" is neither cgroupfs nor systemd"));
}

}  // namespace crius::sandbox
