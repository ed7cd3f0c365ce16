#pragma once
// Media types of the OCI image spec and of Docker's image manifest v2, the
// two families a registry may hand us. Kept as constants so a typo in one
// place cannot make a manifest silently unrecognised.

#include <string_view>

namespace crius::image {

// OCI image spec.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

// Docker image manifest v2, schema 2, and its manifest list.
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// Docker schema 1: recognised only to be refused with a clear message.
inline constexpr std::string_view kDockerSchema1Manifest =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1SignedManifest =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

// An index / manifest list: points at one manifest per platform.
inline bool IsIndexMediaType(std::string_view t) {
  return t == kOciIndex || t == kDockerManifestList;
}

// A single-platform image manifest (config + layers).
inline bool IsImageManifestMediaType(std::string_view t) {
  return t == kOciManifest || t == kDockerManifest;
}

inline bool IsSchema1MediaType(std::string_view t) {
  return t == kDockerSchema1Manifest || t == kDockerSchema1SignedManifest;
}

// How a layer blob is compressed, from its media type.
enum class LayerCompression { kNone, kGzip, kZstd, kUnknown };

inline LayerCompression LayerCompressionOf(std::string_view t) {
  if (t == kOciLayer || t == kOciLayerNondistributable) return LayerCompression::kNone;
  if (t == kOciLayerGzip || t == kOciLayerNondistributableGzip || t == kDockerLayerGzip ||
      t == kDockerForeignLayerGzip) {
    return LayerCompression::kGzip;
  }
  if (t == kOciLayerZstd || t == kOciLayerNondistributableZstd) return LayerCompression::kZstd;
  return LayerCompression::kUnknown;
}

}  // namespace crius::image
