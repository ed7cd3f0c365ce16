#include "image/content_store.h"

#include <dirent.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "image/digest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::image {
namespace {

using testing::TempDir;

int CountEntries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  while (struct dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  }
  closedir(d);
  return n;
}

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ContentStore::Open(tmp_.path());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(s).value();
  }
  std::string IngestDir() const { return tmp_.Path("content/ingest"); }

  TempDir tmp_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ContentStoreTest, IngestCommitsVerifiedBlob) {
  std::string data = "hello layer";
  std::string digest = Sha256Digest(data);
  EXPECT_FALSE(store_->Has(digest));
  auto w = store_->Ingest(digest, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->Write("hello ").ok());
  ASSERT_TRUE((*w)->Write("layer").ok());
  EXPECT_EQ((*w)->written(), 11);
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_TRUE(store_->Has(digest));
  EXPECT_EQ(*store_->Size(digest), 11);
  EXPECT_EQ(*store_->Read(digest), data);
  EXPECT_EQ(*store_->Path(digest), tmp_.Path("content/blobs/sha256/" + digest.substr(7)));
  EXPECT_EQ(CountEntries(IngestDir()), 0);
}

TEST_F(ContentStoreTest, DigestMismatchKeepsNothing) {
  std::string digest = Sha256Digest("expected");
  auto w = store_->Ingest(digest, -1);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("something else").ok());
  absl::Status s = (*w)->Commit();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_FALSE(store_->Has(digest));
  EXPECT_EQ(CountEntries(IngestDir()), 0);
  EXPECT_EQ(CountEntries(tmp_.Path("content/blobs/sha256")), 0);
}

TEST_F(ContentStoreTest, SizeMismatchKeepsNothing) {
  std::string data = "abcdef";
  std::string digest = Sha256Digest(data);
  {
    auto w = store_->Ingest(digest, 3);
    ASSERT_TRUE(w.ok());
    // Too many bytes are refused as they arrive.
    EXPECT_EQ((*w)->Write(data).code(), absl::StatusCode::kDataLoss);
    EXPECT_FALSE((*w)->Commit().ok());
  }
  {
    auto w = store_->Ingest(digest, 100);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(data).ok());
    EXPECT_EQ((*w)->Commit().code(), absl::StatusCode::kDataLoss);
  }
  EXPECT_FALSE(store_->Has(digest));
  EXPECT_EQ(CountEntries(IngestDir()), 0);
}

TEST_F(ContentStoreTest, DroppedWriterRemovesTempFile) {
  {
    auto w = store_->Ingest(Sha256Digest("x"), -1);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write("partial").ok());
    EXPECT_EQ(CountEntries(IngestDir()), 1);
  }
  EXPECT_EQ(CountEntries(IngestDir()), 0);
}

TEST_F(ContentStoreTest, ConcurrentIngestsOfOneDigest) {
  std::string data(1 << 20, 'z');
  std::string digest = Sha256Digest(data);
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(6);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      auto w = store_->Ingest(digest, static_cast<int64_t>(data.size()));
      if (!w.ok()) {
        results[i] = w.status();
        return;
      }
      for (size_t off = 0; off < data.size(); off += 4096) {
        results[i] = (*w)->Write(std::string_view(data).substr(off, 4096));
        if (!results[i].ok()) return;
      }
      results[i] = (*w)->Commit();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(*store_->Read(digest, data.size()), data);
  EXPECT_EQ(CountEntries(IngestDir()), 0);
}

TEST_F(ContentStoreTest, PutListDeleteReadCap) {
  std::string a = "config blob", b = "manifest blob";
  ASSERT_TRUE(store_->Put(Sha256Digest(a), a).ok());
  ASSERT_TRUE(store_->Put(Sha256Digest(b), b).ok());
  ASSERT_TRUE(store_->Put(Sha256Digest(b), b).ok());  // again: fine
  EXPECT_EQ(store_->Put(Sha256Digest(a), b).code(), absl::StatusCode::kDataLoss);
  auto list = store_->List();
  ASSERT_TRUE(list.ok());
  std::vector<std::string> want = {Sha256Digest(a), Sha256Digest(b)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*list, want);
  EXPECT_EQ(*store_->TotalSize(), static_cast<int64_t>(a.size() + b.size()));
  EXPECT_EQ(store_->Read(Sha256Digest(a), 4).status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(store_->Delete(Sha256Digest(a)).ok());
  ASSERT_TRUE(store_->Delete(Sha256Digest(a)).ok());  // absent: fine
  EXPECT_FALSE(store_->Has(Sha256Digest(a)));
  EXPECT_EQ(store_->Read(Sha256Digest(a)).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ContentStoreTest, RejectsInvalidDigests) {
  for (const char* bad :
       {"", "sha256:abc", "md5:0123", "sha256:../../../etc/passwd",
        "sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}) {
    EXPECT_EQ(store_->Ingest(bad, -1).status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(store_->Has(bad));
    EXPECT_EQ(store_->Delete(bad).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(ContentStoreTest, OpenClearsIngestLeftovers) {
  auto w = store_->Ingest(Sha256Digest("x"), -1);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write("x").ok());
  auto reopened = ContentStore::Open(tmp_.path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(CountEntries(IngestDir()), 0);
}

}  // namespace
}  // namespace crius::image
