// The cgroup managers' names: systemd's slice expansion along the dashes,
// "slice:prefix:name" cgroups paths and slice-name validation, the cgroupfs
// names that stay as they were, and what each driver refuses. No systemd
// is needed: the D-Bus side is proven in the VM (test/vm/systemd.sh).

#include "sandbox/cgroup_manager.h"

#include <string>

#include "absl/status/status.h"
#include "common/files.h"
#include "common/os.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/systemd_cgroup.h"

namespace crius::sandbox {
namespace {

using ::testing::HasSubstr;

TEST(ExpandSlice, OpensALevelAtEachDash) {
  EXPECT_EQ(*ExpandSlice("kubepods.slice"), "/kubepods.slice");
  EXPECT_EQ(*ExpandSlice("kubepods-besteffort-pod0c1e.slice"),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0c1e.slice");
  EXPECT_EQ(*ExpandSlice("a-b-c-d.slice"), "/a.slice/a-b.slice/a-b-c.slice/a-b-c-d.slice");
  // kubelet writes pod uids with underscores in slice names.
  EXPECT_EQ(*ExpandSlice("kubepods-pod12_34.slice"), "/kubepods.slice/kubepods-pod12_34.slice");
  EXPECT_EQ(*ExpandSlice("-.slice"), "/");
}

TEST(ValidateSliceName, RefusesWhatSystemdRefuses) {
  EXPECT_TRUE(ValidateSliceName("kubepods-burstable-pod1.slice").ok());
  for (const char* bad :
       {"", ".slice", "kubepods", "kubepods.scope", "-kubepods.slice", "kubepods-.slice",
        "kube--pods.slice", "kube/pods.slice", "kube pods.slice", "-.slice", "k\n.slice"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateSliceName(bad))) << "\"" << bad << "\"";
  }
  EXPECT_TRUE(absl::IsInvalidArgument(ExpandSlice("kube--pods.slice").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateSliceName(std::string(300, 'a') + ".slice")));
}

TEST(ParseSystemdCgroupsPath, SplitsSlicePrefixAndName) {
  auto p = ParseSystemdCgroupsPath("kubepods-besteffort-pod1.slice:crius:c0ffee");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->slice, "kubepods-besteffort-pod1.slice");
  EXPECT_EQ(p->prefix, "crius");
  EXPECT_EQ(p->name, "c0ffee");
  EXPECT_EQ(p->Unit(), "crius-c0ffee.scope");
  // An empty slice is system.slice, as in runc.
  EXPECT_EQ(ParseSystemdCgroupsPath(":crius:x")->slice, "system.slice");
  for (const char* bad : {"", "a.slice", "a.slice:crius", "a.slice:crius:", "a.slice:x:y:z",
                          "/kubepods/pod1:crius:x", "a--b.slice:crius:x"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseSystemdCgroupsPath(bad).status())) << bad;
  }
}

TEST(SystemdCgroupDir, IsTheScopeInTheExpandedSlice) {
  EXPECT_EQ(SystemdCgroupDir("kubepods-besteffort-pod1.slice:crius:c0ffee"),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/"
            "crius-c0ffee.scope");
  EXPECT_EQ(SystemdCgroupDir("system.slice:crius:infra-0123"),
            "/system.slice/crius-infra-0123.scope");
  EXPECT_EQ(SystemdCgroupDir(""), "");
  EXPECT_EQ(SystemdCgroupDir("not a path"), "");
}

TEST(CgroupfsManager, KeepsTheCgroupfsNames) {
  RealOs os;
  std::unique_ptr<CgroupManager> m = NewCgroupfsManager(os, CgroupSetup{});
  EXPECT_EQ(m->driver(), CgroupDriver::kCgroupfs);
  EXPECT_EQ(CgroupDriverName(m->driver()), "cgroupfs");
  EXPECT_EQ(m->RuntimeCgroupsPath("/kubepods/burstable/pod1", "c0ffee"),
            "/kubepods/burstable/pod1/crius-c0ffee");
  EXPECT_EQ(m->RuntimeCgroupsPath("/kubepods/pod1/", "infra-abc"),
            "/kubepods/pod1/crius-infra-abc");
  EXPECT_EQ(m->RuntimeCgroupsPath("", "c0ffee"), "/crius-c0ffee");
  EXPECT_EQ(m->CgroupDir("/kubepods/pod1/crius-c0ffee"), "/kubepods/pod1/crius-c0ffee");
  EXPECT_TRUE(m->RuntimeFlags().empty());
  EXPECT_FALSE(m->MonitorSystemdCgroup());
  EXPECT_TRUE(m->PlaceMonitor(1, "c0ffee", "/kubepods/pod1").ok());
  EXPECT_TRUE(m->ValidateParent("/kubepods/pod1").ok());
  absl::Status slice = m->ValidateParent("kubepods-pod1.slice");
  EXPECT_TRUE(absl::IsInvalidArgument(slice));
  EXPECT_THAT(std::string(slice.message()), HasSubstr("runtime.cgroup_manager"));
}

TEST(NewCgroupManager, RefusesUnknownDriversAndSystemdWithoutSystemd) {
  RealOs os;
  EXPECT_TRUE(absl::IsInvalidArgument(NewCgroupManager("cgroupv3", os, CgroupSetup{}).status()));
  ASSERT_TRUE(NewCgroupManager("cgroupfs", os, CgroupSetup{}).ok());
  if (!SystemdIsInit()) {  // as on this project's hosts; the VM has systemd
    auto m = NewCgroupManager("systemd", os, CgroupSetup{});
    EXPECT_TRUE(absl::IsFailedPrecondition(m.status())) << m.status();
    EXPECT_THAT(std::string(m.status().message()), HasSubstr("systemd is not the init system"));
  }
}

}  // namespace
}  // namespace crius::sandbox
