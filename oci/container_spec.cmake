# The OCI runtime spec of a CRI container: the builder, the user/group
# resolver, capability sets and seccomp profiles. Built on the spec model in
# crius_oci (oci/spec.cc).
crius_library(crius_oci_container
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/container_spec.cc
    ${CMAKE_CURRENT_LIST_DIR}/capabilities.cc
    ${CMAKE_CURRENT_LIST_DIR}/seccomp_profile.cc
    ${CMAKE_CURRENT_LIST_DIR}/user.cc
  DEPS crius_oci crius_api crius_common PkgConfig::SECCOMP nlohmann_json::nlohmann_json
       absl::strings absl::status absl::statusor)
