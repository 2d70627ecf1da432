#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "postgres_connection_pool.hpp"
#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {
Error open_error(const std::string& conninfo) {
  PostgresStoreConfig config;
  config.conninfo = conninfo;
  config.connect_timeout = std::chrono::seconds{2};
  const auto start = std::chrono::steady_clock::now();
  auto store = PostgresStore::open(config);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  REQUIRE_FALSE(store.ok());
  return store.error();
}
}  // namespace

TEST_CASE("a server that cannot be reached fails open with unavailable, naming host, port and "
          "database but not the password") {
  for (const char* conninfo : {"host=127.0.0.1 port=1 user=app password=s3cret dbname=events",
                               "postgresql://app:s3cret@127.0.0.1:1/events"}) {
    const Error error = open_error(conninfo);
    INFO(error.message);
    CHECK(error.code == ErrorCode::unavailable);
    CHECK(error.message.find("127.0.0.1") != std::string::npos);
    CHECK(error.message.find("port 1 ") != std::string::npos);
    CHECK(error.message.find("events") != std::string::npos);
    CHECK(error.message.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("a malformed connection string fails open with invalid_argument and no password") {
  for (const char* conninfo : {"host=127.0.0.1 password=s3cret port", "host=127.0.0.1 password=s3cret nosuchoption=1",
                               "postgresql://app:s3cret@127.0.0.1:5432/db?nosuchoption=1"}) {
    const Error error = open_error(conninfo);
    INFO(error.message);
    CHECK(error.code == ErrorCode::invalid_argument);
    CHECK(error.message.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("an option value libpq rejects (a port that is no number, an unknown sslmode) is invalid_argument, "
          "not unavailable") {
  for (const char* conninfo : {"host=127.0.0.1 port=notaport password=s3cret",
                               "postgresql://app:s3cret@127.0.0.1:5432/db?sslmode=bogus&sslpassword=s3cret"}) {
    const Error error = open_error(conninfo);
    INFO(error.message);
    CHECK(error.code == ErrorCode::invalid_argument);
    CHECK(error.message.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("a wrong database name fails open with a message naming it") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("wrongdb");
  auto config = store_config(schema);
  config.conninfo = test_database_url();
  config.conninfo = config.conninfo.substr(0, config.conninfo.rfind('/')) + "/no_such_database_here";
  auto store = PostgresStore::open(config);
  REQUIRE_FALSE(store.ok());
  INFO(store.error().message);
  CHECK(store.error().code == ErrorCode::unavailable);
  CHECK(store.error().message.find("no_such_database_here") != std::string::npos);
}

// A new pooled connection prepares the store's statements in one pipeline.
TEST_CASE("prepare_all prepares every statement in one round trip, and a failed one is named, and the connection "
          "stays usable") {
  EVENTCORE_REQUIRE_POSTGRES();
  RawConnection raw;
  auto prepared = [&](const std::string& name) {
    return raw.exec("SELECT count(*) FROM pg_prepared_statements WHERE name = '" + name + "'") == "1";
  };
  SECTION("all of them, every Parse sent before the first answer is read") {
    // libpq's protocol trace, a line per message: "<time>\tF\t<length>\tParse\t..."
    // sent, "\tB\t" received, in order.
    std::FILE* trace = std::tmpfile();
    REQUIRE(trace != nullptr);
    PQtrace(raw.conn, trace);
    const auto status = pg::prepare_all(raw.conn, {{"pa_one", "SELECT 1"}, {"pa_two", "SELECT $1::int + 1"}}, "here");
    PQuntrace(raw.conn);
    REQUIRE(status.ok());
    std::rewind(trace);
    std::vector<std::string> lines;
    for (char line[4096]; std::fgets(line, sizeof line, trace);) lines.emplace_back(line);
    std::fclose(trace);
    std::size_t last_parse = 0, first_answer = lines.size(), parses = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find("\tF\t") != std::string::npos && lines[i].find("\tParse\t") != std::string::npos) {
        last_parse = i;
        ++parses;
      }
      if (lines[i].find("\tB\t") != std::string::npos && first_answer == lines.size()) first_answer = i;
    }
    CHECK(parses == 2);
    CHECK(last_parse < first_answer);
    CHECK(prepared("pa_one"));
    CHECK(prepared("pa_two"));
    pg::ResultPtr two(PQexecPrepared(raw.conn, "pa_two", 1, std::vector<const char*>{"41"}.data(), nullptr,
                                     nullptr, 0));
    REQUIRE(PQresultStatus(two.get()) == PGRES_TUPLES_OK);
    CHECK(std::string(PQgetvalue(two.get(), 0, 0)) == "42");
  }
  SECTION("one the server rejects: named with the server's reason, the others after it not prepared") {
    auto status = pg::prepare_all(
        raw.conn, {{"pb_one", "SELECT 1"}, {"pb_bad", "SELECT * FROM no_such_table"}, {"pb_three", "SELECT 3"}},
        "on the primary");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == ErrorCode::failed);
    CHECK(status.error().message.find("cannot prepare pb_bad on the primary") != std::string::npos);
    CHECK(status.error().message.find("no_such_table") != std::string::npos);
    CHECK_FALSE(prepared("pb_three"));
    CHECK(raw.exec("SELECT 7") == "7");  // out of pipeline mode, nothing left to read
  }
}
