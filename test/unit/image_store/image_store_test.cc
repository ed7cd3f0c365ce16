#include "image/image_store.h"

#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/digest.h"
#include "test/unit/common/temp_dir.h"

namespace crius::image {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::TempDir;
using ::testing::UnorderedElementsAre;

// An image whose config, manifest and layers are derived from `name`; the
// layers listed in `shared` are common with other images built here.
ImageRecord MakeImage(const std::string& name, std::vector<std::string> tags,
                      const std::string& user = "", std::vector<std::string> shared = {}) {
  ImageRecord r;
  r.config_json =
      R"({"architecture":"amd64","config":{"User":")" + user + R"("},"n":")" + name + R"("})";
  r.id = Sha256Digest(r.config_json);
  r.manifest_digest = Sha256Digest("manifest " + name);
  r.repo_tags = std::move(tags);
  for (const std::string& t : r.repo_tags) {
    r.repo_digests.push_back(t.substr(0, t.rfind(':')) + "@" + r.manifest_digest);
  }
  for (const std::string& s : shared) {
    r.layer_digests.push_back(Sha256Digest("blob " + s));
    r.chain_ids.push_back(Sha256Digest("chain " + s));
  }
  r.layer_digests.push_back(Sha256Digest("blob " + name));
  r.chain_ids.push_back(Sha256Digest("chain " + name));
  r.size = 1234;
  return r;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    auto s = ImageStore::Open(tmp_.path());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(s).value();
  }
  TempDir tmp_;
  std::unique_ptr<ImageStore> store_;
};

TEST(ParseImageUserTest, AllForms) {
  EXPECT_EQ(ParseImageUser("1000").uid, 1000);
  EXPECT_EQ(ParseImageUser("1000").username, "");
  EXPECT_EQ(ParseImageUser("1000:1000").uid, 1000);
  EXPECT_EQ(ParseImageUser("0").uid, 0);
  EXPECT_FALSE(ParseImageUser("app").uid.has_value());
  EXPECT_EQ(ParseImageUser("app").username, "app");
  EXPECT_EQ(ParseImageUser("app:staff").username, "app");
  EXPECT_FALSE(ParseImageUser("").uid.has_value());
  EXPECT_EQ(ParseImageUser("").username, "");
  EXPECT_EQ(ParseImageUser("-1").username, "-1");
}

TEST_F(ImageStoreTest, LookupByEveryReferenceForm) {
  ImageRecord rec = MakeImage("busybox", {"docker.io/library/busybox:latest"}, "1000:1000");
  auto put = store_->Put(rec);
  ASSERT_TRUE(put.ok()) << put.status();
  const std::string hex = rec.id.substr(7);
  for (const std::string& ref : {rec.id, hex, std::string("docker.io/library/busybox:latest"),
                                 "docker.io/library/busybox@" + rec.manifest_digest,
                                 hex.substr(0, 12), "sha256:" + hex.substr(0, 5)}) {
    auto got = store_->Get(ref);
    ASSERT_TRUE(got.ok()) << ref << ": " << got.status();
    EXPECT_EQ(got->get(), put->get()) << ref;
  }
  EXPECT_EQ((*put)->user.uid, 1000);
  EXPECT_EQ((*put)->config_digest(), rec.id);
  for (const std::string& ref : {std::string("busybox"), std::string("docker.io/library/busybox"),
                                 hex.substr(0, 2), std::string("sha256:")}) {
    EXPECT_EQ(store_->Get(ref).status().code(), absl::StatusCode::kNotFound) << ref;
  }
}

TEST_F(ImageStoreTest, TagMovesToTheNewImage) {
  ImageRecord v1 = MakeImage("v1", {"example.com/app:latest", "example.com/app:1"});
  ImageRecord v2 = MakeImage("v2", {"example.com/app:latest"}, "app");
  ASSERT_TRUE(store_->Put(v1).ok());
  ASSERT_TRUE(store_->Put(v2).ok());
  EXPECT_EQ((*store_->Get("example.com/app:latest"))->id, v2.id);
  EXPECT_EQ((*store_->Get("example.com/app:1"))->id, v1.id);
  EXPECT_THAT((*store_->Get(v1.id))->repo_tags, ElementsAre("example.com/app:1"));
  EXPECT_EQ((*store_->Get(v2.id))->user.username, "app");
  EXPECT_EQ(store_->List().size(), 2u);

  // The tag moves again; v2 stays, untagged (dangling).
  ImageRecord v3 = MakeImage("v3", {"example.com/app:latest"});
  ASSERT_TRUE(store_->Put(v3).ok());
  EXPECT_THAT((*store_->Get(v2.id))->repo_tags, IsEmpty());
  EXPECT_EQ(store_->List().size(), 3u);

  // Persisted: a reload sees the same owners.
  Reopen();
  EXPECT_EQ((*store_->Get("example.com/app:latest"))->id, v3.id);
  EXPECT_THAT((*store_->Get(v1.id))->repo_tags, ElementsAre("example.com/app:1"));
  EXPECT_THAT((*store_->Get(v2.id))->repo_tags, IsEmpty());
}

TEST_F(ImageStoreTest, SameImageAgainMergesNames) {
  ImageRecord a = MakeImage("img", {"r1/x:1"});
  a.pinned = true;
  ASSERT_TRUE(store_->Put(a).ok());
  ImageRecord b = MakeImage("img", {"r2/x:2"});
  auto merged = store_->Put(b);
  ASSERT_TRUE(merged.ok());
  EXPECT_THAT((*merged)->repo_tags, ElementsAre("r1/x:1", "r2/x:2"));
  EXPECT_EQ((*merged)->repo_digests.size(), 2u);
  EXPECT_TRUE((*merged)->pinned);
  EXPECT_EQ(store_->List().size(), 1u);
}

TEST_F(ImageStoreTest, PersistsAcrossReload) {
  ImageRecord rec = MakeImage("persist", {"r/p:1"}, "42");
  rec.pinned = true;
  ASSERT_TRUE(store_->Put(rec).ok());
  Reopen();
  auto got = store_->Get("r/p:1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->id, rec.id);
  EXPECT_EQ((*got)->repo_digests, rec.repo_digests);
  EXPECT_EQ((*got)->layer_digests, rec.layer_digests);
  EXPECT_EQ((*got)->chain_ids, rec.chain_ids);
  EXPECT_EQ((*got)->manifest_digest, rec.manifest_digest);
  EXPECT_EQ((*got)->config_json, rec.config_json);
  EXPECT_EQ((*got)->size, 1234);
  EXPECT_TRUE((*got)->pinned);
  EXPECT_EQ((*got)->user.uid, 42);
}

TEST_F(ImageStoreTest, DamagedRecordsAreSkipped) {
  ASSERT_TRUE(store_->Put(MakeImage("good", {"r/good:1"})).ok());
  ASSERT_TRUE(
      WriteFileAtomic(tmp_.Path("images/" + std::string(64, 'b') + ".json"), "{not json").ok());
  Reopen();
  EXPECT_EQ(store_->List().size(), 1u);
  EXPECT_TRUE(store_->Get("r/good:1").ok());
}

TEST_F(ImageStoreTest, RemoveReturnsWhatIsNoLongerReferenced) {
  ImageRecord a = MakeImage("a", {"r/a:1"}, "", {"base"});
  ImageRecord b = MakeImage("b", {"r/b:1"}, "", {"base"});
  ASSERT_TRUE(store_->Put(a).ok());
  ASSERT_TRUE(store_->Put(b).ok());
  auto removed = store_->Remove("r/a:1");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->record->id, a.id);
  EXPECT_THAT(removed->unreferenced_blobs,
              UnorderedElementsAre(a.id, a.manifest_digest, Sha256Digest("blob a")));
  EXPECT_THAT(removed->unreferenced_chain_ids, ElementsAre(Sha256Digest("chain a")));
  for (const std::string& ref : {a.id, std::string("r/a:1"), a.repo_digests[0]}) {
    EXPECT_EQ(store_->Get(ref).status().code(), absl::StatusCode::kNotFound);
  }
  EXPECT_TRUE(store_->ReferencedChainIds().contains(Sha256Digest("chain base")));
  EXPECT_TRUE(store_->ReferencedBlobs().contains(Sha256Digest("blob base")));

  removed = store_->Remove(b.id);
  ASSERT_TRUE(removed.ok());
  EXPECT_THAT(removed->unreferenced_chain_ids,
              UnorderedElementsAre(Sha256Digest("chain base"), Sha256Digest("chain b")));
  EXPECT_EQ(store_->Remove(b.id).status().code(), absl::StatusCode::kNotFound);
  Reopen();
  EXPECT_TRUE(store_->List().empty());
}

TEST_F(ImageStoreTest, UntagAndPin) {
  ImageRecord a = MakeImage("a", {"r/a:1", "r/a:2"});
  ASSERT_TRUE(store_->Put(a).ok());
  auto untagged = store_->Untag("r/a:1");
  ASSERT_TRUE(untagged.ok());
  EXPECT_THAT((*untagged)->repo_tags, ElementsAre("r/a:2"));
  EXPECT_EQ(store_->Get("r/a:1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Untag("r/a:1").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->SetPinned("r/a:2", true).ok());
  Reopen();
  EXPECT_TRUE((*store_->Get(a.id))->pinned);
  EXPECT_THAT((*store_->Get(a.id))->repo_tags, ElementsAre("r/a:2"));
}

TEST_F(ImageStoreTest, AmbiguousPrefixAndBadRecords) {
  // Find two ids sharing their first 3 hex characters.
  std::map<std::string, ImageRecord> by_prefix;
  std::string shared_prefix;
  for (int i = 0; shared_prefix.empty(); ++i) {
    ImageRecord r = MakeImage("p" + std::to_string(i), {});
    std::string p = r.id.substr(7, 3);
    if (auto it = by_prefix.find(p); it != by_prefix.end()) {
      ASSERT_TRUE(store_->Put(it->second).ok());
      ASSERT_TRUE(store_->Put(r).ok());
      shared_prefix = p;
    } else {
      by_prefix.emplace(p, r);
    }
  }
  EXPECT_EQ(store_->Get(shared_prefix).status().code(), absl::StatusCode::kInvalidArgument);

  ImageRecord bad = MakeImage("bad", {"r/bad:1"});
  bad.id = "sha256:../../etc";
  EXPECT_EQ(store_->Put(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = MakeImage("bad", {"r/bad:1"});
  bad.config_json = "not json";
  EXPECT_EQ(store_->Put(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageStoreTest, ConcurrentPutsAndReads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 20; ++i) {
        ImageRecord r =
            MakeImage("c" + std::to_string(t) + "-" + std::to_string(i), {"r/shared:latest"});
        EXPECT_TRUE(store_->Put(r).ok());
        EXPECT_TRUE(store_->Get("r/shared:latest").ok());
        store_->List();
      }
    });
  }
  for (auto& th : threads) th.join();
  int tagged = 0;
  for (const ImagePtr& img : store_->List()) tagged += static_cast<int>(img->repo_tags.size());
  EXPECT_EQ(tagged, 1);
  EXPECT_EQ(store_->List().size(), 80u);
  Reopen();
  tagged = 0;
  for (const ImagePtr& img : store_->List()) tagged += static_cast<int>(img->repo_tags.size());
  EXPECT_EQ(tagged, 1);
}

}  // namespace
}  // namespace crius::image
