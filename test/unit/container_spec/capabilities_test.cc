// Capability sets from CRI add/drop lists.

#include "oci/capabilities.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crius::oci {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

runtime::v1::Capability Request(std::vector<std::string> add, std::vector<std::string> drop,
                                std::vector<std::string> ambient = {}) {
  runtime::v1::Capability c;
  for (auto& a : add) c.add_add_capabilities(a);
  for (auto& d : drop) c.add_drop_capabilities(d);
  for (auto& a : ambient) c.add_add_ambient_capabilities(a);
  return c;
}

TEST(Capabilities, DefaultsAreContainerdsFourteen) {
  auto caps = ContainerCapabilities(nullptr, false);
  ASSERT_TRUE(caps.ok());
  EXPECT_THAT(caps->bounding,
              UnorderedElementsAreArray(
                  {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                   "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}));
  EXPECT_EQ(caps->effective, caps->bounding);
  EXPECT_EQ(caps->permitted, caps->bounding);
  EXPECT_THAT(caps->inheritable, IsEmpty());
  EXPECT_THAT(caps->ambient, IsEmpty());
}

TEST(Capabilities, AddAndDropWithOrWithoutPrefix) {
  auto r = Request({"SYS_ADMIN", "cap_net_admin"}, {"NET_RAW", "CAP_KILL", "cap_sys_admin2x"});
  EXPECT_EQ(ContainerCapabilities(&r, false).status().code(), absl::StatusCode::kInvalidArgument);

  r = Request({"SYS_ADMIN", "cap_net_admin"}, {"NET_RAW", "CAP_KILL"});
  auto caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_THAT(caps->bounding, Contains("CAP_SYS_ADMIN"));
  EXPECT_THAT(caps->bounding, Contains("CAP_NET_ADMIN"));
  EXPECT_THAT(caps->bounding, Not(Contains("CAP_NET_RAW")));
  EXPECT_THAT(caps->effective, Not(Contains("CAP_KILL")));
  EXPECT_THAT(caps->permitted, Contains("CAP_CHOWN"));

  // Drop wins over add of the same capability.
  r = Request({"NET_ADMIN"}, {"net_admin"});
  caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok());
  EXPECT_THAT(caps->bounding, Not(Contains("CAP_NET_ADMIN")));
}

TEST(Capabilities, AllInAddAndDrop) {
  int last = -1;
  auto text = ReadFile("/proc/sys/kernel/cap_last_cap");
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &last));
  size_t expected = std::min<size_t>(static_cast<size_t>(last) + 1, 41);

  auto r = Request({"ALL"}, {"NET_RAW"});
  auto caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->bounding.size(), expected - 1);
  EXPECT_THAT(caps->bounding, Contains("CAP_SYS_ADMIN"));
  EXPECT_THAT(caps->bounding, Not(Contains("CAP_NET_RAW")));

  r = Request({"NET_BIND_SERVICE"}, {"all"});
  caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok());
  EXPECT_THAT(caps->bounding, ElementsAre("CAP_NET_BIND_SERVICE"));

  r = Request({}, {"ALL"});
  caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok());
  EXPECT_THAT(caps->bounding, IsEmpty());
  EXPECT_THAT(caps->effective, IsEmpty());

  caps = ContainerCapabilities(&r, /*privileged=*/true);
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->bounding.size(), expected) << "privileged ignores drops";
  EXPECT_EQ(AllCapabilities().size(), expected);
}

TEST(Capabilities, AmbientLandsInEverySet) {
  auto r = Request({}, {"ALL"}, {"NET_BIND_SERVICE"});
  auto caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok());
  for (const auto* set :
       {&caps->bounding, &caps->effective, &caps->permitted, &caps->inheritable, &caps->ambient}) {
    EXPECT_THAT(*set, ElementsAre("CAP_NET_BIND_SERVICE"));
  }
  r = Request({}, {}, {"BOGUS"});
  EXPECT_EQ(ContainerCapabilities(&r, false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Capabilities, Normalize) {
  EXPECT_EQ(*NormalizeCapability("net_raw"), "CAP_NET_RAW");
  EXPECT_EQ(*NormalizeCapability("CAP_BPF"), "CAP_BPF");
  EXPECT_EQ(*NormalizeCapability("Checkpoint_Restore"), "CAP_CHECKPOINT_RESTORE");
  EXPECT_FALSE(NormalizeCapability("CAP_").ok());
  EXPECT_FALSE(NormalizeCapability("ALL").ok());
}

}  // namespace
}  // namespace crius::oci
