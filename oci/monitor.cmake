# The container monitor client (conmon) and the exit-file watcher.
crius_library(crius_oci_monitor
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/monitor.cc
    ${CMAKE_CURRENT_LIST_DIR}/exit_watcher.cc
    ${CMAKE_CURRENT_LIST_DIR}/process_watcher.cc
  DEPS crius_common nlohmann_json::nlohmann_json absl::strings absl::time Threads::Threads)
