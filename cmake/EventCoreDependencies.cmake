# Every dependency comes from Debian 12's archive (scripts/lib/common.sh installs them).
find_package(Threads REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(cereal REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)

include(EventCoreCAF)

if(EVENTCORE_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
  include(Catch)
endif()
