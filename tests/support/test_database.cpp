#include "eventcore/testing/test_database.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace eventcore::testing {

namespace {
const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::string run_sql(const std::string& sql) {
  PGconn* conn = PQconnectdb(test_database_url().c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("test database: cannot connect: " + msg);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "schema does not exist" is expected
  PGresult* res = PQexec(conn, sql.c_str());
  auto status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string msg = PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
    throw std::runtime_error("test database: " + sql + ": " + msg);
  }
  std::string value;
  if (status == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0)
    value = PQgetvalue(res, 0, 0);
  PQclear(res);
  PQfinish(conn);
  return value;
}

void pgctl(const char* command) {
  std::string cmd = std::string(EVENTCORE_SOURCE_DIR) + "/scripts/pgctl.sh " + command + " '" +
                    env("EVENTCORE_TEST_PGDATA") + "' " + env("EVENTCORE_TEST_PGPORT");
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}
}  // namespace

bool postgres_available() {
  if (env("EVENTCORE_TEST_DATABASE_URL")) return true;
  const char* skip = env("EVENTCORE_SKIP_POSTGRES_TESTS");
  if (skip && std::string(skip) == "1") return false;
  throw std::runtime_error(
      "EVENTCORE_TEST_DATABASE_URL is not set: run scripts/test.sh, or set it to a PostgreSQL "
      "the tests may write to (EVENTCORE_SKIP_POSTGRES_TESTS=1 skips these tests)");
}

std::string test_replica_url() {
  const char* url = std::getenv("EVENTCORE_TEST_REPLICA_URL");
  if (!url || !*url)
    skip_test("needs a hot standby of the test database (EVENTCORE_TEST_REPLICA_URL; scripts/test.sh starts one)");
  return url;
}

void skip_test(const std::string& why) {
  std::fprintf(stderr, "SKIPPED: %s\n", why.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(77);
}

std::string test_database_url() {
  if (const char* url = env("EVENTCORE_TEST_DATABASE_URL")) return url;
  postgres_available();  // throws with the explanation
  return {};
}

ScopedSchema::ScopedSchema(const std::string& hint) {
  static std::atomic<int> counter{0};
  name_ = "ect_" + hint + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  run_sql("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
}

ScopedSchema::~ScopedSchema() {
  try {
    run_sql("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  } catch (...) {
    // The server may be down at the end of a failure test; the schema name is unique anyway.
  }
}

std::string exec_sql(const std::string& sql) { return run_sql(sql); }

bool can_control_server() {
  return env("EVENTCORE_TEST_PGDATA") != nullptr && env("EVENTCORE_TEST_PGPORT") != nullptr;
}
void stop_server() { pgctl("stop"); }
void start_server() { pgctl("start"); }
void crash_server() { pgctl("crash"); }

}  // namespace eventcore::testing
