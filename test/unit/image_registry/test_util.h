#pragma once
// Helpers shared by the registry client tests.

#include <string>

#include "absl/status/statusor.h"
#include "image/registry_client.h"
#include "nlohmann/json.hpp"
#include "test/support/image_builder.h"

namespace crius::image::test {

class StringSink : public BlobWriter {
 public:
  absl::Status Write(std::string_view chunk) override {
    data.append(chunk);
    ++writes;
    return absl::OkStatus();
  }
  std::string data;
  int writes = 0;
};

// busybox rootfs (gzip) + a zstd layer + an uncompressed layer, with a config
// that sets every field the runtime reads.
absl::StatusOr<crius::testing::BuiltImage> SmallImage(const std::string& cmd_word = "hello");

// Parsed config of a pulled manifest (fetches the config blob).
absl::StatusOr<nlohmann::json> PullConfig(const RegistryClient& client, const Reference& ref,
                                          const FetchedManifest& manifest, const Credentials& creds = {});

// A loopback port nothing listens on (bound and released).
int ClosedPort();

}  // namespace crius::image::test
