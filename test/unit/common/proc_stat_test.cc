// ReadProcStat against this process and its parent.

#include "common/proc_stat.h"

#include <unistd.h>

#include <climits>

#include "gtest/gtest.h"

namespace crius {
namespace {

TEST(ReadProcStat, TellsProcessesApart) {
  auto self = ReadProcStat(::getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(self->start_time, 0u);
  EXPECT_EQ(self->state, 'R');  // it is running this very read
  EXPECT_EQ(self->ppid, ::getppid());
  auto parent = ReadProcStat(::getppid());
  ASSERT_TRUE(parent.ok());
  EXPECT_LE(parent->start_time, self->start_time);
  EXPECT_TRUE(absl::IsNotFound(ReadProcStat(INT32_MAX).status()));
}

}  // namespace
}  // namespace crius
