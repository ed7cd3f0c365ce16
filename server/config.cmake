# criusd's configuration: the config file, drop-ins, flags and their defaults.
# Included from server/CMakeLists.txt. Sources are named relative to this file
# so the include works whichever list includes it.
crius_library(crius_config
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/config.cc
    ${CMAKE_CURRENT_LIST_DIR}/flags.cc
  DEPS
    crius_common yaml-cpp nlohmann_json::nlohmann_json
    absl::strings absl::status absl::statusor)
