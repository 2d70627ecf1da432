// The versions PostgresStore has seen streams reach, with which appends skip
// reading a stream's version (store/src/postgres_known_versions.hpp).

#include <chrono>
#include <thread>

#include "postgres_append_sql.hpp"
#include "postgres_known_versions.hpp"
#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

TEST_CASE("known versions: a version noted is reached with every lower one, until all is forgotten") {
  pg::KnownVersions known;
  CHECK(known.reached("s", 0));
  CHECK_FALSE(known.reached("s", 1));
  known.note("s", 5, known.generation());
  CHECK(known.reached("s", 5));
  CHECK(known.reached("s", 1));
  CHECK_FALSE(known.reached("s", 6));
  CHECK_FALSE(known.reached("t", 1));
  known.note("s", 3, known.generation());  // an older answer moves nothing back
  CHECK(known.reached("s", 5));
  known.forget_all();
  CHECK_FALSE(known.reached("s", 1));
}

TEST_CASE("known versions: an answer read on a connection leased before everything was forgotten is dropped") {
  pg::KnownVersions known;
  const auto leased_at = known.generation();
  known.forget_all();  // another thread opened a connection meanwhile
  known.note("s", 7, leased_at);
  CHECK_FALSE(known.reached("s", 1));
  known.note("s", 7, known.generation());
  CHECK(known.reached("s", 7));
}

TEST_CASE("known versions: when full they start over, and stay bounded") {
  pg::KnownVersions known(3);
  for (int i = 0; i < 3; ++i) known.note("s" + std::to_string(i), 1, known.generation());
  CHECK(known.size() == 3);
  known.note("s0", 2, known.generation());  // a stream already held: updated in place
  CHECK(known.size() == 3);
  known.note("s3", 1, known.generation());
  CHECK(known.size() == 1);
  CHECK(known.reached("s3", 1));
  CHECK_FALSE(known.reached("s0", 1));
}

// What a crash with synchronous_commit = off, a failover to a standby that
// lagged or a restore does: the server holds fewer events than the store
// saw, and every connection breaks. The store must not append after the
// version it saw (that would leave a gap): it reads the version again.
TEST_CASE("after its connections break, the store checks appends against the events the server holds, not the "
          "versions it saw before") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("known_lost");
  auto store = open_store(store_config(schema));
  const auto s = stream("known-a"), t = stream("known-b");
  REQUIRE(store->append(one_event(s, ExpectedVersion::no_stream())).ok());
  REQUIRE(store->append(one_event(t, ExpectedVersion::no_stream())).ok());
  REQUIRE(store->append(one_event(s, ExpectedVersion::exact(1))).ok());  // seen at version 2
  REQUIRE(store->append(one_event(t, ExpectedVersion::exact(1))).ok());  // seen at version 2

  RawConnection admin(schema.name());
  admin.exec("DELETE FROM events WHERE stream_id = 'known-a' AND stream_version = 2");
  const std::string others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                             " AND application_name = 'eventcore'";
  admin.exec("SELECT count(pg_terminate_backend(pid)) " + others);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (admin.exec("SELECT count(*) " + others) != "0") {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  // Each form that can skip the version read: the first append after the
  // break opens the connection that forgets what the store saw, after the
  // store already looked.
  auto refused = [&](const Result<AppendResult>& result) {
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::conflict);
    CHECK(result.error().message.find("'known-a' is at version 1") != std::string::npos);
  };
  SECTION("one event to one stream") { refused(store->append(one_event(s, ExpectedVersion::exact(2)))); }
  SECTION("several events to one stream") {
    AppendRequest request;
    request.streams.push_back({s, ExpectedVersion::exact(2), {event(), event()}});
    refused(store->append(request));
  }
  SECTION("two streams: nothing written to the other") {
    AppendRequest request;
    request.streams.push_back({s, ExpectedVersion::exact(2), {event()}});
    request.streams.push_back({t, ExpectedVersion::exact(2), {event()}});
    refused(store->append(request));
    CHECK(store->stream_version(t)->value == 2);
  }
  SECTION("group commit: the other request is written") {
    auto results = store->append_batch({one_event(s, ExpectedVersion::exact(2)), one_event(t, ExpectedVersion::exact(2))});
    REQUIRE(results.size() == 2);
    refused(results[0]);
    REQUIRE(results[1].ok());
    CHECK(results[1]->streams[0].version.value == 3);
  }
  CHECK(admin.exec("SELECT count(*) FROM events WHERE stream_id = 'known-a'") == "1");
  // Expecting what it holds goes on, at the next version.
  auto next = store->append(one_event(s, ExpectedVersion::exact(1)));
  REQUIRE(next.ok());
  CHECK(next->streams[0].version.value == 2);
}

TEST_CASE("an append expecting a version the store saw is refused by the events' key when another writer got there "
          "first, and the conflict names the version") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("known_raced");
  auto store = open_store(store_config(schema));
  auto other = open_store(store_config(schema));
  const auto a = stream("known-x"), b = stream("known-y");
  for (const auto& id : {a, b}) REQUIRE(store->append(one_event(id, ExpectedVersion::no_stream())).ok());
  REQUIRE(other->append(one_event(a, ExpectedVersion::exact(1))).ok());
  REQUIRE(other->append(one_event(a, ExpectedVersion::exact(2))).ok());

  SECTION("one stream") {
    auto result = store->append(one_event(a, ExpectedVersion::exact(1)));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::conflict);
    CHECK(result.error().message.find("'known-x' is at version 3") != std::string::npos);
  }
  SECTION("two streams: nothing written to the other") {
    AppendRequest request;
    request.streams.push_back({a, ExpectedVersion::exact(1), {event()}});
    request.streams.push_back({b, ExpectedVersion::exact(1), {event()}});
    auto result = store->append(request);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::conflict);
    CHECK(result.error().message.find("'known-x' is at version 3") != std::string::npos);
    CHECK(store->stream_version(b)->value == 1);
  }
  auto page = store->read_stream(a, StreamVersion{1}, 10);
  REQUIRE(page.ok());
  CHECK(page->events.size() == 3);
}

// Few events to streams at versions the store knows go as one row of
// parameters per event (pg::append_values_sql): every column of every
// event travels, positions follow the request, versions follow the known.
TEST_CASE("an append of a few events to streams at known versions stores every field, in the request's order") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("known_values");
  auto store = open_store(store_config(schema));
  const auto a = stream("values-a"), b = stream("values-b");
  for (const auto& id : {a, b}) {
    REQUIRE(store->append(one_event(id, ExpectedVersion::no_stream())).ok());
    REQUIRE(store->stream_version(id)->value == 1);  // known to the store
  }
  EventToWrite full = event();
  full.metadata.correlation_id = EventId::generate();
  full.metadata.causation_id = EventId::generate();
  full.metadata.user_id = "user-42";
  full.metadata.extra = {{"source", "values"}, {"empty", ""}};
  EventToWrite bare{EventId::generate(), "Pinged", {}, {}};
  EventToWrite some = event();
  some.metadata.causation_id = EventId::generate();
  AppendRequest request;
  request.streams.push_back({b, ExpectedVersion::exact(1), {full, bare}});  // b sorts after a: request order is kept
  request.streams.push_back({a, ExpectedVersion::exact(1), {some}});
  auto result = store->append(request);
  REQUIRE(result.ok());
  CHECK(result->streams[0].version.value == 3);
  CHECK(result->streams[1].version.value == 2);
  REQUIRE(result->positions.size() == 3);
  CHECK(result->positions[0] < result->positions[1]);
  CHECK(result->positions[1] < result->positions[2]);

  auto bs = store->read_stream(b, StreamVersion{2}, 10);
  auto as = store->read_stream(a, StreamVersion{2}, 10);
  REQUIRE(bs.ok());
  REQUIRE(as.ok());
  REQUIRE(bs->size() == 2);
  REQUIRE(as->size() == 1);
  const std::vector<std::pair<const StoredEvent*, const EventToWrite*>> pairs = {
      {&(*bs)[0], &full}, {&(*bs)[1], &bare}, {&(*as)[0], &some}};
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& [stored, written] = pairs[i];
    CHECK(stored->id == written->id);
    CHECK(stored->type == written->type);
    CHECK(stored->payload == written->payload);
    CHECK(stored->metadata == written->metadata);
    CHECK(stored->position == result->positions[i]);
  }
  CHECK((*bs)[1].version.value == 3);

  // An event id already stored fails the whole append, in that form too.
  AppendRequest again;
  again.streams.push_back({a, ExpectedVersion::exact(2), {event()}});
  again.streams.push_back({b, ExpectedVersion::exact(3), {full}});
  auto duplicate = store->append(again);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == ErrorCode::duplicate_event);
  CHECK(store->stream_version(a)->value == 2);
  CHECK(store->stream_version(b)->value == 3);
}

// Several events to one stream at a version the store knows go as one row
// per event with no lock (pg::append_values_sql with no stream ids), up to
// values_one_max_events; more go in the array form.
TEST_CASE("several events to one stream at a known version: every field, in order, in both forms") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("known_values_one");
  auto store = open_store(store_config(schema));
  const auto s = stream("values-one");
  REQUIRE(store->append(one_event(s, ExpectedVersion::no_stream())).ok());
  REQUIRE(store->stream_version(s)->value == 1);  // known to the store
  auto events_of = [](std::size_t n) {
    std::vector<EventToWrite> events;
    for (std::size_t i = 0; i < n; ++i) {
      EventToWrite e = event("Happened" + std::to_string(i), {static_cast<std::uint8_t>(i)});
      if (i % 2 == 0) e.metadata.correlation_id = EventId::generate();
      if (i % 3 == 0) e.metadata.causation_id = EventId::generate();
      if (i % 4 == 0) e.metadata.user_id = "user-" + std::to_string(i);
      if (i % 5 == 0) e.metadata.extra = {{"i", std::to_string(i)}};
      events.push_back(std::move(e));
    }
    return events;
  };
  std::uint64_t version = 1;
  for (const std::size_t n : {std::size_t{2}, std::size_t{pg::values_one_max_events},
                              std::size_t{pg::values_one_max_events + 1}}) {
    CAPTURE(n);
    const auto events = events_of(n);
    AppendRequest request;
    request.streams.push_back({s, ExpectedVersion::exact(version), events});
    auto result = store->append(request);
    REQUIRE(result.ok());
    CHECK(result->streams[0].version.value == version + n);
    REQUIRE(result->positions.size() == n);
    auto page = store->read_stream(s, StreamVersion{version + 1}, n + 1);
    REQUIRE(page.ok());
    REQUIRE(page->size() == n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& stored = (*page)[i];
      CHECK(stored.id == events[i].id);
      CHECK(stored.type == events[i].type);
      CHECK(stored.payload == events[i].payload);
      CHECK(stored.metadata == events[i].metadata);
      CHECK(stored.version.value == version + 1 + i);
      CHECK(stored.position == result->positions[i]);
      if (i > 0) CHECK(result->positions[i - 1] < result->positions[i]);
    }
    version += n;
  }

  // Another writer moves the stream on: the key refuses the events, and the
  // conflict names the version it found; nothing is written.
  auto other = open_store(store_config(schema));
  REQUIRE(other->append(one_event(s, ExpectedVersion::exact(version))).ok());
  AppendRequest stale;
  stale.streams.push_back({s, ExpectedVersion::exact(version), events_of(3)});
  auto refused = store->append(stale);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::conflict);
  CHECK(refused.error().message.find("is at version " + std::to_string(version + 1)) != std::string::npos);
  CHECK(store->stream_version(s)->value == version + 1);

  // Group commit: two requests to the one stream, one statement.
  const auto first = events_of(2), second = events_of(3);
  AppendRequest r1, r2;
  r1.streams.push_back({s, ExpectedVersion::exact(version + 1), first});
  r2.streams.push_back({s, ExpectedVersion::exact(version + 3), second});
  auto batch = store->append_batch({r1, r2});
  REQUIRE(batch.size() == 2);
  REQUIRE(batch[0].ok());
  REQUIRE(batch[1].ok());
  CHECK(batch[0]->streams[0].version.value == version + 3);
  CHECK(batch[1]->streams[0].version.value == version + 6);
  auto page = store->read_stream(s, StreamVersion{version + 2}, 10);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 5);
  CHECK((*page)[0].id == first[0].id);
  CHECK((*page)[4].id == second[2].id);
  CHECK((*page)[4].metadata == second[2].metadata);
}
