#include "streaming/tokens.h"

#include <gtest/gtest.h>

#include <set>

namespace crius::streaming {
namespace {

PendingRequest Exec(const std::string& id) {
  PendingRequest r;
  r.kind = RequestKind::kExec;
  r.exec.set_container_id(id);
  return r;
}

TEST(TokenStoreTest, TokensAreSingleUse) {
  TokenStore store(absl::Minutes(1), 10);
  auto t = store.Mint(Exec("c1"));
  ASSERT_TRUE(t.ok());
  auto r = store.Take(*t);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exec.container_id(), "c1");
  EXPECT_FALSE(store.Take(*t).has_value());
  EXPECT_FALSE(store.Take("not-a-token").has_value());
}

TEST(TokenStoreTest, TokensAreRandomAndUrlSafe) {
  TokenStore store(absl::Minutes(1), 1000);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto t = store.Mint(Exec("c"));
    ASSERT_TRUE(t.ok());
    EXPECT_GE(t->size(), 11u);  // >= 8 random bytes in base64
    EXPECT_EQ(t->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    EXPECT_TRUE(seen.insert(*t).second);
  }
}

TEST(TokenStoreTest, ExpiredTokensAreRefusedAndSwept) {
  absl::Time now = absl::UnixEpoch();
  TokenStore store(absl::Seconds(60), 2, [&] { return now; });
  auto a = store.Mint(Exec("a"));
  auto b = store.Mint(Exec("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  now += absl::Seconds(59);
  EXPECT_TRUE(store.Take(*a).has_value());
  now += absl::Seconds(2);
  EXPECT_FALSE(store.Take(*b).has_value());
  EXPECT_EQ(store.Outstanding(), 0u);
}

TEST(TokenStoreTest, CapIsResourceExhaustedUntilTokensExpireOrAreUsed) {
  absl::Time now = absl::UnixEpoch();
  TokenStore store(absl::Seconds(60), 2, [&] { return now; });
  auto a = store.Mint(Exec("a"));
  ASSERT_TRUE(store.Mint(Exec("b")).ok());
  auto c = store.Mint(Exec("c"));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(store.Take(*a).has_value());
  EXPECT_TRUE(store.Mint(Exec("d")).ok());
  EXPECT_FALSE(store.Mint(Exec("e")).ok());
  now += absl::Seconds(61);  // both expire: the sweep frees their places
  EXPECT_TRUE(store.Mint(Exec("f")).ok());
}

}  // namespace
}  // namespace crius::streaming
