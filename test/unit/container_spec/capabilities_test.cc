// Capability sets from CRI add/drop lists.

#include "oci/capabilities.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
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

// How many capabilities up to cap_last_cap this process holds in both its
// permitted and bounding sets (what "ALL" can grant).
size_t HeldCount() {
  int last = -1;
  auto text = ReadFile("/proc/sys/kernel/cap_last_cap");
  EXPECT_TRUE(text.ok());
  EXPECT_TRUE(text.ok() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &last));
  last = std::min(last, 40);
  uint64_t prm = 0, bnd = 0;
  auto status = ReadFile("/proc/self/status");
  EXPECT_TRUE(status.ok());
  for (absl::string_view line : absl::StrSplit(status.value_or(""), '\n')) {
    if (absl::ConsumePrefix(&line, "CapPrm:")) {
      EXPECT_TRUE(absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &prm));
    }
    if (absl::ConsumePrefix(&line, "CapBnd:")) {
      EXPECT_TRUE(absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &bnd));
    }
  }
  size_t n = 0;
  for (int cap = 0; cap <= last; ++cap) n += ((prm & bnd) >> cap) & 1;
  return n;
}

TEST(Capabilities, AllInAddAndDrop) {
  size_t expected = HeldCount();

  auto r = Request({"ALL"}, {"NET_RAW"});
  auto caps = ContainerCapabilities(&r, false);
  ASSERT_TRUE(caps.ok());
  std::vector<std::string> all_but_raw = AllCapabilities();
  std::erase(all_but_raw, "CAP_NET_RAW");
  EXPECT_EQ(caps->bounding, all_but_raw);
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
