#pragma once
// Small helpers shared by the image e2e and fault tests: a registry on
// loopback, busybox-based images, CRI request builders, and views of the daemon's image root (<root>/content,
// <root>/layers) computed independently of the code under test, so a test
// can say which blobs and layer directories must (not) be on disk.

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/api.pb.h"
#include "gtest/gtest.h"
#include "image/digest.h"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"

namespace crius::testing::img {

// A docker-registry on a loopback port; null (with a test failure) if it
// does not start.
inline std::unique_ptr<RegistryFixture> StartRegistry(RegistryOptions options = {}) {
  auto reg = RegistryFixture::Start(std::move(options));
  EXPECT_TRUE(reg.ok()) << reg.status();
  return reg.ok() ? std::move(*reg) : nullptr;
}

// Busybox plus one small layer of its own (compressed with `top`), so two
// images built with different `marker`s share the base layer but differ
// above it.
inline absl::StatusOr<BuiltImage> BusyboxWith(const std::string& marker,
                                              Compression top = Compression::kGzip) {
  auto rootfs = BusyboxRootfs();
  if (!rootfs.ok()) return rootfs.status();
  return ImageBuilder()
      .AddLayer(*rootfs, Compression::kGzip)
      .AddLayer({TarEntry::File("etc/marker", marker + "\n")}, top)
      .Cmd({"/bin/sh"})
      .Build();
}

inline runtime::v1::PullImageRequest PullReq(const std::string& ref) {
  runtime::v1::PullImageRequest r;
  r.mutable_image()->set_image(ref);
  return r;
}

inline runtime::v1::ImageStatusRequest StatusReq(const std::string& ref) {
  runtime::v1::ImageStatusRequest r;
  r.mutable_image()->set_image(ref);
  return r;
}

inline runtime::v1::RemoveImageRequest RemoveReq(const std::string& ref) {
  runtime::v1::RemoveImageRequest r;
  r.mutable_image()->set_image(ref);
  return r;
}

// Names in `dir` (without "." and ".."), sorted; empty when it is missing.
inline std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Entries not starting with '.', i.e. without stores' temp/removal names.
inline std::vector<std::string> VisibleEntries(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& n : Entries(dir)) {
    if (n[0] != '.') out.push_back(n);
  }
  return out;
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::string Hex(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// Where the content store keeps a committed blob.
inline std::string BlobPath(const std::string& root, const std::string& digest) {
  return root + "/content/blobs/sha256/" + Hex(digest);
}
inline std::string IngestDir(const std::string& root) { return root + "/content/ingest"; }
inline std::string LayersDir(const std::string& root) { return root + "/layers"; }
inline std::string LayerDir(const std::string& root, const std::string& chain_id) {
  return LayersDir(root) + "/" + Hex(chain_id);
}

// The OCI image spec's ChainIDs for a stack of DiffIDs, bottom first.
inline std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& d : diff_ids) {
    out.push_back(out.empty() ? d : image::Sha256Digest(out.back() + " " + d));
  }
  return out;
}

// The hex names ChainIds(diff_ids) would have under <root>/layers.
inline std::set<std::string> ChainHexes(const std::vector<std::string>& diff_ids) {
  std::set<std::string> out;
  for (const auto& c : ChainIds(diff_ids)) out.insert(Hex(c));
  return out;
}

}  // namespace crius::testing::img
