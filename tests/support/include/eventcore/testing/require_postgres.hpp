#pragma once

// For Catch2 test cases that need PostgreSQL: skips the running test
// (ctest reports it as skipped) when EVENTCORE_SKIP_POSTGRES_TESTS=1; fails
// it when no database is configured (postgres_available throws with the
// explanation).

#include <catch2/catch.hpp>

#include "eventcore/testing/test_database.hpp"

#define EVENTCORE_REQUIRE_POSTGRES()                                                             \
  do {                                                                                           \
    if (!::eventcore::testing::postgres_available())                                             \
      ::eventcore::testing::skip_test("needs PostgreSQL (EVENTCORE_SKIP_POSTGRES_TESTS=1)");     \
  } while (false)
