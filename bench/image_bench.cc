// crius_image_bench: the image pull benchmark's helper program.
//
//   crius_image_bench serve --info FILE [--layers N] [--layer-mib M]
//     Builds a busybox layer plus N layers of M MiB of random (so
//     incompressible) file content, gzip, starts Debian's docker-registry on
//     a free loopback port, pushes the image as bench/big:1.0, writes what
//     the script needs (reference, port, blob digests and where the registry
//     keeps them) to FILE as JSON, then waits until its stdin closes and
//     stops the registry.
//
//   crius_image_bench pull --endpoint unix:///path.sock --image REF
//     One CRI PullImage through the client library, no deadline (as kubelet
//     does); prints the wall time in milliseconds on stdout.
//
// It is a benchmark, not a test: nothing here asserts on timings.

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cri_client.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"
#include "test/support/image_builder.h"
#include "test/support/registry_fixture.h"

namespace {

using crius::testing::Compression;
using crius::testing::ImageBuilder;
using crius::testing::TarEntry;

int Usage() {
  std::cerr << "usage: crius_image_bench serve --info FILE [--layers N] [--layer-mib M]\n"
               "       crius_image_bench pull --endpoint EP --image REF\n";
  return 2;
}

// M MiB of pseudo-random bytes split over files of 1 MiB: gzip cannot
// shrink them, so the wire size matches the unpacked size.
std::vector<TarEntry> RandomLayer(int index, int mib, std::mt19937_64& rng) {
  std::vector<TarEntry> entries;
  const std::string dir = absl::StrCat("data", index);
  entries.push_back(TarEntry::Dir(dir));
  for (int f = 0; f < mib; ++f) {
    std::string content(size_t{1} << 20, '\0');
    for (size_t i = 0; i < content.size(); i += 8) {
      const uint64_t v = rng();
      std::memcpy(content.data() + i, &v, 8);
    }
    entries.push_back(TarEntry::File(absl::StrCat(dir, "/blob", f, ".bin"), std::move(content)));
  }
  return entries;
}

int Serve(const std::string& info_path, int layers, int layer_mib) {
  auto rootfs = crius::testing::BusyboxRootfs();
  if (!rootfs.ok()) {
    std::cerr << "busybox rootfs: " << rootfs.status() << "\n";
    return 1;
  }
  ImageBuilder builder;
  builder.AddLayer(*rootfs, Compression::kGzip);
  std::mt19937_64 rng(20261123);
  for (int i = 0; i < layers; ++i) builder.AddLayer(RandomLayer(i, layer_mib, rng), Compression::kGzip);
  builder.Cmd({"/bin/sh"});
  auto image = builder.Build();
  if (!image.ok()) {
    std::cerr << "build: " << image.status() << "\n";
    return 1;
  }
  auto registry = crius::testing::RegistryFixture::Start();
  if (!registry.ok()) {
    std::cerr << "registry: " << registry.status() << "\n";
    return 1;
  }
  auto& reg = **registry;
  auto pushed = reg.Push(*image, "bench/big:1.0");
  if (!pushed.ok()) {
    std::cerr << "push: " << pushed.status() << "\n";
    return 1;
  }
  nlohmann::json info;
  info["image"] = reg.host() + "/bench/big:1.0";
  info["registry"] = reg.url();
  info["host"] = reg.host();
  info["repo"] = "bench/big";
  info["manifest"] = pushed->manifest_digest;
  info["config"] = image->config.digest;
  int64_t total = image->config.size();
  for (const auto& l : image->layers) {
    info["layers"].push_back(l.digest);
    total += l.size();
  }
  info["compressed_bytes"] = total;
  {
    std::ofstream out(info_path + ".tmp");
    out << info.dump(2) << "\n";
  }
  std::rename((info_path + ".tmp").c_str(), info_path.c_str());
  std::cerr << "serving " << info["image"].get<std::string>() << " (" << total << " bytes)\n";
  // Stay up until the script closes our stdin. Ctrl-C reaches the whole
  // process group: leave it to the script, whose cleanup closes stdin, so
  // the registry is always stopped by the fixture.
  std::signal(SIGINT, SIG_IGN);
  char buf[256];
  while (std::fread(buf, 1, sizeof buf, stdin) > 0) {
  }
  return 0;
}

int Pull(const std::string& endpoint, const std::string& image) {
  auto client = crius::client::CriClient::Connect(endpoint, absl::Seconds(30));
  if (!client.ok()) {
    std::cerr << "connect: " << client.status() << "\n";
    return 1;
  }
  (*client)->set_default_timeout(absl::InfiniteDuration());
  runtime::v1::PullImageRequest req;
  req.mutable_image()->set_image(image);
  const auto start = std::chrono::steady_clock::now();
  auto resp = (*client)->PullImage(req);
  const auto end = std::chrono::steady_clock::now();
  if (!resp.ok()) {
    std::cerr << "PullImage: " << resp.status() << "\n";
    return 1;
  }
  std::printf("%.1f\n", std::chrono::duration<double, std::milli>(end - start).count());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string mode = argv[1];
  std::string info, endpoint, image;
  int layers = 4, layer_mib = 12;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--info") info = v;
    else if (k == "--layers") layers = std::stoi(v);
    else if (k == "--layer-mib") layer_mib = std::stoi(v);
    else if (k == "--endpoint") endpoint = v;
    else if (k == "--image") image = v;
    else return Usage();
  }
  if (mode == "serve" && !info.empty()) return Serve(info, layers, layer_mib);
  if (mode == "pull" && !endpoint.empty() && !image.empty()) return Pull(endpoint, image);
  return Usage();
}
