#include "sandbox/mountinfo.h"

#include "gtest/gtest.h"

namespace crius::sandbox {
namespace {

TEST(ParseMountInfo, ReadsFixedAndOptionalFields) {
  auto m = ParseMountInfo(
      "36 35 98:0 /mnt1 /mnt/my\\040dir rw,noatime master:1 shared:2 - ext3 /dev/root "
      "rw,errors=continue\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 2u);
  const MountInfo& a = (*m)[0];
  EXPECT_EQ(a.id, 36);
  EXPECT_EQ(a.parent_id, 35);
  EXPECT_EQ(a.root, "/mnt1");
  EXPECT_EQ(a.mount_point, "/mnt/my dir");
  EXPECT_EQ(a.mount_options, "rw,noatime");
  EXPECT_EQ(a.optional_fields, (std::vector<std::string>{"master:1", "shared:2"}));
  EXPECT_EQ(a.fstype, "ext3");
  EXPECT_EQ(a.source, "/dev/root");
  EXPECT_EQ(a.super_options, "rw,errors=continue");
  EXPECT_EQ((*m)[1].fstype, "cgroup2");
  EXPECT_TRUE((*m)[1].optional_fields.empty());
}

TEST(ParseMountInfo, RefusesMalformedLines) {
  EXPECT_TRUE(absl::IsInvalidArgument(ParseMountInfo("1 2 3\n").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseMountInfo("a b 0:1 / / rw - x y z\n").status()));
}

TEST(ReadMountInfo, OurOwnTableHasARoot) {
  auto m = ReadMountInfo();
  ASSERT_TRUE(m.ok()) << m.status();
  bool root = false;
  for (const auto& e : *m) root = root || e.mount_point == "/";
  EXPECT_TRUE(root);
}

TEST(SplitOptions, SplitsOnCommas) {
  EXPECT_EQ(SplitOptions("rw,nosuid,size=10k"),
            (std::vector<std::string>{"rw", "nosuid", "size=10k"}));
  EXPECT_TRUE(SplitOptions("").empty());
}

}  // namespace
}  // namespace crius::sandbox
