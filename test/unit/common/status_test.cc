#include "common/status.h"

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crius {
namespace {

using ::testing::HasSubstr;

TEST(ErrnoStatusTest, MapsErrnoToCanonicalCodes) {
  EXPECT_EQ(ErrnoStatus(ENOENT, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus(ESRCH, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus(EEXIST, "x").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus(EINVAL, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoStatus(EACCES, "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EPERM, "x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EBUSY, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoStatus(ETIMEDOUT, "x").code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ErrnoStatus(ENOSPC, "x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus(ENOSYS, "x").code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(ErrnoStatus(EIO, "x").code(), absl::StatusCode::kInternal);
}

TEST(ErrnoStatusTest, MessageNamesWhatAndError) {
  absl::Status s = ErrnoStatus(ENOENT, "open /etc/x");
  EXPECT_EQ(s.message(), "open /etc/x: No such file or directory");
}

TEST(ErrnoStatusTest, OneArgumentFormReadsErrno) {
  errno = EEXIST;
  EXPECT_EQ(ErrnoStatus("mkdir d").code(), absl::StatusCode::kAlreadyExists);
}

TEST(AnnotateTest, PrefixesContextAndKeepsCode) {
  absl::Status s = Annotate(absl::NotFoundError("no such pod"), "stop pod p1");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "stop pod p1: no such pod");
}

TEST(AnnotateTest, OkStaysOk) { EXPECT_TRUE(Annotate(absl::OkStatus(), "ctx").ok()); }

absl::Status ReturnIfErrorHelper(absl::Status inner, bool* reached_end) {
  RETURN_IF_ERROR(inner);
  *reached_end = true;
  return absl::OkStatus();
}

TEST(MacrosTest, ReturnIfErrorReturnsEarlyOnlyOnError) {
  bool reached = false;
  EXPECT_EQ(ReturnIfErrorHelper(absl::AbortedError("a"), &reached).code(),
            absl::StatusCode::kAborted);
  EXPECT_FALSE(reached);
  EXPECT_TRUE(ReturnIfErrorHelper(absl::OkStatus(), &reached).ok());
  EXPECT_TRUE(reached);
}

absl::StatusOr<std::string> Produce(bool ok) {
  if (!ok) return absl::UnavailableError("down");
  return std::string("value");
}

absl::StatusOr<size_t> AssignOrReturnHelper(bool ok) {
  ASSIGN_OR_RETURN(std::string v, Produce(ok));
  ASSIGN_OR_RETURN(auto again, Produce(ok));  // two on one function: unique temporaries
  return v.size() + again.size();
}

TEST(MacrosTest, AssignOrReturnAssignsOrPropagates) {
  absl::StatusOr<size_t> good = AssignOrReturnHelper(true);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 10u);
  absl::StatusOr<size_t> bad = AssignOrReturnHelper(false);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(bad.status().message(), HasSubstr("down"));
}

}  // namespace
}  // namespace crius
