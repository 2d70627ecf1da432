#pragma once

#include <string>

namespace eventcore::testing {

// The PostgreSQL the tests run against: EVENTCORE_TEST_DATABASE_URL, which
// scripts/test.sh sets to the server it started. Without it, tests that need
// PostgreSQL fail with a message saying so (never pass silently), unless
// EVENTCORE_SKIP_POSTGRES_TESTS=1, when postgres_available() is false.
bool postgres_available();
std::string test_database_url();
// A hot standby of the test database (EVENTCORE_TEST_REPLICA_URL, which
// scripts/test.sh sets); skips the running test when there is none.
std::string test_replica_url();

// Ends the running test as skipped: prints why and exits the process with
// 77, which ctest reports as skipped (tests/CMakeLists.txt). Every ctest test
// is one Catch2 case in a process of its own, so nothing else is cut short.
[[noreturn]] void skip_test(const std::string& why);

// A schema of its own for one test, dropped (with everything in it) when the
// object goes out of scope, so tests never see each other's events.
class ScopedSchema {
 public:
  explicit ScopedSchema(const std::string& hint = "t");
  ~ScopedSchema();
  ScopedSchema(const ScopedSchema&) = delete;
  ScopedSchema& operator=(const ScopedSchema&) = delete;

  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

// Runs one SQL statement (no parameters) against the test database and
// returns the first column of the first row, or "" when there is none.
// Fails the running test on error.
std::string exec_sql(const std::string& sql);

// The control of the server under test, for tests that stop and restart it:
// EVENTCORE_TEST_PGDATA and EVENTCORE_TEST_PGPORT name the data folder and
// port that scripts/test.sh started; these call scripts/pgctl.sh.
bool can_control_server();
void stop_server();
void start_server();
// Stops the server as a crash would (pg_ctl -m immediate) and starts it again.
void crash_server();

}  // namespace eventcore::testing
