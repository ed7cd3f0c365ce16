# The on-disk side of images: content store, layer unpacking, layer store,
# image records and container root filesystems. Included after
# registry.cmake, whose target provides the digest helpers.
find_package(LibArchive REQUIRED)
crius_library(crius_image_store
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/store_fs.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/content_store.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/layer_apply.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/layer_unpack.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/layer_store.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/image_record.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/image_store.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/rootfs.cc
  DEPS
    crius_common
    crius_image_registry  # digest.h: Digester, Sha256, ValidateDigest
    nlohmann_json::nlohmann_json
    LibArchive::LibArchive
    absl::status absl::statusor absl::strings absl::str_format absl::synchronization
    absl::flat_hash_map absl::flat_hash_set absl::cleanup absl::time)
