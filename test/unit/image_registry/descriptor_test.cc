#include "image/descriptor.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crius::image {
namespace {

std::string D(char c) { return "sha256:" + std::string(64, c); }

nlohmann::json Entry(char c, const std::string& os, const std::string& arch, const std::string& variant = "") {
  nlohmann::json j = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"digest", D(c)},
                      {"size", 100},
                      {"platform", {{"os", os}, {"architecture", arch}}}};
  if (!variant.empty()) j["platform"]["variant"] = variant;
  return j;
}

TEST(SelectPlatform, PicksOsAndArchitecture) {
  nlohmann::json index = {{"manifests", {Entry('a', "linux", "arm64"), Entry('b', "linux", "amd64"),
                                         Entry('c', "windows", "amd64")}}};
  absl::StatusOr<Descriptor> d = SelectPlatform(index, "linux", "amd64");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->digest, D('b'));
  d = SelectPlatform(index, "linux", "aarch64");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->digest, D('a'));
  d = SelectPlatform(index, "linux", "s390x");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("linux/arm64"), absl::string_view::npos) << d.status();
}

TEST(SelectPlatform, HonoursVariant) {
  nlohmann::json index = {{"manifests", {Entry('a', "linux", "arm", "v6"), Entry('b', "linux", "arm", "v7"),
                                         Entry('c', "linux", "arm64", "v8"), Entry('d', "linux", "arm64")}}};
  EXPECT_EQ(SelectPlatform(index, "linux", "arm", "v7")->digest, D('b'));
  EXPECT_EQ(SelectPlatform(index, "linux", "arm", "v6")->digest, D('a'));
  EXPECT_EQ(SelectPlatform(index, "linux", "arm", "v5").status().code(), absl::StatusCode::kNotFound);
  // No variant asked: the entry without one wins over a variant entry.
  EXPECT_EQ(SelectPlatform(index, "linux", "arm64")->digest, D('d'));
  EXPECT_EQ(SelectPlatform(index, "linux", "arm64", "v8")->digest, D('c'));
  // Only variant entries: the first of that os/arch.
  EXPECT_EQ(SelectPlatform(index, "linux", "arm")->digest, D('a'));
}

TEST(SelectPlatform, RejectsMalformedIndexes) {
  EXPECT_EQ(SelectPlatform(nlohmann::json::object()).status().code(), absl::StatusCode::kInvalidArgument);
  nlohmann::json bad = {{"manifests", {{{"digest", "sha256:short"}, {"size", 1}}}}};
  EXPECT_EQ(SelectPlatform(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseDescriptor, ReadsFields) {
  nlohmann::json j = Entry('e', "linux", "amd64");
  j["urls"] = {"https://example.invalid/x"};
  absl::StatusOr<Descriptor> d = ParseDescriptor(j);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size, 100);
  EXPECT_EQ(d->urls.size(), 1u);
  EXPECT_TRUE(d->has_platform);
  j["size"] = -1;
  EXPECT_FALSE(ParseDescriptor(j).ok());
}

TEST(HostPlatform, IsLinux) { EXPECT_EQ(HostPlatform().os, "linux"); }

}  // namespace
}  // namespace crius::image
