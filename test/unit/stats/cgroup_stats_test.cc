#include "stats/cgroup_stats.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace crius::stats {
namespace {

const std::string kData = std::string(CRIUS_SOURCE_DIR) + "/test/unit/stats/data";

sandbox::CgroupSetup V1Setup() {
  sandbox::CgroupSetup s;
  s.layout = sandbox::CgroupLayout::kHybrid;
  for (const char* c : {"cpu", "cpuacct", "memory", "pids"}) {
    s.hierarchies.push_back({kData + "/v1/" + c, false, {c}});
  }
  // A hybrid host's v2 mount holds no controllers; the v1 ones are read.
  s.hierarchies.push_back({kData + "/v2", true, {}});
  return s;
}

sandbox::CgroupSetup V2Setup() {
  sandbox::CgroupSetup s;
  s.layout = sandbox::CgroupLayout::kV2;
  s.hierarchies.push_back({kData + "/v2", true, {}});
  return s;
}

TEST(CgroupStatsV1, LimitedContainerAsRecorded) {
  CgroupReader reader(V1Setup());
  ASSERT_FALSE(reader.v2());
  auto s = reader.Read("/kubepods/pod1/ctr1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->timestamp_ns, 0);
  EXPECT_TRUE(s->has_cpu && s->has_memory && s->has_pids);
  const uint64_t tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s->cpu.usage_ns, 1087127676u);
  EXPECT_EQ(s->cpu.user_ns, 72 * tick);
  EXPECT_EQ(s->cpu.system_ns, 36 * tick);
  EXPECT_EQ(s->cpu.periods, 38u);
  EXPECT_EQ(s->cpu.throttled_periods, 0u);
  EXPECT_EQ(s->cpu.shares, 512u);
  EXPECT_EQ(s->cpu.quota_us, 50000);
  EXPECT_EQ(s->cpu.period_us, 100000u);

  EXPECT_EQ(s->memory.usage_bytes, 67059712u);
  EXPECT_EQ(s->memory.inactive_file_bytes, 7192576u);
  EXPECT_EQ(s->memory.working_set_bytes, 67059712u - 7192576u);
  EXPECT_EQ(s->memory.rss_bytes, 59469824u);
  EXPECT_EQ(s->memory.cache_bytes, 7192576u);
  EXPECT_EQ(s->memory.page_faults, 27233u);
  EXPECT_EQ(s->memory.major_page_faults, 0u);
  EXPECT_EQ(s->memory.failcnt, 3470u);
  EXPECT_EQ(s->memory.limit_bytes, 67108864u);
  // memsw usage equals usage: nothing swapped.
  EXPECT_EQ(s->memory.swap_bytes, 0u);
  EXPECT_EQ(s->oom_kills, 0u);
  EXPECT_EQ(s->threads, 2u);    // python3 and its sleeping thread
  EXPECT_EQ(s->processes, 1u);  // one line in cgroup.procs
}

TEST(CgroupStatsV1, FreshCgroupIsUnlimited) {
  CgroupReader reader(V1Setup());
  auto s = reader.Read("kubepods/pod1/");  // relative and trailing slash work too
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->memory.limit_bytes.has_value());
  EXPECT_FALSE(s->cpu.quota_us.has_value());
  EXPECT_EQ(s->processes, 0u);
}

TEST(CgroupStatsV2, LimitedContainer) {
  CgroupReader reader(V2Setup());
  ASSERT_TRUE(reader.v2());
  auto s = reader.Read("/kubepods/pod1/ctr1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cpu.usage_ns, 2150734000u);
  EXPECT_EQ(s->cpu.user_ns, 1402310000u);
  EXPECT_EQ(s->cpu.system_ns, 748424000u);
  EXPECT_EQ(s->cpu.periods, 215u);
  EXPECT_EQ(s->cpu.throttled_periods, 41u);
  EXPECT_EQ(s->cpu.throttled_ns, 1873356000u);
  EXPECT_EQ(s->cpu.quota_us, 50000);
  EXPECT_EQ(s->cpu.period_us, 100000u);
  EXPECT_EQ(s->cpu.shares, 500u);  // weight 20 maps back to 500 (512 rounds down)

  EXPECT_EQ(s->memory.usage_bytes, 70254592u);
  EXPECT_EQ(s->memory.working_set_bytes, 70254592u - 5242880u);
  EXPECT_EQ(s->memory.rss_bytes, 61440000u);
  EXPECT_EQ(s->memory.cache_bytes, 7340032u);
  EXPECT_EQ(s->memory.mapped_file_bytes, 2097152u);
  EXPECT_EQ(s->memory.page_faults, 28410u);
  EXPECT_EQ(s->memory.major_page_faults, 12u);
  EXPECT_EQ(s->memory.limit_bytes, 67108864u);
  EXPECT_EQ(s->memory.swap_bytes, 1048576u);
  EXPECT_EQ(s->memory.failcnt, 3470u);
  EXPECT_EQ(s->oom_events, 2u);
  EXPECT_EQ(s->oom_kills, 1u);
  EXPECT_EQ(s->threads, 3u);
  EXPECT_EQ(s->processes, 2u);
}

TEST(CgroupStatsV2, MaxMeansUnlimitedAndWorkingSetNeverNegative) {
  CgroupReader reader(V2Setup());
  auto s = reader.Read("/kubepods/pod1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->memory.limit_bytes.has_value());
  EXPECT_FALSE(s->cpu.quota_us.has_value());
  EXPECT_EQ(s->cpu.period_us, 100000u);
  // Weight 100 (the kernel's default) through the inverse of runc's
  // mapping: runc writes weight 39 for the default 1024 shares, so 100 is
  // what 2597 shares would have been.
  EXPECT_EQ(s->cpu.shares, 2597u);
  // inactive_file (9 MiB) exceeds memory.current (1 MiB) here.
  EXPECT_EQ(s->memory.working_set_bytes, 0u);
}

TEST(CgroupStats, MissingCgroupIsNotFound) {
  EXPECT_EQ(CgroupReader(V1Setup()).Read("/kubepods/nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CgroupReader(V2Setup()).Read("/kubepods/nope").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CgroupStats, DotDotIsRefused) {
  EXPECT_EQ(CgroupReader(V2Setup()).Read("/kubepods/../kubepods/pod1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CgroupStats, OneMissingControllerIsNotAnError) {
  sandbox::CgroupSetup setup = V1Setup();
  setup.hierarchies.erase(setup.hierarchies.begin() + 3);  // no pids hierarchy
  auto s = CgroupReader(setup).Read("/kubepods/pod1/ctr1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->has_pids);
  EXPECT_EQ(s->threads, 0u);
  EXPECT_EQ(s->memory.usage_bytes, 67059712u);
}

}  // namespace
}  // namespace crius::stats
