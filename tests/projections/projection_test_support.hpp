#pragma once

// Helpers shared by the projection tests: a store and a runtime on a schema
// of their own, writers, test projections, bounded waits.

#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "eventcore/projections/projection.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"
#include "builtin_projections.hpp"  // apps/projection_worker

namespace eventcore::testing {

using namespace std::chrono_literals;

inline StreamId stream(const std::string& name) { return StreamId::try_new(name).value(); }

inline AppendRequest one_event(const std::string& stream_name, const std::string& type = "Happened") {
  AppendRequest request;
  request.streams.push_back(
      StreamWrite{stream(stream_name), ExpectedVersion::any(), {EventToWrite{EventId::generate(), type, {1, 2, 3}, {}}}});
  return request;
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

inline std::int64_t sql_int(const std::string& sql) { return std::stoll("0" + exec_sql(sql)); }

// A PostgresStore, a projection runtime and an actor system on one schema.
struct Fixture {
  ScopedSchema schema;
  std::string channel;
  std::shared_ptr<PostgresStore> store;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> system;
  std::unique_ptr<projections::ProjectionRuntime> runtime;

  // The store's notify mode and interval default to the store's own defaults.
  explicit Fixture(const std::string& hint, NotifyMode mode = PostgresStoreConfig{}.notify,
                   std::chrono::microseconds notify_interval = PostgresStoreConfig{}.notify_interval,
                   std::chrono::milliseconds listen_keepalive = PostgresStoreConfig{}.listen_keepalive)
      : schema(hint) {
    channel = schema.name();
    PostgresStoreConfig config;
    config.conninfo = test_database_url();
    config.schema = schema.name();
    config.pool_size = 6;
    config.notify = mode;
    config.notify_interval = notify_interval;
    config.notify_channel = channel;
    config.connect_timeout = std::chrono::seconds{2};
    config.listen_keepalive = listen_keepalive;
    auto opened = PostgresStore::open(config);
    if (!opened) FAIL("PostgresStore::open: " << to_string(opened.error()));
    store = std::shared_ptr<PostgresStore>(std::move(opened).value());
    system = std::make_unique<caf::actor_system>(cfg);
  }
  ~Fixture() {
    if (runtime) runtime->stop();
    runtime.reset();
    system.reset();
  }

  projections::ProjectionRuntimeConfig runtime_config() const {
    projections::ProjectionRuntimeConfig rc;
    rc.retry_interval = 50ms;
    rc.standby_interval = 100ms;
    return rc;
  }

  void start(projections::ProjectionRuntimeConfig rc) {
    auto started = projections::ProjectionRuntime::start(*system, store, std::move(rc));
    if (!started) FAIL("ProjectionRuntime::start: " << to_string(started.error()));
    runtime = std::move(started).value();
  }
  void start() { start(runtime_config()); }

  std::string table(const std::string& name) const { return schema.name() + "." + name; }
  std::int64_t events_in_log() const { return sql_int("SELECT count(*) FROM " + table("events")); }

  projections::ProjectionStatus status(const std::string& name) const {
    auto s = runtime->status(name);
    if (!s) FAIL("status: " << to_string(s.error()));
    return s.value();
  }
};

// In memory: every event it was given, in order, and per-type counts.
class EventLog final : public projections::Projection {
 public:
  void apply(const StoredEvent& event) override {
    std::lock_guard lock(mutex_);
    ids_.push_back(event.id);
    positions_.push_back(event.position);
    ++counts_[event.type];
  }
  std::vector<EventId> ids() const {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return ids_.size();
  }
  std::vector<GlobalPosition> positions() const {
    std::lock_guard lock(mutex_);
    return positions_;
  }
  std::map<std::string, std::uint64_t> counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<EventId> ids_;
  std::vector<GlobalPosition> positions_;
  std::map<std::string, std::uint64_t> counts_;
};

// In PostgreSQL: a copy of every event it was given (no unique key, so a
// double apply shows as a duplicate row), and per-type counts. The same
// projection the worker process runs as "event_copy".
using worker::EventCopy;

// The checks "the read model equals a fold of the whole log, every event
// applied exactly once" for EventCopy: no event missing, none extra, none twice.
struct CopyCheck {
  std::int64_t log = 0, copied = 0, distinct = 0, missing = 0;
  bool exact() const { return copied == log && distinct == log && missing == 0; }
};
inline CopyCheck check_copy(const Fixture& f) {
  CopyCheck c;
  c.log = f.events_in_log();
  c.copied = sql_int("SELECT count(*) FROM " + f.table("event_copy"));
  c.distinct = sql_int("SELECT count(DISTINCT event_id) FROM " + f.table("event_copy"));
  c.missing = sql_int("SELECT count(*) FROM " + f.table("events") + " e WHERE NOT EXISTS (SELECT 1 FROM " +
                      f.table("event_copy") + " c WHERE c.event_id = e.event_id)");
  return c;
}

// Appends single events from `threads` threads until stopped; counts successes.
class Writers {
 public:
  Writers(std::shared_ptr<EventStore> store, int threads, std::chrono::microseconds pause = 0us,
          const std::string& prefix = "w") {
    for (int t = 0; t < threads; ++t)
      threads_.emplace_back([this, store, t, pause, prefix] {
        int i = 0;
        while (!stop_) {
          auto r = store->append(one_event(prefix + std::to_string(t) + "-" + std::to_string(i % 20),
                                           i % 3 == 0 ? "Opened" : "Deposited"));
          if (r) ++written_;
          else ++failed_;
          ++i;
          if (pause.count() > 0) std::this_thread::sleep_for(pause);
        }
      });
  }
  ~Writers() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  std::uint64_t written() const { return written_; }
  std::uint64_t failed() const { return failed_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> written_{0}, failed_{0};
  std::vector<std::thread> threads_;
};

// A slow writer: each transaction inserts an event (taking an early position)
// and commits only after `hold`, while fast writers commit later positions.
class SlowWriter {
 public:
  SlowWriter(const std::string& schema, std::chrono::milliseconds hold) {
    thread_ = std::thread([this, schema, hold] {
      PGconn* conn = PQconnectdb(test_database_url().c_str());
      if (PQstatus(conn) != CONNECTION_OK) {
        PQfinish(conn);
        return;
      }
      int i = 0;
      while (!stop_) {
        const std::string sql =
            "BEGIN; INSERT INTO " + schema +
            ".events (event_id, stream_id, stream_version, event_type, payload) VALUES (gen_random_uuid(), "
            "'slow-' || gen_random_uuid(), 1, 'Slow', '\\x00'::bytea); SELECT pg_sleep(" +
            std::to_string(hold.count() / 1000.0) + "); COMMIT";
        PGresult* r = PQexec(conn, sql.c_str());
        if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK) ++written_;
        PQclear(r);
        if (PQstatus(conn) != CONNECTION_OK) break;
        ++i;
      }
      PQfinish(conn);
    });
  }
  ~SlowWriter() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t written() const { return written_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> written_{0};
  std::thread thread_;
};

}  // namespace eventcore::testing
