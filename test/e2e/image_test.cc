// Images through the daemon: pull from a real registry on loopback, status
// by every reference form, list, remove, and the store surviving a restart.

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"
#include "test/support/test_daemon.h"

namespace crius::testing {
namespace {

struct Pushed {
  std::string ref;  // 127.0.0.1:<port>/e2e/busybox:v1
  PushResult push;
};

absl::StatusOr<Pushed> PushBusybox(RegistryFixture& reg, const std::string& repo_tag) {
  auto rootfs = BusyboxRootfs();
  if (!rootfs.ok()) return rootfs.status();
  auto img = ImageBuilder()
                 .AddLayer(*rootfs, Compression::kGzip)
                 .AddLayer({TarEntry::File("etc/motd", "hello from layer two\n")}, Compression::kZstd)
                 .Cmd({"/bin/sh"})
                 .User("1000")
                 .Build();
  if (!img.ok()) return img.status();
  auto pushed = reg.Push(*img, repo_tag);
  if (!pushed.ok()) return pushed.status();
  return Pushed{reg.host() + "/" + repo_tag, *pushed};
}

runtime::v1::ImageStatusRequest StatusReq(const std::string& ref) {
  runtime::v1::ImageStatusRequest r;
  r.mutable_image()->set_image(ref);
  return r;
}

TEST(ImageE2E, PullStatusListRemoveAndPullAgain) {
  auto reg = RegistryFixture::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto pushed = PushBusybox(**reg, "e2e/busybox:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto& c = d.client();

  // Missing image: empty answer, no error.
  auto missing = c.ImageStatus(StatusReq(pushed->ref));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_image());

  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image(pushed->ref);
  auto pulled = c.PullImage(pull);
  ASSERT_TRUE(pulled.ok()) << pulled.status() << d.Log();
  EXPECT_EQ(pulled->image_ref(), pushed->push.config_digest);

  const std::string repo_digest = (*reg)->host() + "/e2e/busybox@" + pushed->push.manifest_digest;
  for (const std::string& ref : {pushed->ref, pushed->push.config_digest, repo_digest,
                                 pushed->push.config_digest.substr(7)}) {
    auto st = c.ImageStatus(StatusReq(ref));
    ASSERT_TRUE(st.ok()) << ref << ": " << st.status();
    ASSERT_TRUE(st->has_image()) << ref;
    EXPECT_EQ(st->image().id(), pushed->push.config_digest) << ref;
    ASSERT_EQ(st->image().repo_tags_size(), 1);
    EXPECT_EQ(st->image().repo_tags(0), pushed->ref);
    ASSERT_EQ(st->image().repo_digests_size(), 1);
    EXPECT_EQ(st->image().repo_digests(0), repo_digest);
    EXPECT_EQ(st->image().uid().value(), 1000);
    EXPECT_GT(st->image().size(), 0u);
  }

  auto list = c.ListImages();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->images_size(), 1);
  EXPECT_EQ(list->images(0).id(), pushed->push.config_digest);

  auto fs = c.ImageFsInfo();
  ASSERT_TRUE(fs.ok()) << fs.status();
  ASSERT_EQ(fs->image_filesystems_size(), 1);
  EXPECT_GT(fs->image_filesystems(0).used_bytes().value(), 0u);

  runtime::v1::RemoveImageRequest rm;
  rm.mutable_image()->set_image(pushed->ref);
  ASSERT_TRUE(c.RemoveImage(rm).ok());
  EXPECT_FALSE(c.ImageStatus(StatusReq(pushed->push.config_digest))->has_image());
  EXPECT_TRUE(c.RemoveImage(rm).ok()) << "removing a missing image is OK";

  pulled = c.PullImage(pull);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(pulled->image_ref(), pushed->push.config_digest);
}

TEST(ImageE2E, ImagesSurviveARestart) {
  auto reg = RegistryFixture::Start();
  ASSERT_TRUE(reg.ok()) << reg.status();
  auto pushed = PushBusybox(**reg, "e2e/keep:v1");
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image(pushed->ref);
  ASSERT_TRUE(d.client().PullImage(pull).ok());
  ASSERT_TRUE(d.Kill().ok());
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  auto st = d.client().ImageStatus(StatusReq(pushed->ref));
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(st->has_image());
  EXPECT_EQ(st->image().id(), pushed->push.config_digest);
}

TEST(ImageE2E, BadReferenceIsInvalidArgument) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Log();
  runtime::v1::PullImageRequest pull;
  pull.mutable_image()->set_image("Not A Valid/Reference");
  auto s = d.client().PullImage(pull).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

}  // namespace
}  // namespace crius::testing
