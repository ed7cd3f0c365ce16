#include "image/layer_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "gtest/gtest.h"
#include "image/digest.h"
#include "test/unit/common/temp_dir.h"
#include "test/unit/image_store/tar_builder.h"

namespace crius::image {
namespace {

using testing::Compression;
using testing::TarBuilder;
using testing::TempDir;

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class LayerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (layer ownership)";
    auto s = LayerStore::Open(tmp_.path());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(s).value();
  }
  // Writes a layer blob; returns {blob path, diff id}.
  std::pair<std::string, std::string> Blob(const std::string& name, const TarBuilder& b) {
    std::string tar = b.Tar();
    std::string path = tmp_.Path("blob-" + name);
    EXPECT_TRUE(WriteFileAtomic(path, TarBuilder::Compress(tar, Compression::kGzip)).ok());
    return {path, Sha256Digest(tar)};
  }

  TempDir tmp_;
  std::unique_ptr<LayerStore> store_;
};

TEST(ChainIdTest, FollowsTheOciDefinition) {
  std::string d0 = Sha256Digest("layer0"), d1 = Sha256Digest("layer1"), d2 = Sha256Digest("layer2");
  std::vector<std::string> ids = ChainIds({d0, d1, d2});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], d0);
  EXPECT_EQ(ids[1], Sha256Digest(d0 + " " + d1));
  EXPECT_EQ(ids[2], Sha256Digest(ids[1] + " " + d2));
  EXPECT_EQ(ChainId("", d0), d0);
}

TEST_F(LayerStoreTest, EnsureUnpacksAndPersists) {
  TarBuilder b;
  b.File("etc/os-release", "ID=test\n").Dir("var");
  auto [blob, diff_id] = Blob("a", b);
  std::string chain = ChainId("", diff_id);
  auto info = store_->Ensure(chain, blob, diff_id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->chain_id, chain);
  EXPECT_EQ(info->diff_id, diff_id);
  EXPECT_EQ(info->size, 8);
  EXPECT_EQ(info->path, tmp_.Path("layers/" + chain.substr(7) + "/diff"));
  EXPECT_EQ(*ReadFile(info->path + "/etc/os-release"), "ID=test\n");
  EXPECT_EQ(store_->unpacks(), 1);

  // Present: no second unpack, even with a bogus blob path.
  ASSERT_TRUE(store_->Ensure(chain, "/nonexistent", diff_id).ok());
  EXPECT_EQ(store_->unpacks(), 1);

  auto reopened = LayerStore::Open(tmp_.path());
  ASSERT_TRUE(reopened.ok());
  auto again = (*reopened)->Get(chain);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->path, info->path);
  EXPECT_EQ(again->size, 8);
  EXPECT_EQ((*reopened)->TotalSize(), 8);
  EXPECT_EQ(Names(tmp_.Path("layers")), std::vector<std::string>{chain.substr(7)});
}

TEST_F(LayerStoreTest, DiffIdMismatchKeepsNothing) {
  TarBuilder b;
  b.File("f", "x");
  auto [blob, diff_id] = Blob("a", b);
  std::string wrong = Sha256Digest("not this layer");
  auto info = store_->Ensure(wrong, blob, wrong);
  EXPECT_EQ(info.status().code(), absl::StatusCode::kDataLoss) << info.status();
  EXPECT_FALSE(store_->Has(wrong));
  EXPECT_TRUE(Names(tmp_.Path("layers")).empty());
}

TEST_F(LayerStoreTest, ConcurrentEnsureUnpacksOnce) {
  TarBuilder b;
  for (int i = 0; i < 200; ++i)
    b.File("dir/f" + std::to_string(i), std::string(4096, 'a' + i % 26));
  auto [blob, diff_id] = Blob("big", b);
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<LayerInfo>> results(8, absl::UnknownError("not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = store_->Ensure(diff_id, blob, diff_id); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->path, results[0]->path);
  }
  EXPECT_EQ(store_->unpacks(), 1);
  EXPECT_EQ(Names(tmp_.Path("layers")), std::vector<std::string>{diff_id.substr(7)});
}

TEST_F(LayerStoreTest, RemoveUnreferencedKeepsLiveLayers) {
  TarBuilder a, b;
  a.File("a", "1");
  b.File("b", "22");
  auto [blob_a, diff_a] = Blob("a", a);
  auto [blob_b, diff_b] = Blob("b", b);
  std::vector<std::string> chain = ChainIds({diff_a, diff_b});
  ASSERT_TRUE(store_->Ensure(chain[0], blob_a, diff_a).ok());
  ASSERT_TRUE(store_->Ensure(chain[1], blob_b, diff_b).ok());
  EXPECT_EQ(store_->List().size(), 2u);
  EXPECT_EQ(store_->TotalSize(), 3);
  auto removed = store_->RemoveUnreferenced({chain[0]});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, std::vector<std::string>{chain[1]});
  EXPECT_TRUE(store_->Has(chain[0]));
  EXPECT_FALSE(store_->Has(chain[1]));
  EXPECT_EQ(Names(tmp_.Path("layers")), std::vector<std::string>{chain[0].substr(7)});
  ASSERT_TRUE(store_->Remove(chain[0]).ok());
  ASSERT_TRUE(store_->Remove(chain[0]).ok());
  EXPECT_TRUE(Names(tmp_.Path("layers")).empty());
}

TEST_F(LayerStoreTest, OpenDropsLeftoversAndDamage) {
  ASSERT_TRUE(MkdirAll(tmp_.Path("layers/.tmp-abc/diff")).ok());
  std::string bogus = std::string(64, 'a');
  ASSERT_TRUE(MkdirAll(tmp_.Path("layers/" + bogus + "/diff")).ok());
  auto reopened = LayerStore::Open(tmp_.path());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->List().empty());
  EXPECT_TRUE(Names(tmp_.Path("layers")).empty());
}

}  // namespace
}  // namespace crius::image
