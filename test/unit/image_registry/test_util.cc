#include "test/unit/image_registry/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/status.h"
#include "common/unique_fd.h"

namespace crius::image::test {

using crius::testing::Compression;
using crius::testing::ImageBuilder;
using crius::testing::TarEntry;

absl::StatusOr<crius::testing::BuiltImage> SmallImage(const std::string& cmd_word) {
  ASSIGN_OR_RETURN(std::vector<TarEntry> rootfs, crius::testing::BusyboxRootfs());
  return ImageBuilder()
      .AddLayer(std::move(rootfs), Compression::kGzip)
      .AddLayer({TarEntry::Dir("app"), TarEntry::File("app/data.txt", "zstd layer\n")}, Compression::kZstd)
      .AddLayer({TarEntry::File("app/plain.txt", "plain layer\n")}, Compression::kNone)
      .Entrypoint({"/bin/sh", "-c"})
      .Cmd({"echo " + cmd_word})
      .Env({"PATH=/bin", "GREETING=hi"})
      .User("1000:1000")
      .WorkingDir("/app")
      .StopSignal("SIGINT")
      .Build();
}

absl::StatusOr<nlohmann::json> PullConfig(const RegistryClient& client, const Reference& ref,
                                          const FetchedManifest& manifest, const Credentials& creds) {
  nlohmann::json m = nlohmann::json::parse(manifest.bytes, nullptr, false);
  if (!m.is_object()) return absl::InternalError("manifest is not JSON");
  ASSIGN_OR_RETURN(Descriptor config, ParseDescriptor(m["config"]));
  ASSIGN_OR_RETURN(std::string bytes, client.FetchBlobToString(ref, config.digest, config.size, creds));
  return nlohmann::json::parse(bytes, nullptr, false);
}

int ClosedPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace crius::image::test
