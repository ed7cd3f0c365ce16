# Image references, digests and the registry HTTP API v2 client.
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
crius_library(crius_image_registry
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/reference.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/digest.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/descriptor.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/http.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/registry_auth.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/registry_client.cc
  DEPS
    crius_common
    CURL::libcurl
    OpenSSL::Crypto
    nlohmann_json::nlohmann_json
    absl::status absl::statusor absl::strings absl::synchronization absl::time)
