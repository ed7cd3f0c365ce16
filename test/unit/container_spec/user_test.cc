// User resolution against a rootfs's own /etc/passwd and /etc/group, and
// the in-root file opening that keeps hostile symlinks inside the rootfs.

#include "oci/user.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::oci {
namespace {

using ::testing::ElementsAre;

constexpr char kPasswd[] =
    "# comment line\n"
    "root:x:0:0:root:/root:/bin/sh\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "broken line without fields\n"
    "svc:x:1001:1001::/:/sbin/nologin\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "wheel:x:10:app,other\n"
    "app:x:1000:\n"
    "svc:x:1001:\n"
    "extra:x:2000: app \n"
    "unrelated:x:3000:svc\n";

class UserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MkdirAll(dir_.Path("rootfs/etc")).ok());
    Write("rootfs/etc/passwd", kPasswd);
    Write("rootfs/etc/group", kGroup);
  }
  void Write(const std::string& rel, const std::string& content) {
    std::string path = dir_.Path(rel);
    ASSERT_TRUE(MkdirAll(path.substr(0, path.rfind('/'))).ok()) << rel;
    ASSERT_TRUE(WriteFileAtomic(dir_.Path(rel), content).ok()) << rel;
  }
  std::string rootfs() const { return dir_.Path("rootfs"); }

  absl::StatusOr<User> Image(const std::string& image_user) {
    UserRequest r;
    r.image_user = image_user;
    return ResolveUser(rootfs(), r);
  }

  testing::TempDir dir_;
};

TEST(UserParse, PasswdAndGroupSkipJunk) {
  auto users = ParsePasswd(kPasswd);
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users[1].name, "app");
  EXPECT_EQ(users[1].uid, 1000u);
  EXPECT_EQ(users[1].gid, 1000u);
  auto groups = ParseGroup(kGroup);
  ASSERT_EQ(groups.size(), 6u);
  EXPECT_THAT(groups[1].members, ElementsAre("app", "other"));
  EXPECT_THAT(groups[4].members, ElementsAre("app"));
}

TEST_F(UserTest, ImageUserForms) {
  struct Case {
    std::string user;
    uint32_t uid, gid;
    std::vector<uint32_t> gids;
  };
  const Case cases[] = {
      {"", 0, 0, {0}},
      {"root", 0, 0, {0}},
      {"app", 1000, 1000, {1000, 10, 2000}},
      {"1000", 1000, 1000, {1000, 10, 2000}},
      {"1000:10", 1000, 10, {10, 2000}},
      {"app:wheel", 1000, 10, {10, 2000}},
      {"app:3000", 1000, 3000, {3000, 10, 2000}},
      {"4242", 4242, 0, {0}},  // numeric users need not exist
      {"4242:4343", 4242, 4343, {4343}},
      {"svc", 1001, 1001, {1001, 3000}},
  };
  for (const auto& c : cases) {
    auto u = Image(c.user);
    ASSERT_TRUE(u.ok()) << c.user << ": " << u.status();
    EXPECT_EQ(u->uid, c.uid) << c.user;
    EXPECT_EQ(u->gid, c.gid) << c.user;
    EXPECT_EQ(u->additional_gids, c.gids) << c.user;
  }
}

TEST_F(UserTest, ImageUserThatDoesNotResolveFails) {
  for (const char* user : {"nobody", "app:nogroup", ":10", "99999999999"}) {
    auto u = Image(user);
    EXPECT_EQ(u.status().code(), absl::StatusCode::kFailedPrecondition) << user << u.status();
  }
}

TEST_F(UserTest, CriFieldsWinOverTheImage) {
  UserRequest r;
  r.image_user = "app";
  r.run_as_user = 1001;
  auto u = ResolveUser(rootfs(), r);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 1001u);
  EXPECT_EQ(u->gid, 1001u);

  r = {};
  r.run_as_username = "app";
  r.run_as_group = 555;
  r.supplemental_groups = {7000, 10};
  u = ResolveUser(rootfs(), r);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 555u);
  EXPECT_THAT(u->additional_gids, ElementsAre(555, 10, 2000, 7000));

  r.strict_groups = true;
  u = ResolveUser(rootfs(), r);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_THAT(u->additional_gids, ElementsAre(555, 7000, 10));

  r = {};
  r.run_as_user = 0;
  r.image_user = "app";
  u = ResolveUser(rootfs(), r);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 0u) << "run_as_user 0 is a real request, not unset";
}

TEST_F(UserTest, BadCriRequestsAreInvalidArgument) {
  UserRequest r;
  r.run_as_username = "ghost";
  EXPECT_EQ(ResolveUser(rootfs(), r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ResolveUser(rootfs(), r).status().message()),
              ::testing::HasSubstr("run_as_username"));
  r = {};
  r.run_as_group = 10;
  EXPECT_EQ(ResolveUser(rootfs(), r).status().code(), absl::StatusCode::kInvalidArgument);
  r = {};
  r.run_as_user = 1;
  r.run_as_username = "app";
  EXPECT_EQ(ResolveUser(rootfs(), r).status().code(), absl::StatusCode::kInvalidArgument);
  r = {};
  r.run_as_user = -5;
  EXPECT_EQ(ResolveUser(rootfs(), r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(UserTest, NoPasswdFileMeansNumericOnly) {
  ASSERT_EQ(::unlink(dir_.Path("rootfs/etc/passwd").c_str()), 0);
  ASSERT_EQ(::unlink(dir_.Path("rootfs/etc/group").c_str()), 0);
  auto u = Image("123:456");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 123u);
  EXPECT_EQ(u->gid, 456u);
  EXPECT_FALSE(Image("app").ok());
}

// /etc/passwd as an absolute symlink to a file outside the rootfs: inside
// the container that path means <rootfs>/outside/passwd, which does not
// exist, so the name must not resolve from the host's file.
TEST_F(UserTest, SymlinkedPasswdDoesNotEscapeTheRootfs) {
  Write("outside/passwd", "evil:x:4321:4321::/:/bin/sh\n");
  ASSERT_EQ(::unlink(dir_.Path("rootfs/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.Path("outside/passwd").c_str(), dir_.Path("rootfs/etc/passwd").c_str()),
            0);
  EXPECT_FALSE(Image("evil").ok());

  // The same with a relative link climbing past the root.
  ASSERT_EQ(::unlink(dir_.Path("rootfs/etc/passwd").c_str()), 0);
  ASSERT_EQ(
      ::symlink("../../../../../../../../outside/passwd", dir_.Path("rootfs/etc/passwd").c_str()),
      0);
  EXPECT_FALSE(Image("evil").ok());

  // But a link that stays inside the rootfs is followed, rooted there.
  Write("rootfs/outside/passwd", "inner:x:77:88::/:/bin/sh\n");
  auto u = Image("inner");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 77u);
  EXPECT_EQ(u->gid, 88u);
}

TEST_F(UserTest, WalkingResolverMatchesOpenat2) {
  Write("outside/secret", "host");
  Write("rootfs/data/file", "inside");
  ASSERT_EQ(::symlink(dir_.Path("outside/secret").c_str(), dir_.Path("rootfs/abs").c_str()), 0);
  ASSERT_EQ(::symlink("../../../outside/secret", dir_.Path("rootfs/rel").c_str()), 0);
  ASSERT_EQ(::symlink("/data", dir_.Path("rootfs/etc/datalink").c_str()), 0);
  for (auto open : {&OpenInRoot, &OpenInRootByWalking}) {
    EXPECT_FALSE(open(rootfs(), "/abs").ok());
    EXPECT_FALSE(open(rootfs(), "/rel").ok());
    EXPECT_FALSE(open(rootfs(), "/../../outside/secret").ok());
    EXPECT_TRUE(open(rootfs(), "/etc/datalink/file").ok());
    EXPECT_TRUE(open(rootfs(), "/../../data/./file").ok());
    EXPECT_EQ(open(rootfs(), "/missing").status().code(), absl::StatusCode::kNotFound);
  }
  // The absolute target is taken as a path inside the rootfs.
  Write("rootfs" + dir_.Path("outside/secret"), "decoy");
  auto content = ReadFileInRoot(rootfs(), "/abs");
  ASSERT_TRUE(content.ok()) << content.status();
  ASSERT_TRUE(content->has_value());
  EXPECT_EQ(**content, "decoy");
}

TEST_F(UserTest, FifoPasswdFailsInsteadOfHanging) {
  ASSERT_EQ(::unlink(dir_.Path("rootfs/etc/passwd").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir_.Path("rootfs/etc/passwd").c_str(), 0644), 0);
  auto u = Image("app");
  EXPECT_EQ(u.status().code(), absl::StatusCode::kFailedPrecondition) << u.status();
}

}  // namespace
}  // namespace crius::oci
