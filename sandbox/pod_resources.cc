#include "sandbox/pod_resources.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace crius::sandbox {
namespace {

constexpr int64_t kMaxShares = 262144;

// The pod's directory in the hierarchy that holds `controller`: the unified
// one on pure v2, the v1 one on v1 and hybrid (whose v2 mount carries no
// controllers); "" when none does.
std::string ControllerDir(const CgroupSetup& setup, const std::string& path,
                          std::string_view controller) {
  const bool v2 = setup.layout == CgroupLayout::kV2;
  for (const CgroupHierarchy& h : setup.hierarchies) {
    if (v2 ? h.v2 : (!h.v2 && HasController(h, controller))) return JoinPath(h.mount_point, path);
  }
  return "";
}

// A refusal by the kernel, as the caller should see it.
absl::Status Refused(const absl::Status& s, const CgroupFileValue& f, const std::string& dir) {
  if (absl::IsNotFound(s)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the pod cgroup ", dir, " does not exist: ", s.message()));
  }
  if (absl::IsUnavailable(s) && f.controller == "memory") {  // EBUSY
    return absl::FailedPreconditionError(
        absl::StrCat("memory limit ", f.value,
                     " is below what the pod uses (the kernel could not reclaim "
                     "enough): ",
                     s.message()));
  }
  if (absl::IsInvalidArgument(s) || absl::IsUnavailable(s)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the kernel refuses ", f.file, "=", f.value,
        " for the pod cgroup as it is now (a container with a larger limit?): ", s.message()));
  }
  return s;
}

}  // namespace

uint64_t SharesToWeight(int64_t shares) {
  if (shares <= 0) return 0;
  shares = std::clamp<int64_t>(shares, 2, kMaxShares);
  return 1 + ((static_cast<uint64_t>(shares) - 2) * 9999) / 262142;
}

CgroupResources PodTotal(const CgroupResources& resources, const CgroupResources& overhead) {
  CgroupResources out;
  if (resources.memory_limit_bytes > 0) {
    out.memory_limit_bytes =
        resources.memory_limit_bytes + std::max<int64_t>(overhead.memory_limit_bytes, 0);
  }
  if (resources.cpu_quota > 0 || resources.cpu_quota == kUnlimitedCpuQuota) {
    out.cpu_period = resources.cpu_period > 0 ? resources.cpu_period : kDefaultCpuPeriod;
    out.cpu_quota = resources.cpu_quota;
    if (resources.cpu_quota > 0 && overhead.cpu_quota > 0) {
      const int64_t overhead_period =
          overhead.cpu_period > 0 ? overhead.cpu_period : kDefaultCpuPeriod;
      // The overhead's share of a CPU, over the pod's period.
      out.cpu_quota += static_cast<int64_t>(static_cast<__int128>(overhead.cpu_quota) *
                                            out.cpu_period / overhead_period);
    }
  }
  const int64_t shares =
      std::max<int64_t>(resources.cpu_shares, 0) + std::max<int64_t>(overhead.cpu_shares, 0);
  if (shares > 0) out.cpu_shares = std::min(shares, kMaxShares);
  return out;
}

std::vector<CgroupFileValue> PodCgroupFiles(const CgroupResources& res, bool v2) {
  std::vector<CgroupFileValue> out;
  if (res.memory_limit_bytes > 0) {
    out.push_back({"memory", v2 ? "memory.max" : "memory.limit_in_bytes",
                   std::to_string(res.memory_limit_bytes)});
  }
  if (res.cpu_shares > 0) {
    if (v2) {
      out.push_back({"cpu", "cpu.weight", std::to_string(SharesToWeight(res.cpu_shares))});
    } else {
      out.push_back({"cpu", "cpu.shares", std::to_string(res.cpu_shares)});
    }
  }
  if (res.cpu_quota > 0 || res.cpu_quota == kUnlimitedCpuQuota) {
    const int64_t period = res.cpu_period > 0 ? res.cpu_period : kDefaultCpuPeriod;
    if (v2) {
      const std::string quota = res.cpu_quota > 0 ? std::to_string(res.cpu_quota) : "max";
      out.push_back({"cpu", "cpu.max", absl::StrCat(quota, " ", period)});
    } else {
      out.push_back({"cpu", "cpu.cfs_period_us", std::to_string(period)});
      out.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(res.cpu_quota)});
    }
  }
  return out;
}

absl::Status CheckMemoryLimit(const CgroupSetup& setup, const std::string& path, int64_t limit) {
  if (limit <= 0) return absl::OkStatus();
  const std::string dir = ControllerDir(setup, path, "memory");
  if (dir.empty()) return absl::OkStatus();
  const std::string file =
      JoinPath(dir, setup.layout == CgroupLayout::kV2 ? "memory.current" : "memory.usage_in_bytes");
  absl::StatusOr<std::string> text = ReadFile(file);
  if (absl::IsNotFound(text.status())) {
    return absl::FailedPreconditionError(absl::StrCat("the pod cgroup ", dir, " does not exist"));
  }
  RETURN_IF_ERROR(text.status());
  int64_t usage = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &usage)) {
    return absl::InternalError(absl::StrCat("cannot parse ", file, ": \"", *text, "\""));
  }
  if (limit < usage) {
    return absl::FailedPreconditionError(absl::StrCat("memory limit ", limit,
                                                      " is below what the pod uses now (", usage,
                                                      " bytes in ", file, ")"));
  }
  return absl::OkStatus();
}

absl::Status UpdatePodCgroup(Os& os, const CgroupSetup& setup, const std::string& path,
                             const CgroupResources& res) {
  RETURN_IF_ERROR(CheckMemoryLimit(setup, path, res.memory_limit_bytes));
  for (const CgroupFileValue& f : PodCgroupFiles(res, setup.layout == CgroupLayout::kV2)) {
    const std::string dir = ControllerDir(setup, path, f.controller);
    if (dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("no cgroup hierarchy with the ", f.controller, " controller is mounted"));
    }
    absl::Status s = WriteCgroupFile(os, JoinPath(dir, f.file), f.value);
    if (!s.ok()) return Refused(s, f, dir);
  }
  return absl::OkStatus();
}

}  // namespace crius::sandbox
