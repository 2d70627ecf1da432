#pragma once

// Helpers shared by the PostgreSQL-only tests.

#include <catch2/catch.hpp>
#include <libpq-fe.h>
#include <poll.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

namespace eventcore::testing {

inline PostgresStoreConfig store_config(const ScopedSchema& schema) {
  PostgresStoreConfig config;
  config.conninfo = test_database_url();
  config.schema = schema.name();
  config.pool_size = 4;
  config.connect_timeout = std::chrono::seconds{2};
  return config;
}

inline std::unique_ptr<PostgresStore> open_store(PostgresStoreConfig config) {
  auto store = PostgresStore::open(std::move(config));
  if (!store) FAIL("PostgresStore::open: " << to_string(store.error()));
  return std::move(store).value();
}

inline StreamId stream(const std::string& name) { return StreamId::try_new(name).value(); }

inline EventToWrite event(const std::string& type = "Happened", Payload payload = {1, 2, 3}) {
  return EventToWrite{EventId::generate(), type, std::move(payload), {}};
}

inline AppendRequest one_event(const StreamId& id, ExpectedVersion expected, EventToWrite e = event()) {
  AppendRequest request;
  request.streams.push_back(StreamWrite{id, expected, {std::move(e)}});
  return request;
}

// A reader following the log with read_all: each follow() reads the next
// page, checks that no event comes twice, and returns how many came.
struct LogFollower {
  EventStore& store;
  GlobalPosition cursor{};
  std::set<EventId> seen;
  std::size_t follow() {
    auto page = store.read_all(cursor, 100);
    REQUIRE(page.ok());
    for (const auto& e : page->events) CHECK(seen.insert(e.id).second);
    cursor = page->next;
    return page->events.size();
  }
};

// A plain libpq connection to the test database (or `url`), closed on scope exit.
struct RawConnection {
  PGconn* conn;
  explicit RawConnection(const std::string& schema = {}, const std::string& url = test_database_url()) {
    conn = PQconnectdb(url.c_str());
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    if (!schema.empty()) exec("SET search_path TO " + schema);
  }
  ~RawConnection() { PQfinish(conn); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Runs a statement; fails the test on error; returns the first value or "".
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(result);
    std::string value;
    if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) value = PQgetvalue(result, 0, 0);
    const std::string error = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) FAIL(sql << ": " << error);
    return value;
  }
};

// Begins an append that stays open: what the store's append does (the
// stream's lock, then an event at version 1 of a new stream `stream`), in a
// transaction left open on `writer`, so that it draws its transaction id and
// position before later appends. Returns the event's position.
inline std::string begin_open_append(RawConnection& writer, const std::string& stream, const std::string& event_id) {
  writer.exec("BEGIN");
  writer.exec("SELECT pg_advisory_xact_lock(eventcore_stream_key('" + stream + "'))");
  return writer.exec("INSERT INTO events (event_id, stream_id, stream_version, event_type, payload) VALUES ('" +
                     event_id + "', '" + stream + "', 1, 'Slow', '\\x00') RETURNING position");
}

// Waits up to `timeout` for a notification on `channel` (the connection
// LISTENs on it), consuming the notifications up to that one.
inline bool notified(RawConnection& listener, const std::string& channel, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    PQconsumeInput(listener.conn);
    while (PGnotify* n = PQnotifies(listener.conn)) {
      const bool match = channel == n->relname;
      PQfreemem(n);
      if (match) return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{PQsocket(listener.conn), POLLIN, 0};
    ::poll(&fd, 1, static_cast<int>(left.count()));
  }
}

}  // namespace eventcore::testing
