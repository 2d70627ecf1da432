#include <thread>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {
std::string applied_migrations(const ScopedSchema& schema) {
  return exec_sql("SELECT count(*) || ':' || max(version) FROM " + schema.name() + ".schema_migrations");
}

// Back to the schema of version 7, as far as migration 8 reads it: a version
// row per stream (the highest event's), and no functions of its own.
void undo_migration_8(const std::string& s) {
  exec_sql("DROP FUNCTION " + s + ".eventcore_stream_key, " + s + ".eventcore_conflict; ALTER TABLE " + s +
           ".streams ADD COLUMN version bigint NOT NULL DEFAULT 0; UPDATE " + s +
           ".streams t SET version = (SELECT max(stream_version) FROM " + s +
           ".events e WHERE e.stream_id = t.stream_id); DELETE FROM " + s + ".schema_migrations WHERE version >= 8");
}
}  // namespace

TEST_CASE("opening a store twice on the same schema migrates once and keeps the events") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("migrate");
  {
    auto store = open_store(store_config(schema));
    REQUIRE(store->append(one_event(stream("kept"), ExpectedVersion::no_stream())).ok());
  }
  const std::string after_first = applied_migrations(schema);
  auto store = open_store(store_config(schema));
  CHECK(applied_migrations(schema) == after_first);
  CHECK(store->stream_version(stream("kept"))->value == 1);
}

TEST_CASE("threads opening stores on a fresh schema at the same time all succeed and migrate once") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("migrate_race");
  constexpr int threads = 4;
  std::vector<std::string> errors(threads);
  std::vector<std::thread> openers;
  for (int t = 0; t < threads; ++t)
    openers.emplace_back([&, t] {
      auto store = PostgresStore::open(store_config(schema));
      if (!store) errors[t] = to_string(store.error());
    });
  for (auto& o : openers) o.join();
  for (const auto& e : errors) CHECK(e == "");
  const auto result = applied_migrations(schema);
  const auto count = result.substr(0, result.find(':'));
  const auto latest = result.substr(result.find(':') + 1);
  CHECK(count == latest);  // each version recorded once
}

TEST_CASE("a schema name that is not a plain identifier is rejected before connecting") {
  for (const char* bad : {"", "Upper", "1starts_with_digit", "semi;colon", "quote\"d", "a b",
                          "x123456789012345678901234567890123456789012345678901234567890123"}) {
    PostgresStoreConfig config;
    config.conninfo = "host=127.0.0.1 port=1";
    config.schema = bad;
    auto store = PostgresStore::open(config);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == ErrorCode::invalid_argument);
  }
}

TEST_CASE("the group-commit function keeps generic plans, and they scan no table") {
  // A generic plan made while a table was small (hash join over a seq scan)
  // would otherwise stay with a pooled session while the table grows; and
  // its statements unnest arrays, which would have them planned anew on
  // every call (postgres_append_sql.cpp says why).
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("migrate_plans");
  auto store = open_store(store_config(schema));
  CHECK(exec_sql("SELECT string_agg(proname || ':' || array_to_string(proconfig, ','), ' ' ORDER BY proname)"
                 " FROM pg_proc WHERE pronamespace = '" + schema.name() + "'::regnamespace"
                 " AND proname IN ('eventcore_append', 'eventcore_append_batch')") ==
        "eventcore_append_batch:enable_seqscan=off,plan_cache_mode=force_generic_plan");
}

TEST_CASE("migration 8 takes a store's streams from version rows to the events' key, and appends go on where "
          "they were") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("migrate_versions");
  const auto a = stream("kept-a"), b = stream("kept-b");
  {
    auto store = open_store(store_config(schema));
    REQUIRE(store->append(one_event(a, ExpectedVersion::no_stream())).ok());
    REQUIRE(store->append(one_event(a, ExpectedVersion::exact(1))).ok());
    REQUIRE(store->append(one_event(b, ExpectedVersion::no_stream())).ok());
  }
  // Version 7, with the placeholder row a read-only participant left for a
  // stream without events.
  const std::string s = schema.name();
  undo_migration_8(s);
  exec_sql("INSERT INTO " + s + ".streams (stream_id, version) VALUES ('placeholder', 0)");
  REQUIRE(exec_sql("SELECT string_agg(stream_id || ':' || version, ' ' ORDER BY stream_id) FROM " + s + ".streams") ==
          "kept-a:2 kept-b:1 placeholder:0");

  auto store = open_store(store_config(schema));
  CHECK(exec_sql("SELECT max(version) FROM " + s + ".schema_migrations") == "8");
  // An older binary's append names the version column: it fails, and writes nothing.
  CHECK(exec_sql("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" + s +
                 "' AND table_name = 'streams' AND column_name = 'version'") == "0");
  auto streams = store->list_streams("", "", 10);
  REQUIRE(streams.ok());
  REQUIRE(streams->size() == 2);
  CHECK((*streams)[0].stream == a);
  CHECK((*streams)[0].version.value == 2);
  CHECK((*streams)[1].version.value == 1);
  CHECK(store->totals()->streams == 2);
  CHECK(store->append(one_event(a, ExpectedVersion::exact(1))).error().code == ErrorCode::conflict);
  auto appended = store->append(one_event(a, ExpectedVersion::exact(2)));
  REQUIRE(appended.ok());
  CHECK(appended->streams[0].version.value == 3);
  CHECK(store->append(one_event(stream("placeholder"), ExpectedVersion::no_stream())).ok());
}

TEST_CASE("migration 5 moves idempotency records out of the log, leaving the log as it was") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("migrate_records");
  // A store as an earlier version left it: the record is the one event of '$idempotency-<key>'.
  const Payload old_record{7, 8, 9};
  {
    auto store = open_store(store_config(schema));
    REQUIRE(store->append(one_event(stream("$idempotency-old-key"), ExpectedVersion::no_stream(),
                                    EventToWrite{EventId::generate(), "$CommandRecorded", old_record, {}}))
                .ok());
    REQUIRE(store->append(one_event(stream("$idempotency-not-a-record"), ExpectedVersion::no_stream())).ok());
  }
  // Back to version 4: undo migration 5 and every later one.
  const std::string s = schema.name();
  undo_migration_8(s);
  exec_sql("DROP TABLE " + s + ".command_records; DROP INDEX " + s + ".events_category; DROP FUNCTION " + s +
           ".eventcore_read_category; DROP TABLE " + s + ".projection_checkpoints, " + s +
           ".projection_dead_letters; DELETE FROM " + s + ".schema_migrations WHERE version >= 5");
  auto store = open_store(store_config(schema));
  auto record = store->load_command_record("old-key");
  REQUIRE(record.ok());
  REQUIRE(record->has_value());
  CHECK((*record)->data == old_record);
  CHECK_FALSE(store->load_command_record("not-a-record")->has_value());
  CHECK(store->stream_version(stream("$idempotency-old-key"))->value == 1);
}

TEST_CASE("migration 7 adopts the projection tables an earlier runtime created, rows and all") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("migrate_projections");
  { auto store = open_store(store_config(schema)); }
  // Back to version 6, with the tables as the projection runtime's own migration left them.
  const std::string s = schema.name();
  undo_migration_8(s);
  exec_sql("DROP TABLE " + s + ".projection_dead_letters; DELETE FROM " + s +
           ".schema_migrations WHERE version >= 7; CREATE TABLE " + s +
           ".projection_schema_migrations (version integer PRIMARY KEY); INSERT INTO " + s +
           ".projection_schema_migrations VALUES (1); INSERT INTO " + s +
           ".projection_checkpoints (name, tx_id, position) VALUES ('kept', '42', 7)");
  auto store = open_store(store_config(schema));
  CHECK(exec_sql("SELECT tx_id::text || ':' || position FROM " + s + ".projection_checkpoints WHERE name = 'kept'") ==
        "42:7");
  CHECK(exec_sql("SELECT count(*) FROM " + s + ".projection_dead_letters") == "0");
  CHECK(exec_sql("SELECT to_regclass('" + s + ".projection_schema_migrations') IS NULL") == "t");
  CHECK(exec_sql("SELECT max(version) FROM " + s + ".schema_migrations") == "8");
}
