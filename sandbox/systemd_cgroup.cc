#include "sandbox/systemd_cgroup.h"

#include <limits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "sandbox/systemd_bus.h"

namespace crius::sandbox {
namespace {

constexpr char kSliceSuffix[] = ".slice";
// Where scopes go when a container has no pod slice (as in runc).
constexpr char kDefaultSlice[] = "system.slice";
// Starting or stopping a slice or scope takes milliseconds; the margin is
// for loaded machines and TCG VMs.
constexpr absl::Duration kUnitTimeout = absl::Seconds(60);

bool UnitChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '.' || c == '-' || c == '\\';
}

absl::Status BadSlice(std::string_view slice, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("systemd slice \"", AbslView(slice), "\": ", AbslView(why)));
}

class SystemdCgroupManager final : public CgroupManager {
 public:
  SystemdCgroupManager(CgroupSetup setup, std::unique_ptr<SystemdBus> bus)
      : CgroupManager(std::move(setup)), bus_(std::move(bus)) {}

  CgroupDriver driver() const override { return CgroupDriver::kSystemd; }

  absl::Status ValidateParent(std::string_view parent) const override {
    if (parent.find('/') != std::string_view::npos || !absl::EndsWith(AbslView(parent), ".slice")) {
      return absl::InvalidArgumentError(
          absl::StrCat("cgroup parent \"", AbslView(parent),
                       "\" is not a systemd slice (\"*.slice\"), and criusd uses the systemd "
                       "cgroup manager (runtime.cgroup_manager)"));
    }
    return ValidateSliceName(parent);
  }

  absl::StatusOr<PodCgroup> CreatePod(const std::string& parent,
                                      const CgroupResources& res) override {
    RETURN_IF_ERROR(ValidateParent(parent));
    ASSIGN_OR_RETURN(std::string dir, ExpandSlice(parent));
    PodCgroup cg;
    cg.path = dir;
    std::vector<UnitProperty> props = {
        {"Description", absl::StrCat("crius pod slice ", parent)},
        {"CollectMode", std::string("inactive-or-failed")},
    };
    AddResources(res, &props);
    absl::Status s = bus_->StartTransientUnit(parent, props, kUnitTimeout);
    if (absl::IsAlreadyExists(s)) {
      // kubelet made (and sized) it: it is kubelet's to remove.
      return cg;
    }
    RETURN_IF_ERROR(Annotate(s, absl::StrCat("create pod slice ", parent)));
    cg.unit = parent;
    return cg;
  }

  // Sets the slice's properties, so systemd writes the files and keeps the
  // values (a daemon-reload does not undo them). Under systemd the slice is
  // the pod's whether crius or kubelet started it.
  absl::Status UpdatePod(const PodCgroup& cg, const CgroupResources& res) override {
    if (cg.path.empty()) {
      return absl::FailedPreconditionError("the pod has no pod-level cgroup (no cgroup_parent)");
    }
    const std::string slice = cg.unit.empty() ? cg.path.substr(cg.path.rfind('/') + 1) : cg.unit;
    // systemd applies what it can and only logs what the kernel refuses, so
    // the refusal that matters is checked here.
    RETURN_IF_ERROR(CheckMemoryLimit(setup_, cg.path, res.memory_limit_bytes));
    std::vector<UnitProperty> props;
    AddResources(res, &props);
    if (props.empty()) return absl::OkStatus();
    absl::Status s = bus_->SetUnitProperties(slice, props);
    if (absl::IsNotFound(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the pod slice ", slice, " is not loaded: ", s.message()));
    }
    return Annotate(s, absl::StrCat("set the resources of pod slice ", slice));
  }

  absl::Status RemovePod(const PodCgroup& cg) override {
    if (cg.unit.empty()) return absl::OkStatus();
    return Annotate(bus_->StopUnit(cg.unit, kUnitTimeout),
                    absl::StrCat("remove pod slice ", cg.unit));
  }

  std::string RuntimeCgroupsPath(std::string_view parent, std::string_view name) const override {
    return absl::StrCat(parent.empty() ? absl::string_view(kDefaultSlice) : AbslView(parent), ":",
                        kCgroupPrefix, ":", AbslView(name));
  }

  std::string CgroupDir(std::string_view path) const override { return SystemdCgroupDir(path); }

  std::vector<std::string> RuntimeFlags() const override { return {"--systemd-cgroup"}; }

  absl::Status PlaceMonitor(pid_t pid, std::string_view container_id,
                            std::string_view parent) override {
    const std::string unit =
        absl::StrCat(kCgroupPrefix, "-conmon-", AbslView(container_id), ".scope");
    std::vector<UnitProperty> props = {
        {"Description", absl::StrCat("crius conmon of container ", AbslView(container_id))},
        {"Slice", std::string(parent.empty() ? std::string_view(kDefaultSlice) : parent)},
        {"PIDs", std::vector<uint32_t>{static_cast<uint32_t>(pid)}},
        {"CollectMode", std::string("inactive-or-failed")},
        {"Delegate", true},
    };
    return Annotate(bus_->StartTransientUnit(unit, props, kUnitTimeout),
                    absl::StrCat("move conmon into ", unit));
  }

 private:
  void AddResources(const CgroupResources& res, std::vector<UnitProperty>* props) const {
    const bool v2 = setup_.layout == CgroupLayout::kV2;
    if (res.memory_limit_bytes > 0) {
      props->push_back(
          {v2 ? "MemoryMax" : "MemoryLimit", static_cast<uint64_t>(res.memory_limit_bytes)});
    }
    if (res.cpu_quota == kUnlimitedCpuQuota) {
      props->push_back({"CPUQuotaPerSecUSec", std::numeric_limits<uint64_t>::max()});  // "infinity"
    } else if (res.cpu_quota > 0) {
      const int64_t period = res.cpu_period > 0 ? res.cpu_period : kDefaultCpuPeriod;
      // systemd takes the quota per second of wall time.
      props->push_back(
          {"CPUQuotaPerSecUSec", static_cast<uint64_t>(res.cpu_quota) * 1000000 / period});
    }
    if (res.cpu_shares > 0) {
      if (v2) {
        props->push_back({"CPUWeight", SharesToWeight(res.cpu_shares)});
      } else {
        props->push_back({"CPUShares", static_cast<uint64_t>(res.cpu_shares)});
      }
    }
    if (res.pids_limit > 0) props->push_back({"TasksMax", static_cast<uint64_t>(res.pids_limit)});
  }

  std::unique_ptr<SystemdBus> bus_;
};

}  // namespace

absl::Status ValidateSliceName(std::string_view slice) {
  if (slice.size() > 255) return BadSlice(slice, "longer than 255 bytes");
  absl::string_view stem = AbslView(slice);
  if (!absl::ConsumeSuffix(&stem, kSliceSuffix)) return BadSlice(slice, "does not end in .slice");
  if (stem == "-") return BadSlice(slice, "the root slice cannot be a pod's parent");
  if (stem.empty()) return BadSlice(slice, "empty name");
  for (char c : stem) {
    if (!UnitChar(c)) return BadSlice(slice, "character not allowed in a unit name");
  }
  for (absl::string_view part : absl::StrSplit(stem, '-')) {
    if (part.empty()) return BadSlice(slice, "leading, trailing or double dash");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExpandSlice(std::string_view slice) {
  if (slice == "-.slice") return std::string("/");
  RETURN_IF_ERROR(ValidateSliceName(slice));
  absl::string_view stem = AbslView(slice);
  absl::ConsumeSuffix(&stem, kSliceSuffix);
  std::string dir;
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(stem, '-')) {
    prefix = prefix.empty() ? std::string(part) : absl::StrCat(prefix, "-", part);
    absl::StrAppend(&dir, "/", prefix, kSliceSuffix);
  }
  return dir;
}

std::string SystemdCgroupsPath::Unit() const {
  if (absl::EndsWith(name, kSliceSuffix)) return name;
  return absl::StrCat(prefix, "-", name, ".scope");
}

absl::StatusOr<SystemdCgroupsPath> ParseSystemdCgroupsPath(std::string_view path) {
  std::vector<std::string> parts = absl::StrSplit(AbslView(path), ':');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("systemd cgroups path \"", AbslView(path), "\" is not \"slice:prefix:name\""));
  }
  SystemdCgroupsPath out{parts[0], parts[1], parts[2]};
  if (out.slice.empty()) out.slice = kDefaultSlice;
  if (out.slice != "-.slice") RETURN_IF_ERROR(ValidateSliceName(out.slice));
  if (out.name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("systemd cgroups path \"", AbslView(path), "\" has no name"));
  }
  return out;
}

std::string SystemdCgroupDir(std::string_view path) {
  if (path.empty()) return "";
  absl::StatusOr<SystemdCgroupsPath> p = ParseSystemdCgroupsPath(path);
  if (!p.ok()) return "";
  absl::StatusOr<std::string> slice = ExpandSlice(p->slice);
  if (!slice.ok()) return "";
  return JoinPath(*slice, p->Unit());
}

absl::StatusOr<std::unique_ptr<CgroupManager>> NewSystemdManager(CgroupSetup setup) {
  if (!SystemdIsInit()) {
    return absl::FailedPreconditionError(
        "runtime.cgroup_manager is \"systemd\" but systemd is not the init system "
        "(/run/systemd/system is missing); use \"cgroupfs\"");
  }
  absl::StatusOr<std::unique_ptr<SystemdBus>> bus = SystemdBus::Connect();
  if (!bus.ok()) {
    return Annotate(bus.status(), "systemd cgroup manager: reach systemd over D-Bus");
  }
  return std::unique_ptr<CgroupManager>(
      new SystemdCgroupManager(std::move(setup), std::move(bus).value()));
}

}  // namespace crius::sandbox
