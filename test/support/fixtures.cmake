# Registry fixtures for image tests: the real registry on loopback (with
# basic or token auth), an image builder, and a scriptable fake HTTP server.
find_package(LibArchive REQUIRED)
find_package(OpenSSL REQUIRED)
add_library(crius_test_fixtures STATIC
  ${CMAKE_CURRENT_LIST_DIR}/registry_fixture.cc
  ${CMAKE_CURRENT_LIST_DIR}/image_builder.cc
  ${CMAKE_CURRENT_LIST_DIR}/fake_http_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/token_issuer.cc)
target_include_directories(crius_test_fixtures PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(crius_test_fixtures PRIVATE ${CRIUS_WARNINGS})
target_link_libraries(crius_test_fixtures PUBLIC
  crius_image_registry crius_common LibArchive::LibArchive OpenSSL::Crypto
  nlohmann_json::nlohmann_json GTest::gtest Threads::Threads)
