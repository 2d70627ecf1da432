// The contract every EventStore implementation passes. Each case runs once per
// store (the factories below); a new store joins by adding a factory to
// CONTRACT_STORES. The guarantees tested here are the ones event_store.hpp states.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "eventcore/store/event_store.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/store/simulated_store.hpp"
#include "eventcore/testing/test_database.hpp"

// Readable values in failure messages.
namespace Catch {
template <> struct StringMaker<eventcore::GlobalPosition> {
  static std::string convert(const eventcore::GlobalPosition& p) { return eventcore::to_string(p); }
};
template <> struct StringMaker<eventcore::EventId> {
  static std::string convert(const eventcore::EventId& id) { return id.str(); }
};
template <> struct StringMaker<eventcore::StreamVersion> {
  static std::string convert(eventcore::StreamVersion v) { return "v" + std::to_string(v.value); }
};
template <> struct StringMaker<eventcore::StreamId> {
  static std::string convert(const eventcore::StreamId& id) { return "'" + id.str() + "'"; }
};
}  // namespace Catch

namespace {

using namespace eventcore;

// ---------------------------------------------------------------------------
// Store factories: each test case owns one factory; every store it makes is
// fresh (empty) and lives no longer than the factory.

// The position of the last event this test case saw acknowledged. read_all
// is gap-free rather than read-your-writes: PostgresStore shows an event once
// every transaction older than it has finished, anywhere in the cluster (see
// postgres_store.hpp). The read helpers below wait, bounded, until read_all
// shows this position before they read, so a concurrent transaction elsewhere
// on a shared server cannot fail a case.
GlobalPosition last_acknowledged{};

struct MemoryStoreFactory {
  MemoryStoreFactory() { last_acknowledged = {}; }
  bool available() const { return true; }
  std::unique_ptr<EventStore> make(StoreLimits limits = {}) {
    return std::make_unique<MemoryStore>(limits);
  }
};

// The simulation's store, with its faults off: it must mean what MemoryStore means.
struct SimulatedStoreFactory {
  SimulatedStoreFactory() { last_acknowledged = {}; }
  bool available() const { return true; }
  std::unique_ptr<EventStore> make(StoreLimits limits = {}) {
    SimulatedStoreOptions options;
    options.limits = limits;
    return std::make_unique<SimulatedStore>(std::move(options));
  }
};

struct PostgresStoreFactory {
  PostgresStoreFactory() { last_acknowledged = {}; }
  bool available() const {
    if (testing::postgres_available()) return true;
    testing::skip_test("the PostgreSQL contract case needs PostgreSQL (EVENTCORE_SKIP_POSTGRES_TESTS=1)");
  }
  std::unique_ptr<EventStore> make(StoreLimits limits = {}) {
    // One schema per store: the store sees only its own events, and the
    // schema is dropped when the factory (declared before the store) goes.
    const auto& schema = schemas.emplace_back(std::make_unique<testing::ScopedSchema>("contract"));
    PostgresStoreConfig config;
    config.conninfo = testing::test_database_url();
    config.schema = schema->name();
    config.pool_size = 4;
    config.limits = limits;
    auto store = PostgresStore::open(std::move(config));
    if (!store) FAIL("PostgresStore::open failed: " << to_string(store.error()));
    return std::move(store).value();
  }
  std::vector<std::unique_ptr<testing::ScopedSchema>> schemas;
};

#define CONTRACT_STORES MemoryStoreFactory, SimulatedStoreFactory, PostgresStoreFactory

// Declares `factory` and a fresh store named `store` (made with the optional
// StoreLimits), or ends the test case early when the store is unavailable.
#define GIVEN_A_FRESH_STORE(store, ...)   \
  TestType factory;                       \
  if (!factory.available()) return;       \
  auto store = factory.make(__VA_ARGS__); \
  REQUIRE(store != nullptr)

// ---------------------------------------------------------------------------
// Helpers that keep the cases short.

StreamId sid(std::string_view text) {
  auto id = StreamId::try_new(text);
  REQUIRE(id.ok());
  return std::move(id).value();
}

Payload bytes(std::string_view text) { return Payload(text.begin(), text.end()); }

EventToWrite event(std::string type = "Tested", std::string_view payload = "payload") {
  return EventToWrite{EventId::generate(), std::move(type), bytes(payload), {}};
}

std::vector<EventToWrite> events(std::size_t n, const std::string& type = "Tested") {
  std::vector<EventToWrite> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(event(type, "event " + std::to_string(i)));
  return out;
}

StreamWrite write(std::string_view stream, ExpectedVersion expected,
                  std::vector<EventToWrite> evs = {}) {
  return StreamWrite{sid(stream), expected, std::move(evs)};
}

AppendRequest request(std::vector<StreamWrite> writes) { return AppendRequest{std::move(writes)}; }

// Appends and requires success.
AppendResult must_append(EventStore& store, AppendRequest req) {
  auto result = store.append(req);
  if (!result) FAIL("append failed: " << to_string(result.error()));
  for (auto position : result->positions) last_acknowledged = std::max(last_acknowledged, position);
  return std::move(result).value();
}

// Waits (at most 10 s) until read_all shows the last acknowledged event. The
// first event after {t, s - 1} is the one at {t, s} once it is visible.
void settle(EventStore& store) {
  if (last_acknowledged == GlobalPosition{}) return;
  const GlobalPosition probe{last_acknowledged.transaction, last_acknowledged.sequence - 1};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto page = store.read_all(probe, 1);
    if (!page) FAIL("read_all failed: " << to_string(page.error()));
    if (!page->events.empty() && page->events[0].position == last_acknowledged) return;
    if (std::chrono::steady_clock::now() > deadline)
      FAIL("read_all did not show the event acknowledged at " << to_string(last_acknowledged)
                                                              << " within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Appends and requires failure with `code`; returns the error.
Error must_fail(EventStore& store, const AppendRequest& req, ErrorCode code) {
  auto result = store.append(req);
  REQUIRE_FALSE(result.ok());
  INFO(to_string(result.error()));
  CHECK(result.error().code == code);
  return result.error();
}

std::uint64_t version_of(EventStore& store, std::string_view stream) {
  auto version = store.stream_version(sid(stream));
  REQUIRE(version.ok());
  return version->value;
}

std::vector<StoredEvent> read_stream(EventStore& store, std::string_view stream,
                                     std::uint64_t from = 1, std::size_t max = 1000) {
  auto events = store.read_stream(sid(stream), StreamVersion{from}, max);
  if (!events) FAIL("read_stream failed: " << to_string(events.error()));
  return std::move(events).value().events;
}

ReadAllPage read_all(EventStore& store, GlobalPosition after = {}, std::size_t max = 1000,
                     const EventFilter& filter = {}) {
  settle(store);
  auto page = store.read_all(after, max, filter);
  if (!page) FAIL("read_all failed: " << to_string(page.error()));
  return std::move(page).value();
}

// The whole log in global order, read in pages of `page_size`.
std::vector<StoredEvent> read_everything(EventStore& store, std::size_t page_size = 1000,
                                         const EventFilter& filter = {}) {
  std::vector<StoredEvent> all;
  GlobalPosition after{};
  for (;;) {
    auto page = read_all(store, after, page_size, filter);
    REQUIRE(page.events.size() <= page_size);
    if (page.events.empty()) {
      CHECK(page.next == after);
      return all;
    }
    CHECK(page.next == page.events.back().position);
    after = page.next;
    all.insert(all.end(), page.events.begin(), page.events.end());
  }
}

std::vector<EventId> ids_of(const std::vector<StoredEvent>& evs) {
  std::vector<EventId> out;
  for (const auto& e : evs) out.push_back(e.id);
  return out;
}
std::vector<EventId> ids_of(const std::vector<EventToWrite>& evs) {
  std::vector<EventId> out;
  for (const auto& e : evs) out.push_back(e.id);
  return out;
}
std::vector<std::string> streams_of(const std::vector<StoredEvent>& evs) {
  std::vector<std::string> out;
  for (const auto& e : evs) out.push_back(e.stream.str());
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// ===========================================================================
// Writing and reading back

TEMPLATE_TEST_CASE("an appended event reads back with every field it was written with",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  EventToWrite written = event("AccountOpened", "{\"owner\":\"ada\"}");
  written.metadata.correlation_id = EventId::generate();
  written.metadata.causation_id = EventId::generate();
  written.metadata.user_id = "user-42";
  written.metadata.extra = {{"source", "contract-test"}, {"ip", "10.0.0.1"}, {"empty", ""}};

  const auto before = std::chrono::system_clock::now();
  auto result = must_append(*store, request({write("account-1", ExpectedVersion::no_stream(), {written})}));
  const auto after = std::chrono::system_clock::now();

  REQUIRE(result.streams.size() == 1);
  CHECK(result.streams[0].stream == sid("account-1"));
  CHECK(result.streams[0].version == StreamVersion{1});
  REQUIRE(result.positions.size() == 1);
  CHECK(result.positions[0] > GlobalPosition{});

  auto stored = read_stream(*store, "account-1");
  REQUIRE(stored.size() == 1);
  const StoredEvent& e = stored[0];
  CHECK(e.id == written.id);
  CHECK(e.stream == sid("account-1"));
  CHECK(e.version == StreamVersion{1});
  CHECK(e.position == result.positions[0]);
  CHECK(e.type == "AccountOpened");
  CHECK(e.payload == written.payload);
  CHECK(e.metadata.correlation_id == written.metadata.correlation_id);
  CHECK(e.metadata.causation_id == written.metadata.causation_id);
  CHECK(e.metadata.user_id == std::optional<std::string>("user-42"));
  CHECK(e.metadata.extra == written.metadata.extra);
  CHECK(e.metadata == written.metadata);
  // recorded_at is the store's clock (possibly another machine's): allow slack.
  CHECK(e.recorded_at >= before - std::chrono::seconds(5));
  CHECK(e.recorded_at <= after + std::chrono::seconds(5));

  auto all = read_all(*store);
  REQUIRE(all.events.size() == 1);
  CHECK(all.events[0].id == written.id);
  CHECK(all.events[0].metadata == written.metadata);
  CHECK(all.events[0].recorded_at == e.recorded_at);
  CHECK(version_of(*store, "account-1") == 1);
}

TEMPLATE_TEST_CASE("several events appended to one stream read back in order with every field, at increasing positions",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  // Every field set on one event, none on the next, some on the last: each
  // column of each event travels on its own.
  EventToWrite full = event("Opened", "{\"owner\":\"ada\"}");
  full.metadata.correlation_id = EventId::generate();
  full.metadata.causation_id = EventId::generate();
  full.metadata.user_id = "user-42";
  full.metadata.extra = {{"source", "contract-test"}};
  EventToWrite bare{EventId::generate(), "Pinged", {}, {}};
  EventToWrite some = event("Deposited", "{\"amount\":5}");
  some.metadata.causation_id = EventId::generate();
  some.metadata.extra = {{"ip", "10.0.0.1"}, {"empty", ""}};
  const std::vector<EventToWrite> written{full, bare, some};

  for (const auto& expected : {ExpectedVersion::no_stream(), ExpectedVersion::exact(3), ExpectedVersion::stream_exists(),
                               ExpectedVersion::any()}) {
    auto fresh = written;
    for (auto& e : fresh) e.id = EventId::generate();
    auto result = must_append(*store, request({write("many-1", expected, fresh)}));
    const auto base = result.streams[0].version.value - 3;
    REQUIRE(result.positions.size() == 3);
    CHECK(result.positions[0] < result.positions[1]);
    CHECK(result.positions[1] < result.positions[2]);
    auto stored = read_stream(*store, "many-1");
    REQUIRE(stored.size() == base + 3);
    for (std::size_t i = 0; i < 3; ++i) {
      const StoredEvent& e = stored[base + i];
      CHECK(e.id == fresh[i].id);
      CHECK(e.version == StreamVersion{base + i + 1});
      CHECK(e.position == result.positions[i]);
      CHECK(e.type == fresh[i].type);
      CHECK(e.payload == fresh[i].payload);
      CHECK(e.metadata == fresh[i].metadata);
    }
  }
  CHECK(version_of(*store, "many-1") == 12);
}

TEMPLATE_TEST_CASE("empty metadata and an empty payload read back empty", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  EventToWrite written{EventId::generate(), "Pinged", {}, {}};
  must_append(*store, request({write("s", ExpectedVersion::any(), {written})}));
  auto stored = read_stream(*store, "s");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].payload.empty());
  CHECK(stored[0].metadata == Metadata{});
}

TEMPLATE_TEST_CASE("a stream's events get versions 1, 2, 3... across appends", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto first = events(2), second = events(3);
  auto r1 = must_append(*store, request({write("s", ExpectedVersion::no_stream(), first)}));
  auto r2 = must_append(*store, request({write("s", ExpectedVersion::exact(2), second)}));
  CHECK(r1.streams[0].version == StreamVersion{2});
  CHECK(r2.streams[0].version == StreamVersion{5});

  auto stored = read_stream(*store, "s");
  REQUIRE(stored.size() == 5);
  for (std::size_t i = 0; i < stored.size(); ++i) CHECK(stored[i].version.value == i + 1);
  auto expected_ids = ids_of(first);
  for (auto id : ids_of(second)) expected_ids.push_back(id);
  CHECK(ids_of(stored) == expected_ids);
}

TEMPLATE_TEST_CASE("a 1 MiB payload round-trips byte for byte", "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  Payload payload(1024 * 1024);
  std::uint32_t x = 2463534242u;  // xorshift: every byte value, including 0 and 0xff
  for (auto& b : payload) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  EventToWrite big{EventId::generate(), "Blob", payload, {}};
  must_append(*store, request({write("blob", ExpectedVersion::no_stream(), {big})}));
  auto stored = read_stream(*store, "blob");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].payload.size() == payload.size());
  CHECK(stored[0].payload == payload);
}

// ===========================================================================
// Expected versions

TEMPLATE_TEST_CASE("each expected version is accepted or rejected as documented", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("existing", ExpectedVersion::no_stream(), events(2))}));

  SECTION("exact(n) succeeds when the stream is at n") {
    auto r = must_append(*store, request({write("existing", ExpectedVersion::exact(2), events(1))}));
    CHECK(r.streams[0].version == StreamVersion{3});
  }
  SECTION("exact(n) fails when the stream is behind n") {
    must_fail(*store, request({write("existing", ExpectedVersion::exact(3), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("exact(n) fails when the stream is past n") {
    must_fail(*store, request({write("existing", ExpectedVersion::exact(1), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("exact(0) succeeds on a new stream") {
    auto r = must_append(*store, request({write("new", ExpectedVersion::exact(0), events(1))}));
    CHECK(r.streams[0].version == StreamVersion{1});
  }
  SECTION("exact(0) fails on an existing stream") {
    must_fail(*store, request({write("existing", ExpectedVersion::exact(0), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("exact(n > 0) fails on a new stream") {
    must_fail(*store, request({write("new", ExpectedVersion::exact(1), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("no_stream succeeds on a new stream") {
    auto r = must_append(*store, request({write("new", ExpectedVersion::no_stream(), events(2))}));
    CHECK(r.streams[0].version == StreamVersion{2});
  }
  SECTION("no_stream fails on an existing stream") {
    must_fail(*store, request({write("existing", ExpectedVersion::no_stream(), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("stream_exists succeeds on an existing stream") {
    auto r = must_append(*store,
                         request({write("existing", ExpectedVersion::stream_exists(), events(1))}));
    CHECK(r.streams[0].version == StreamVersion{3});
  }
  SECTION("stream_exists fails on a new stream") {
    must_fail(*store, request({write("new", ExpectedVersion::stream_exists(), events(1))}),
              ErrorCode::conflict);
    CHECK(version_of(*store, "new") == 0);
  }
  SECTION("any succeeds on a new stream") {
    auto r = must_append(*store, request({write("new", ExpectedVersion::any(), events(1))}));
    CHECK(r.streams[0].version == StreamVersion{1});
  }
  SECTION("any succeeds on an existing stream") {
    auto r = must_append(*store, request({write("existing", ExpectedVersion::any(), events(1))}));
    CHECK(r.streams[0].version == StreamVersion{3});
  }
}

TEMPLATE_TEST_CASE("a failed expected version writes nothing", "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(2))}));
  const auto before = read_everything(*store);
  must_fail(*store, request({write("s", ExpectedVersion::exact(1), events(3))}), ErrorCode::conflict);
  CHECK(version_of(*store, "s") == 2);
  CHECK(ids_of(read_everything(*store)) == ids_of(before));
}

TEMPLATE_TEST_CASE("a conflict error names the stream, its actual version and the expected one",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("account-7", ExpectedVersion::no_stream(), events(3))}));
  auto error = must_fail(*store, request({write("account-7", ExpectedVersion::exact(2), events(1))}),
                         ErrorCode::conflict);
  INFO(error.message);
  CHECK(contains(error.message, "account-7"));
  CHECK(contains(error.message, "3"));
  CHECK(contains(error.message, "2"));

  auto missing = must_fail(
      *store, request({write("account-8", ExpectedVersion::stream_exists(), events(1))}),
      ErrorCode::conflict);
  INFO(missing.message);
  CHECK(contains(missing.message, "account-8"));
}

// ===========================================================================
// Atomicity across streams

TEMPLATE_TEST_CASE("a conflict on any stream of an append writes nothing", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("a", ExpectedVersion::no_stream(), events(1)),
                               write("b", ExpectedVersion::no_stream(), events(2)),
                               write("c", ExpectedVersion::no_stream(), events(3))}));
  const auto before = read_everything(*store);
  REQUIRE(before.size() == 6);

  // The failing stream may come first, in the middle or last in the request.
  SECTION("the first stream conflicts") {
    must_fail(*store, request({write("a", ExpectedVersion::exact(5), events(1)),
                               write("b", ExpectedVersion::exact(2), events(1)),
                               write("new", ExpectedVersion::no_stream(), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("a middle stream conflicts") {
    must_fail(*store, request({write("a", ExpectedVersion::exact(1), events(1)),
                               write("b", ExpectedVersion::no_stream(), events(1)),
                               write("new", ExpectedVersion::no_stream(), events(1))}),
              ErrorCode::conflict);
  }
  SECTION("the last stream conflicts") {
    must_fail(*store, request({write("new", ExpectedVersion::no_stream(), events(2)),
                               write("a", ExpectedVersion::exact(1), events(1)),
                               write("c", ExpectedVersion::stream_exists(), events(1)),
                               write("b", ExpectedVersion::exact(1), events(1))}),
              ErrorCode::conflict);
  }

  CHECK(version_of(*store, "a") == 1);
  CHECK(version_of(*store, "b") == 2);
  CHECK(version_of(*store, "c") == 3);
  CHECK(version_of(*store, "new") == 0);
  CHECK(read_stream(*store, "new").empty());
  CHECK(ids_of(read_everything(*store)) == ids_of(before));
  CHECK(read_all(*store, before.back().position).events.empty());

  // The store is still writable at the versions it reports.
  must_append(*store, request({write("a", ExpectedVersion::exact(1), events(1)),
                               write("new", ExpectedVersion::no_stream(), events(1))}));
  CHECK(version_of(*store, "a") == 2);
  CHECK(version_of(*store, "new") == 1);
}

// Appends whose streams all exist (exact versions, or "stream exists") are
// the common multi-stream case; PostgreSQL writes them with a statement of
// their own, which must undo the rows of the streams that passed.
TEMPLATE_TEST_CASE("an append to streams that all exist: one stale stream writes nothing and leaves every version",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("a", ExpectedVersion::no_stream(), events(1)),
                               write("b", ExpectedVersion::no_stream(), events(2)),
                               write("c", ExpectedVersion::no_stream(), events(3))}));
  const auto before = read_everything(*store);

  SECTION("the stale stream sorts first") {
    auto error = must_fail(*store, request({write("c", ExpectedVersion::exact(3), events(1)),
                                            write("a", ExpectedVersion::exact(4), events(1)),
                                            write("b", ExpectedVersion::stream_exists(), events(1))}),
                           ErrorCode::conflict);
    INFO(error.message);
    CHECK(contains(error.message, "'a'"));
    CHECK(contains(error.message, "4"));
  }
  SECTION("the stale stream sorts last, behind its stream") {
    auto error = must_fail(*store, request({write("a", ExpectedVersion::exact(1), events(1)),
                                            write("b", ExpectedVersion::exact(2)),
                                            write("c", ExpectedVersion::exact(2), events(2))}),
                           ErrorCode::conflict);
    INFO(error.message);
    CHECK(contains(error.message, "'c'"));
  }
  SECTION("a stream expected to exist never was") {
    auto error = must_fail(*store, request({write("a", ExpectedVersion::exact(1), events(1)),
                                            write("ghost", ExpectedVersion::stream_exists(), events(1))}),
                           ErrorCode::conflict);
    INFO(error.message);
    CHECK(contains(error.message, "ghost"));
    CHECK(version_of(*store, "ghost") == 0);
  }
  CHECK(version_of(*store, "a") == 1);
  CHECK(version_of(*store, "b") == 2);
  CHECK(version_of(*store, "c") == 3);
  CHECK(ids_of(read_everything(*store)) == ids_of(before));

  // Then the same streams at their versions, unsorted: results and positions
  // follow the request.
  auto to_c = events(2), to_a = events(1);
  auto r = must_append(*store, request({write("c", ExpectedVersion::exact(3), to_c),
                                        write("b", ExpectedVersion::stream_exists()),
                                        write("a", ExpectedVersion::exact(1), to_a)}));
  REQUIRE(r.streams.size() == 3);
  CHECK(r.streams[0].version == StreamVersion{5});
  CHECK(r.streams[1].version == StreamVersion{2});
  CHECK(r.streams[2].version == StreamVersion{2});
  REQUIRE(r.positions.size() == 3);
  CHECK(r.positions[0] < r.positions[1]);
  CHECK(r.positions[1] < r.positions[2]);
  const auto after = read_all(*store, before.back().position).events;
  REQUIRE(after.size() == 3);
  CHECK(ids_of(after) == std::vector<EventId>{to_c[0].id, to_c[1].id, to_a[0].id});
  CHECK(after[0].version == StreamVersion{4});
  CHECK(after[2].version == StreamVersion{2});
}

TEMPLATE_TEST_CASE("an append to several streams writes all of them, each at its version",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("from", ExpectedVersion::no_stream(), events(2))}));
  auto debit = events(1), credit = events(2);
  auto r = must_append(*store, request({write("from", ExpectedVersion::exact(2), debit),
                                        write("to", ExpectedVersion::no_stream(), credit)}));
  REQUIRE(r.streams.size() == 2);
  CHECK(r.streams[0].version == StreamVersion{3});
  CHECK(r.streams[1].version == StreamVersion{2});
  CHECK(r.positions.size() == 3);
  CHECK(ids_of(read_stream(*store, "from", 3)) == ids_of(debit));
  CHECK(ids_of(read_stream(*store, "to")) == ids_of(credit));
}

TEMPLATE_TEST_CASE("a multi-stream append where one stream expects any version", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("audit", ExpectedVersion::no_stream(), events(4))}));
  auto r = must_append(*store, request({write("order-1", ExpectedVersion::no_stream(), events(1)),
                                        write("audit", ExpectedVersion::any(), events(1))}));
  CHECK(r.streams[0].version == StreamVersion{1});
  CHECK(r.streams[1].version == StreamVersion{5});

  // `any` never causes a conflict; the other stream's check still applies.
  must_fail(*store, request({write("order-1", ExpectedVersion::no_stream(), events(1)),
                             write("audit", ExpectedVersion::any(), events(1))}),
            ErrorCode::conflict);
  CHECK(version_of(*store, "audit") == 5);
  CHECK(version_of(*store, "order-1") == 1);
}

TEMPLATE_TEST_CASE("a stale read-only participant fails the append", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("limits", ExpectedVersion::no_stream(), events(2))}));
  const auto before = read_everything(*store);

  SECTION("expected behind the stream") {
    auto error = must_fail(*store, request({write("limits", ExpectedVersion::exact(1)),
                                            write("order", ExpectedVersion::no_stream(), events(1))}),
                           ErrorCode::conflict);
    CHECK(contains(error.message, "limits"));
  }
  SECTION("expected to exist but never written") {
    auto error = must_fail(*store, request({write("order", ExpectedVersion::no_stream(), events(1)),
                                            write("ghost", ExpectedVersion::stream_exists())}),
                           ErrorCode::conflict);
    CHECK(contains(error.message, "ghost"));
  }
  CHECK(version_of(*store, "order") == 0);
  CHECK(ids_of(read_everything(*store)) == ids_of(before));
}

TEMPLATE_TEST_CASE("a current read-only participant lets the append through and stays unchanged",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("limits", ExpectedVersion::no_stream(), events(2))}));
  auto order = events(1);
  auto r = must_append(*store, request({write("limits", ExpectedVersion::exact(2)),
                                        write("order", ExpectedVersion::no_stream(), order),
                                        write("absent", ExpectedVersion::no_stream())}));
  REQUIRE(r.streams.size() == 3);
  CHECK(r.streams[0].version == StreamVersion{2});
  CHECK(r.streams[1].version == StreamVersion{1});
  CHECK(r.streams[2].version == StreamVersion{0});
  CHECK(r.positions.size() == 1);
  CHECK(version_of(*store, "limits") == 2);
  CHECK(version_of(*store, "absent") == 0);
  CHECK(read_stream(*store, "absent").empty());
  CHECK(read_everything(*store).size() == 3);
  // A read-only participant does not create the stream.
  must_append(*store, request({write("absent", ExpectedVersion::no_stream(), events(1))}));
}

TEMPLATE_TEST_CASE("an append with only read-only participants writes nothing and succeeds",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(1))}));
  auto r = must_append(*store, request({write("s", ExpectedVersion::exact(1)),
                                        write("t", ExpectedVersion::no_stream())}));
  CHECK(r.positions.empty());
  CHECK(r.streams[0].version == StreamVersion{1});
  CHECK(r.streams[1].version == StreamVersion{0});
  CHECK(read_everything(*store).size() == 1);
}

TEMPLATE_TEST_CASE("append results list the streams in request order, even when unsorted",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("a", ExpectedVersion::no_stream(), events(3))}));
  auto for_b = events(2), for_a = events(1), for_m = events(1);
  auto r = must_append(*store, request({write("b", ExpectedVersion::no_stream(), for_b),
                                        write("a", ExpectedVersion::exact(3), for_a),
                                        write("m", ExpectedVersion::any(), for_m)}));
  REQUIRE(r.streams.size() == 3);
  CHECK(r.streams[0].stream == sid("b"));
  CHECK(r.streams[0].version == StreamVersion{2});
  CHECK(r.streams[1].stream == sid("a"));
  CHECK(r.streams[1].version == StreamVersion{4});
  CHECK(r.streams[2].stream == sid("m"));
  CHECK(r.streams[2].version == StreamVersion{1});

  // positions: one per event, in request order: each names that event.
  REQUIRE(r.positions.size() == 4);
  const std::vector<EventId> request_ids{for_b[0].id, for_b[1].id, for_a[0].id, for_m[0].id};
  for (std::size_t i = 0; i < 4; ++i) {
    auto page = read_all(*store, {r.positions[i].transaction, r.positions[i].sequence - 1}, 1);
    REQUIRE(page.events.size() == 1);
    CHECK(page.events[0].position == r.positions[i]);
    CHECK(page.events[0].id == request_ids[i]);
  }
}

TEMPLATE_TEST_CASE("an append's events take global positions in the order of the request",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto first = must_append(*store, request({write("a", ExpectedVersion::any(), events(1))}));
  // Stream ids deliberately unsorted: the order is the request's, not the ids'.
  auto for_b = events(2), for_a = events(1), for_m = events(1);
  auto r = must_append(*store, request({write("b", ExpectedVersion::any(), for_b),
                                        write("a", ExpectedVersion::any(), for_a),
                                        write("m", ExpectedVersion::any(), for_m)}));
  REQUIRE(r.positions.size() == 4);
  for (std::size_t i = 1; i < r.positions.size(); ++i) CHECK(r.positions[i - 1] < r.positions[i]);
  auto appended = read_all(*store, first.positions.back()).events;
  CHECK(streams_of(appended) == std::vector<std::string>{"b", "b", "a", "m"});
  CHECK(ids_of(appended) ==
        std::vector<EventId>{for_b[0].id, for_b[1].id, for_a[0].id, for_m[0].id});
}

// ===========================================================================
// Reading streams

TEMPLATE_TEST_CASE("a stream that was never written reads empty and is at version 0",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  CHECK(read_stream(*store, "nobody").empty());
  CHECK(version_of(*store, "nobody") == 0);
  must_append(*store, request({write("somebody", ExpectedVersion::any(), events(1))}));
  CHECK(read_stream(*store, "nobody").empty());
  CHECK(version_of(*store, "nobody") == 0);
}

TEMPLATE_TEST_CASE("streams are isolated from each other", "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto a1 = events(2), b1 = events(1), a2 = events(1);
  must_append(*store, request({write("acct-a", ExpectedVersion::any(), a1)}));
  must_append(*store, request({write("acct-b", ExpectedVersion::any(), b1)}));
  must_append(*store, request({write("acct-a", ExpectedVersion::any(), a2)}));
  // A stream whose id is a prefix of another's is a different stream.
  must_append(*store, request({write("acct-a-2", ExpectedVersion::any(), events(1))}));

  a1.insert(a1.end(), a2.begin(), a2.end());
  auto a = read_stream(*store, "acct-a");
  CHECK(ids_of(a) == ids_of(a1));
  for (const auto& e : a) CHECK(e.stream == sid("acct-a"));
  CHECK(ids_of(read_stream(*store, "acct-b")) == ids_of(b1));
  CHECK(version_of(*store, "acct-a") == 3);
  CHECK(version_of(*store, "acct-b") == 1);
  CHECK(version_of(*store, "acct-a-2") == 1);
}

TEMPLATE_TEST_CASE("read_stream starts at the given version, inclusive", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto written = events(5);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), written)}));

  auto from3 = read_stream(*store, "s", 3);
  REQUIRE(from3.size() == 3);
  CHECK(from3[0].version == StreamVersion{3});
  CHECK(from3[0].id == written[2].id);
  CHECK(from3[2].version == StreamVersion{5});

  CHECK(read_stream(*store, "s", 5).size() == 1);
  CHECK(read_stream(*store, "s", 1).size() == 5);
  CHECK(read_stream(*store, "s", 0).size() == 5);  // every version is >= 0
  CHECK(read_stream(*store, "s", 6).empty());
  CHECK(read_stream(*store, "s", 1000).empty());
}

TEMPLATE_TEST_CASE("read_stream returns at most the requested number of events", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(5))}));
  CHECK(read_stream(*store, "s", 1, 0).empty());
  auto one = read_stream(*store, "s", 2, 1);
  REQUIRE(one.size() == 1);
  CHECK(one[0].version == StreamVersion{2});
  auto three = read_stream(*store, "s", 2, 3);
  REQUIRE(three.size() == 3);
  CHECK(three.back().version == StreamVersion{4});
  CHECK(read_stream(*store, "s", 1, 5).size() == 5);
  CHECK(read_stream(*store, "s", 1, 6).size() == 5);
}

TEMPLATE_TEST_CASE("read_stream from any version past the stream's end reads nothing, up to 2^64 - 1", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(3))}));
  for (std::uint64_t from : {std::uint64_t{4}, std::uint64_t{1} << 62, (std::uint64_t{1} << 63) - 1,
                             std::uint64_t{1} << 63, (std::uint64_t{1} << 63) + 1, ~std::uint64_t{0}}) {
    INFO("from " << from);
    CHECK(read_stream(*store, "s", from).empty());
  }
}

namespace {
StreamPage page_of(EventStore& store, std::string_view stream, std::uint64_t from, std::size_t max,
                   std::uint64_t to = ~std::uint64_t{0}) {
  auto page = store.read_stream(sid(stream), StreamVersion{from}, max, StreamVersion{to});
  if (!page) FAIL("read_stream failed: " << to_string(page.error()));
  return std::move(page).value();
}
std::vector<std::uint64_t> versions_of(const StreamPage& page) {
  std::vector<std::uint64_t> out;
  for (const auto& e : page) out.push_back(e.version.value);
  return out;
}
using V = std::vector<std::uint64_t>;
}  // namespace

TEMPLATE_TEST_CASE("a read_stream page says where to continue and whether the stream ends there", "[contract][page]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(5))}));
  auto first = page_of(*store, "s", 1, 2);
  CHECK(versions_of(first) == V{1, 2});
  CHECK(first.next == StreamVersion{3});
  CHECK_FALSE(first.end_of_stream);
  auto rest = page_of(*store, "s", first.next.value, 3);  // exactly the rest: the store cannot know without looking
  CHECK(versions_of(rest) == V{3, 4, 5});
  CHECK(rest.next == StreamVersion{6});
  CHECK(rest.end_of_stream);
  auto past = page_of(*store, "s", 6, 10);
  CHECK(past.empty());
  CHECK(past.next == StreamVersion{6});
  CHECK(past.end_of_stream);
  auto never = page_of(*store, "never-written", 1, 10);
  CHECK(never.empty());
  CHECK(never.end_of_stream);
}

TEMPLATE_TEST_CASE("read_stream takes a lower bound, an upper bound and a count, alone or together", "[contract][page]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(10))}));
  CHECK(versions_of(page_of(*store, "s", 8, 100)) == V{8, 9, 10});                // lower
  auto upper = page_of(*store, "s", 1, 100, 3);                                     // upper, inclusive
  CHECK(versions_of(upper) == V{1, 2, 3});
  CHECK(upper.end_of_stream);  // the end of the range asked for
  CHECK(upper.next == StreamVersion{4});
  CHECK(versions_of(page_of(*store, "s", 1, 2)) == V{1, 2});                       // count
  auto all_three = page_of(*store, "s", 4, 2, 7);                                   // lower + upper + count
  CHECK(versions_of(all_three) == V{4, 5});
  CHECK_FALSE(all_three.end_of_stream);
  CHECK(versions_of(page_of(*store, "s", all_three.next.value, 2, 7)) == V{6, 7});
  auto one = page_of(*store, "s", 5, 10, 5);                                        // lower == upper
  CHECK(versions_of(one) == V{5});
  CHECK(one.end_of_stream);
  auto none = page_of(*store, "s", 6, 10, 5);                                       // lower > upper
  CHECK(none.empty());
  CHECK(none.end_of_stream);
  auto zero = page_of(*store, "s", 1, 0);                                           // count 0
  CHECK(zero.empty());
  CHECK_FALSE(zero.end_of_stream);
  CHECK(zero.next == StreamVersion{1});
  auto single = page_of(*store, "s", 10, 1);                                        // count 1, the last event
  CHECK(versions_of(single) == V{10});
  CHECK(single.end_of_stream);
  CHECK(versions_of(page_of(*store, "s", 0, 2)) == V{1, 2});                        // version 0 is before the first
  CHECK(page_of(*store, "s", 1, 100, 0).end_of_stream);                             // upper 0: nothing
}

TEMPLATE_TEST_CASE("a page clamped by the store's limit is not the end of the stream", "[contract][page]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store, StoreLimits{.max_page_size = 4});
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(10))}));
  std::vector<std::uint64_t> seen;
  StreamVersion from{1};
  int pages = 0;
  for (;; ++pages) {
    REQUIRE(pages < 10);
    auto page = page_of(*store, "s", from.value, 1000);
    CHECK(page.size() <= 4);
    for (const auto& e : page) seen.push_back(e.version.value);
    if (page.end_of_stream) break;
    CHECK(page.size() == 4);  // short only at the end
    from = page.next;
  }
  CHECK(seen == V{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(pages == 2);
}

// ===========================================================================
// Snapshots

namespace {
Snapshot snapshot(std::string_view stream, std::uint64_t version, std::string_view state,
                  std::string type = "Totals", std::uint32_t schema = 1) {
  return Snapshot{sid(stream), std::move(type), schema, StreamVersion{version}, bytes(state)};
}
std::optional<Snapshot> load(EventStore& store, std::string_view stream, std::string_view type = "Totals",
                             std::uint32_t schema = 1) {
  auto loaded = store.load_snapshot(sid(stream), type, schema);
  if (!loaded) FAIL("load_snapshot failed: " << to_string(loaded.error()));
  return std::move(loaded).value();
}
}  // namespace

TEMPLATE_TEST_CASE("a missing snapshot loads as none", "[contract][snapshot]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  CHECK_FALSE(load(*store, "s").has_value());
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(2))}));
  CHECK_FALSE(load(*store, "s").has_value());
}

TEMPLATE_TEST_CASE("a saved snapshot loads back with its version and state", "[contract][snapshot]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(3))}));
  REQUIRE(store->save_snapshot(snapshot("s", 2, "state at 2")).ok());
  auto loaded = load(*store, "s");
  REQUIRE(loaded.has_value());
  CHECK(loaded->stream == sid("s"));
  CHECK(loaded->type == "Totals");
  CHECK(loaded->schema == 1);
  CHECK(loaded->version == StreamVersion{2});
  CHECK(loaded->state == bytes("state at 2"));
  // Types, schemas and streams are independent of each other.
  CHECK_FALSE(load(*store, "s", "Other").has_value());
  CHECK_FALSE(load(*store, "s", "Totals", 2).has_value());
  CHECK_FALSE(load(*store, "t").has_value());
  REQUIRE(store->save_snapshot(snapshot("s", 1, "other schema", "Totals", 2)).ok());
  CHECK(load(*store, "s")->state == bytes("state at 2"));
  CHECK(load(*store, "s", "Totals", 2)->state == bytes("other schema"));
}

TEMPLATE_TEST_CASE("snapshots only move forward", "[contract][snapshot]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), events(5))}));
  REQUIRE(store->save_snapshot(snapshot("s", 3, "at 3")).ok());
  REQUIRE(store->save_snapshot(snapshot("s", 2, "at 2")).ok());  // older: ignored, not an error
  CHECK(load(*store, "s")->version == StreamVersion{3});
  REQUIRE(store->save_snapshot(snapshot("s", 3, "again at 3")).ok());  // the same version: kept as it was
  CHECK(load(*store, "s")->state == bytes("at 3"));
  REQUIRE(store->save_snapshot(snapshot("s", 5, "at 5")).ok());
  auto loaded = load(*store, "s");
  CHECK(loaded->version == StreamVersion{5});
  CHECK(loaded->state == bytes("at 5"));
}

TEMPLATE_TEST_CASE("reading after a snapshot returns exactly the events it does not cover, and the log never shows it",
                   "[contract][snapshot]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto written = events(5);
  must_append(*store, request({write("s", ExpectedVersion::no_stream(), written)}));
  REQUIRE(store->save_snapshot(snapshot("s", 3, "at 3")).ok());
  auto loaded = load(*store, "s");
  REQUIRE(loaded.has_value());
  auto rest = read_stream(*store, "s", loaded->version.value + 1);
  CHECK(ids_of(rest) == std::vector<EventId>{written[3].id, written[4].id});
  CHECK(version_of(*store, "s") == 5);
  CHECK(read_everything(*store).size() == 5);
}

TEMPLATE_TEST_CASE("a snapshot at version 0, with no type, or over the payload limit is rejected",
                   "[contract][snapshot]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store, StoreLimits{.max_payload_bytes = 16});
  auto rejected = [&](const Snapshot& s, ErrorCode code) {
    auto status = store->save_snapshot(s);
    REQUIRE_FALSE(status.ok());
    INFO(to_string(status.error()));
    CHECK(status.error().code == code);
    CHECK(contains(status.error().message, "'s'"));
  };
  rejected(snapshot("s", 0, "x"), ErrorCode::invalid_argument);
  rejected(snapshot("s", 1, "x", ""), ErrorCode::invalid_argument);
  rejected(snapshot("s", 1, "seventeen bytes!!"), ErrorCode::payload_too_large);
  CHECK_FALSE(load(*store, "s").has_value());
}

// ===========================================================================
// Command records (idempotency keys)

namespace {
AppendRequest keyed(std::vector<StreamWrite> writes, std::string key, std::string_view data = "record") {
  AppendRequest req{std::move(writes)};
  req.record = CommandRecord{std::move(key), bytes(data), {}};
  return req;
}
std::optional<CommandRecord> load_record(EventStore& store, std::string_view key) {
  auto loaded = store.load_command_record(key);
  if (!loaded) FAIL("load_command_record failed: " << to_string(loaded.error()));
  return std::move(loaded).value();
}
}  // namespace

TEMPLATE_TEST_CASE("a command record is written with its events and loads back, and a missing one loads as none",
                   "[contract][record]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  CHECK_FALSE(load_record(*store, "k1").has_value());
  const auto before = std::chrono::system_clock::now() - std::chrono::minutes(1);
  must_append(*store, keyed({write("s", ExpectedVersion::no_stream(), events(2))}, "k1", "what k1 did"));
  auto loaded = load_record(*store, "k1");
  REQUIRE(loaded.has_value());
  CHECK(loaded->key == "k1");
  CHECK(loaded->data == bytes("what k1 did"));
  CHECK(loaded->recorded_at > before);
  CHECK_FALSE(load_record(*store, "k2").has_value());
  CHECK_FALSE(load_record(*store, "k").has_value());  // keys match whole, not by prefix
  // An append with only read-only participants still writes its record.
  must_append(*store, keyed({write("s", ExpectedVersion::exact(2))}, "k2", "nothing"));
  CHECK(load_record(*store, "k2")->data == bytes("nothing"));
}

TEMPLATE_TEST_CASE("records live beside the log: read_all and read_stream never show them", "[contract][record]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto written = events(2);
  must_append(*store, keyed({write("s", ExpectedVersion::no_stream(), written)}, "k"));
  CHECK(ids_of(read_everything(*store)) == ids_of(written));
  CHECK(ids_of(read_stream(*store, "s")) == ids_of(written));
  CHECK(version_of(*store, "s") == 2);
}

TEMPLATE_TEST_CASE("an append whose key already has a record fails as duplicate_key and writes nothing",
                   "[contract][record]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, keyed({write("s", ExpectedVersion::no_stream(), events(1))}, "k", "first"));
  auto error = must_fail(*store, keyed({write("t", ExpectedVersion::no_stream(), events(1))}, "k", "second"),
                         ErrorCode::duplicate_key);
  CHECK(contains(error.message, "'k'"));
  CHECK(version_of(*store, "t") == 0);
  CHECK(load_record(*store, "k")->data == bytes("first"));
  // A failed append writes no record either.
  must_fail(*store, keyed({write("s", ExpectedVersion::no_stream(), events(1))}, "other"), ErrorCode::conflict);
  CHECK_FALSE(load_record(*store, "other").has_value());
}

TEMPLATE_TEST_CASE("an empty or over-long key, or a record over the payload limit, is rejected", "[contract][record]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store, StoreLimits{.max_payload_bytes = 16});
  must_fail(*store, keyed({write("s", ExpectedVersion::any(), events(1))}, ""), ErrorCode::invalid_argument);
  must_fail(*store, keyed({write("s", ExpectedVersion::any(), events(1))}, std::string(201, 'k')),
            ErrorCode::invalid_argument);
  must_fail(*store, keyed({write("s", ExpectedVersion::any(), events(1))}, "k", "seventeen bytes!!"),
            ErrorCode::payload_too_large);
  must_append(*store, keyed({write("s", ExpectedVersion::any(), events(1))}, std::string(200, 'k')));
  CHECK(version_of(*store, "s") == 1);
}

TEMPLATE_TEST_CASE("expired records are removed, younger ones kept, and an expired key can be used again",
                   "[contract][record]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, keyed({write("s", ExpectedVersion::no_stream(), events(1))}, "k"));
  auto kept = store->expire_command_records(std::chrono::hours(1));
  REQUIRE(kept.ok());
  CHECK(*kept == 0);
  CHECK(load_record(*store, "k").has_value());
  auto removed = store->expire_command_records(std::chrono::seconds(0));
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  CHECK_FALSE(load_record(*store, "k").has_value());
  must_append(*store, keyed({write("s", ExpectedVersion::exact(1), events(1))}, "k", "again"));
  CHECK(load_record(*store, "k")->data == bytes("again"));
  CHECK(version_of(*store, "s") == 2);  // the events stay: only the record expired
}

TEMPLATE_TEST_CASE("of concurrent appends with one key, exactly one writes and the others fail as duplicate_key, "
                   "never as a deadlock", "[contract][record][concurrency]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  constexpr int threads = 4;
  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> successes{0}, duplicates{0}, failures{0};
    std::atomic<bool> go{false};
    const std::string key = "k-" + std::to_string(round);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        // Two writers share streams (in opposite orders), two write streams of their own.
        std::vector<StreamWrite> writes{
            StreamWrite{*StreamId::try_new(t < 2 ? "shared-a" : "own-a" + std::to_string(t)), ExpectedVersion::any(),
                        {event()}},
            StreamWrite{*StreamId::try_new(t < 2 ? "shared-b" : "own-b" + std::to_string(t)), ExpectedVersion::any(),
                        {event()}}};
        if (t % 2) std::swap(writes[0], writes[1]);
        AppendRequest req{std::move(writes)};
        req.record = CommandRecord{key, bytes("by " + std::to_string(t)), {}};
        while (!go) std::this_thread::yield();
        auto r = store->append(req);
        if (r) ++successes;
        else if (r.error().code == ErrorCode::duplicate_key) ++duplicates;
        else ++failures;
      });
    }
    go = true;
    for (auto& w : workers) w.join();
    CHECK(failures.load() == 0);
    CHECK(successes.load() == 1);
    CHECK(duplicates.load() == threads - 1);
  }
  // One append per round wrote its two events; the others wrote nothing.
  std::uint64_t written = version_of(*store, "shared-a") + version_of(*store, "shared-b");
  for (int t = 2; t < threads; ++t)
    written += version_of(*store, "own-a" + std::to_string(t)) + version_of(*store, "own-b" + std::to_string(t));
  CHECK(written == 2 * rounds);
}

TEMPLATE_TEST_CASE("append_batch fails a request whose key is taken, alone, and keeps the order",
                   "[contract][record][batch]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, keyed({write("x", ExpectedVersion::no_stream(), events(1))}, "taken"));
  auto results = store->append_batch({
      request({write("a", ExpectedVersion::no_stream(), events(1))}),
      keyed({write("a", ExpectedVersion::exact(1), events(1))}, "k1"),
      keyed({write("b", ExpectedVersion::no_stream(), events(1))}, "k1"),     // the key of the request before
      keyed({write("c", ExpectedVersion::no_stream(), events(1))}, "taken"),  // a key from before the batch
      request({write("a", ExpectedVersion::exact(2), events(1))}),
      request({write("d", ExpectedVersion::no_stream(), events(1))}),
  });
  REQUIRE(results.size() == 6);
  CHECK(results[0].ok());
  CHECK(results[1].ok());
  REQUIRE_FALSE(results[2].ok());
  CHECK(results[2].error().code == ErrorCode::duplicate_key);
  REQUIRE_FALSE(results[3].ok());
  CHECK(results[3].error().code == ErrorCode::duplicate_key);
  CHECK(results[4].ok());
  CHECK(results[5].ok());
  CHECK(version_of(*store, "a") == 3);
  CHECK(version_of(*store, "b") == 0);
  CHECK(version_of(*store, "c") == 0);
  CHECK(version_of(*store, "d") == 1);
}

// ===========================================================================
// Reading the whole log

TEMPLATE_TEST_CASE("read_all returns every event once, in one increasing global order",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  std::vector<GlobalPosition> appended;
  std::vector<EventId> expected_ids;
  auto append = [&](AppendRequest req) {
    for (const auto& w : req.streams)
      for (const auto& e : w.events) expected_ids.push_back(e.id);
    auto r = must_append(*store, std::move(req));
    appended.insert(appended.end(), r.positions.begin(), r.positions.end());
  };
  append(request({write("x", ExpectedVersion::any(), events(2))}));
  append(request({write("x", ExpectedVersion::any(), events(1)),
                  write("y", ExpectedVersion::any(), events(1))}));
  append(request({write("z", ExpectedVersion::any(), events(3))}));
  append(request({write("x", ExpectedVersion::any(), events(1))}));

  auto all = read_everything(*store);
  REQUIRE(all.size() == expected_ids.size());
  CHECK(ids_of(all) == expected_ids);
  CHECK(streams_of(all) == std::vector<std::string>{"x", "x", "x", "y", "z", "z", "z", "x"});
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].position == appended[i]);
    CHECK(all[i].position > GlobalPosition{});
    if (i > 0) CHECK(all[i - 1].position < all[i].position);
  }
}

TEMPLATE_TEST_CASE("read_all resumed from a returned next yields exactly the rest", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  for (int i = 0; i < 4; ++i)
    must_append(*store, request({write("s" + std::to_string(i % 2), ExpectedVersion::any(), events(3))}));
  const auto all = read_everything(*store);
  REQUIRE(all.size() == 12);

  auto first = read_all(*store, {}, 5);
  REQUIRE(first.events.size() == 5);
  CHECK(first.next == first.events.back().position);
  auto rest = read_all(*store, first.next, 1000);
  CHECK(rest.events.size() == 7);
  std::vector<StoredEvent> joined = first.events;
  joined.insert(joined.end(), rest.events.begin(), rest.events.end());
  CHECK(ids_of(joined) == ids_of(all));

  // At the end: an empty page whose next is where the reader already is.
  auto end = read_all(*store, rest.next, 1000);
  CHECK(end.events.empty());
  CHECK(end.next == rest.next);

  // Events appended later are picked up from the same cursor.
  auto later = events(2);
  must_append(*store, request({write("s9", ExpectedVersion::any(), later)}));
  auto tail = read_all(*store, rest.next, 1000);
  CHECK(ids_of(tail.events) == ids_of(later));
}

TEMPLATE_TEST_CASE("read_all returns at most the requested number of events", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("a", ExpectedVersion::any(), events(4)),
                               write("b", ExpectedVersion::any(), events(3))}));
  const auto all = read_everything(*store);
  REQUIRE(all.size() == 7);

  SECTION("a page of 0 returns nothing and does not move") {
    auto page = read_all(*store, {}, 0);
    CHECK(page.events.empty());
    CHECK(page.next == GlobalPosition{});
    auto mid = read_all(*store, all[2].position, 0);
    CHECK(mid.events.empty());
    CHECK(mid.next == all[2].position);
  }
  SECTION("a page of 1 returns the next event") {
    auto page = read_all(*store, all[2].position, 1);
    REQUIRE(page.events.size() == 1);
    CHECK(page.events[0].id == all[3].id);
    CHECK(page.next == all[3].position);
  }
  SECTION("a page of n returns n events") {
    auto page = read_all(*store, {}, 4);
    const auto all_ids = ids_of(all);
    CHECK(ids_of(page.events) == std::vector<EventId>(all_ids.begin(), all_ids.begin() + 4));
    CHECK(page.next == all[3].position);
  }
  SECTION("paging through everything one event at a time gives every event once, in order") {
    CHECK(ids_of(read_everything(*store, 1)) == ids_of(all));
  }
  SECTION("paging in pages of 3 gives every event once, in order") {
    CHECK(ids_of(read_everything(*store, 3)) == ids_of(all));
  }
}

TEMPLATE_TEST_CASE("pages larger than the store's limit are clamped to it", "[contract]",
                   CONTRACT_STORES) {
  StoreLimits limits;
  limits.max_page_size = 3;
  GIVEN_A_FRESH_STORE(store, limits);
  must_append(*store, request({write("s", ExpectedVersion::any(), events(5))}));
  CHECK(read_all(*store, {}, 100).events.size() == 3);
  CHECK(read_stream(*store, "s", 1, 100).size() == 3);
  CHECK(read_everything(*store, 100).size() == 5);
}

TEMPLATE_TEST_CASE("read_all filters by event type, by stream prefix, or both", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("account-1", ExpectedVersion::any(),
                                     {event("Opened"), event("Deposited")}),
                               write("order-1", ExpectedVersion::any(), {event("Placed")})}));
  must_append(*store, request({write("account-2", ExpectedVersion::any(),
                                     {event("Opened"), event("Withdrawn")})}));
  must_append(*store, request({write("order-2", ExpectedVersion::any(),
                                     {event("Placed"), event("Deposited")})}));
  const auto all = read_everything(*store);
  REQUIRE(all.size() == 7);

  auto types_of = [](const std::vector<StoredEvent>& evs) {
    std::vector<std::string> out;
    for (const auto& e : evs) out.push_back(e.type);
    return out;
  };

  SECTION("by one type") {
    auto got = read_everything(*store, 1000, EventFilter{{"Opened"}, ""});
    CHECK(streams_of(got) == std::vector<std::string>{"account-1", "account-2"});
  }
  SECTION("by several types") {
    auto got = read_everything(*store, 1000, EventFilter{{"Placed", "Withdrawn"}, ""});
    CHECK(types_of(got) == std::vector<std::string>{"Placed", "Withdrawn", "Placed"});
  }
  SECTION("by stream prefix") {
    auto got = read_everything(*store, 1000, EventFilter{{}, "order-"});
    CHECK(streams_of(got) == std::vector<std::string>{"order-1", "order-2", "order-2"});
  }
  SECTION("by type and stream prefix") {
    auto got = read_everything(*store, 1000, EventFilter{{"Deposited"}, "account-"});
    REQUIRE(got.size() == 1);
    CHECK(got[0].stream == sid("account-1"));
    CHECK(got[0].type == "Deposited");
  }
  SECTION("a prefix matches at the start only, never inside or at the end of a stream id") {
    must_append(*store, request({write("xorder-3", ExpectedVersion::any(), {event("Placed")}),
                                 write("my-order-4", ExpectedVersion::any(), {event("Placed")}),
                                 write("order", ExpectedVersion::any(), {event("Placed")})}));
    auto got = read_everything(*store, 1000, EventFilter{{}, "order-"});
    CHECK(streams_of(got) == std::vector<std::string>{"order-1", "order-2", "order-2"});
    CHECK(streams_of(read_everything(*store, 1000, EventFilter{{}, "order"})) ==
          std::vector<std::string>{"order-1", "order-2", "order-2", "order"});
  }
  SECTION("a prefix is literal: SQL wildcards match only themselves") {
    CHECK(read_everything(*store, 1000, EventFilter{{}, "%"}).empty());
    CHECK(read_everything(*store, 1000, EventFilter{{}, "account_"}).empty());
    CHECK(read_everything(*store, 1000, EventFilter{{}, "account-_"}).empty());
  }
  SECTION("a filter matching nothing returns an empty page at the requested position") {
    auto page = read_all(*store, {}, 10, EventFilter{{"Nothing"}, ""});
    CHECK(page.events.empty());
    CHECK(page.next == GlobalPosition{});
  }
  SECTION("a filtered page is bounded and resumes where it stopped") {
    auto got = read_everything(*store, 1, EventFilter{{"Opened", "Placed"}, ""});
    CHECK(types_of(got) == std::vector<std::string>{"Opened", "Placed", "Opened", "Placed"});
    for (std::size_t i = 1; i < got.size(); ++i) CHECK(got[i - 1].position < got[i].position);
  }
  SECTION("the empty filter matches everything") {
    CHECK(ids_of(read_everything(*store, 1000, EventFilter{})) == ids_of(all));
  }
}

// ===========================================================================
// Event ids

TEMPLATE_TEST_CASE("an event id already in the store is rejected as a duplicate, writing nothing",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto original = event();
  must_append(*store, request({write("first", ExpectedVersion::any(), {original})}));
  const auto before = read_everything(*store);

  SECTION("retried on the same stream") {
    auto error = must_fail(*store, request({write("first", ExpectedVersion::any(), {original})}),
                           ErrorCode::duplicate_event);
    CHECK(contains(error.message, original.id.str()));
  }
  SECTION("on another stream, beside fresh events") {
    auto error = must_fail(*store, request({write("second", ExpectedVersion::any(),
                                                  {event(), original, event()}),
                                            write("third", ExpectedVersion::any(), events(2))}),
                           ErrorCode::duplicate_event);
    CHECK(contains(error.message, original.id.str()));
  }
  CHECK(version_of(*store, "first") == 1);
  CHECK(version_of(*store, "second") == 0);
  CHECK(version_of(*store, "third") == 0);
  CHECK(ids_of(read_everything(*store)) == ids_of(before));
}

// Past 65,536 ids the in-memory store's id set moves to a large (huge-page)
// table: every id must survive each move.
TEMPLATE_TEST_CASE("in a log of 150 thousand events every stored id is a duplicate and a fresh one is not",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  std::vector<EventToWrite> sample;
  for (int batch = 0; batch < 150; ++batch) {
    auto written = events(1000);
    sample.push_back(written[static_cast<std::size_t>(batch * 7 % 1000)]);
    must_append(*store, request({write("big-" + std::to_string(batch), ExpectedVersion::no_stream(), written)}));
  }
  for (const auto& original : sample)
    must_fail(*store, request({write("again", ExpectedVersion::any(), {original})}), ErrorCode::duplicate_event);
  must_append(*store, request({write("again", ExpectedVersion::no_stream(), events(1000))}));
  CHECK(version_of(*store, "again") == 1000);
}

TEMPLATE_TEST_CASE("an event id repeated within one append is an invalid argument", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto twice = event();
  SECTION("in one stream") {
    must_fail(*store, request({write("s", ExpectedVersion::any(), {twice, twice})}),
              ErrorCode::invalid_argument);
  }
  SECTION("across two streams") {
    must_fail(*store, request({write("s", ExpectedVersion::any(), {twice}),
                               write("t", ExpectedVersion::any(), {twice})}),
              ErrorCode::invalid_argument);
  }
  CHECK(read_everything(*store).empty());
}

// ===========================================================================
// Input the store rejects before writing

TEMPLATE_TEST_CASE("a payload over the configured limit is rejected, naming the event",
                   "[contract]", CONTRACT_STORES) {
  StoreLimits limits;
  limits.max_payload_bytes = 1024;
  GIVEN_A_FRESH_STORE(store, limits);

  EventToWrite at_limit{EventId::generate(), "Fits", Payload(1024, 0x61), {}};
  must_append(*store, request({write("s", ExpectedVersion::any(), {at_limit})}));

  EventToWrite over{EventId::generate(), "TooBig", Payload(1025, 0x62), {}};
  auto error = must_fail(*store, request({write("s", ExpectedVersion::any(), {event()}),
                                          write("t", ExpectedVersion::any(), {event(), over})}),
                         ErrorCode::payload_too_large);
  INFO(error.message);
  CHECK(contains(error.message, over.id.str()));
  CHECK(contains(error.message, "TooBig"));
  CHECK(contains(error.message, "1025"));
  CHECK(contains(error.message, "1024"));
  CHECK(version_of(*store, "s") == 1);
  CHECK(version_of(*store, "t") == 0);
  CHECK(read_everything(*store).size() == 1);
}

TEMPLATE_TEST_CASE("a payload one byte over the default 8 MiB limit is rejected", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  REQUIRE(StoreLimits{}.max_payload_bytes == 8 * 1024 * 1024);
  EventToWrite over{EventId::generate(), "Huge", Payload(8 * 1024 * 1024 + 1), {}};
  auto error = must_fail(*store, request({write("s", ExpectedVersion::any(), {over})}),
                         ErrorCode::payload_too_large);
  CHECK(contains(error.message, over.id.str()));
  CHECK(read_everything(*store).empty());
}

TEMPLATE_TEST_CASE("a stream listed twice in one append is an invalid argument", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto error = must_fail(*store, request({write("twice", ExpectedVersion::any(), events(1)),
                                          write("other", ExpectedVersion::any(), events(1)),
                                          write("twice", ExpectedVersion::any(), events(1))}),
                         ErrorCode::invalid_argument);
  CHECK(contains(error.message, "twice"));
  CHECK(read_everything(*store).empty());
}

TEMPLATE_TEST_CASE("an append naming no stream is an invalid argument", "[contract]",
                   CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_fail(*store, AppendRequest{}, ErrorCode::invalid_argument);
  CHECK(read_everything(*store).empty());
}

TEMPLATE_TEST_CASE("an event with an empty type or the nil id is an invalid argument",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  SECTION("empty type") {
    must_fail(*store, request({write("s", ExpectedVersion::any(), {event(""), event()})}),
              ErrorCode::invalid_argument);
  }
  SECTION("nil id") {
    EventToWrite nil{EventId{}, "Tested", bytes("x"), {}};
    must_fail(*store, request({write("s", ExpectedVersion::any(), {event(), nil})}),
              ErrorCode::invalid_argument);
  }
  CHECK(read_everything(*store).empty());
}

// ===========================================================================
// Batches of independent appends

TEMPLATE_TEST_CASE("append_batch applies each request on its own, answering in request order",
                   "[contract][batch]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("taken", ExpectedVersion::no_stream(), events(1))}));
  auto for_one = events(2), for_three = events(1);
  auto results = store->append_batch({
      request({write("one", ExpectedVersion::no_stream(), for_one)}),
      request({write("two", ExpectedVersion::no_stream(), events(1)),
               write("taken", ExpectedVersion::no_stream(), events(1))}),  // conflicts
      request({write("three", ExpectedVersion::any(), for_three)}),
      AppendRequest{},  // invalid
  });
  REQUIRE(results.size() == 4);
  REQUIRE(results[0].ok());
  CHECK(results[0]->streams[0].stream == sid("one"));
  CHECK(results[0]->streams[0].version == StreamVersion{2});
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().code == ErrorCode::conflict);
  CHECK(contains(results[1].error().message, "taken"));
  REQUIRE(results[2].ok());
  CHECK(results[2]->streams[0].stream == sid("three"));
  REQUIRE_FALSE(results[3].ok());
  CHECK(results[3].error().code == ErrorCode::invalid_argument);

  CHECK(ids_of(read_stream(*store, "one")) == ids_of(for_one));
  CHECK(version_of(*store, "two") == 0);
  CHECK(version_of(*store, "taken") == 1);
  CHECK(ids_of(read_stream(*store, "three")) == ids_of(for_three));
  // The positions each result reports name its events.
  for (const auto* r : {&results[0], &results[2]})
    for (auto position : (*r)->positions) last_acknowledged = std::max(last_acknowledged, position);
  CHECK(read_everything(*store).size() == 4);
  CHECK(read_stream(*store, "one")[1].position == results[0]->positions[1]);
  CHECK(read_stream(*store, "three")[0].position == results[2]->positions[0]);
}

TEMPLATE_TEST_CASE("append_batch requests naming the same stream apply in order",
                   "[contract][batch]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto first = events(1), second = events(1);
  auto results = store->append_batch({request({write("s", ExpectedVersion::no_stream(), first)}),
                                      request({write("s", ExpectedVersion::exact(1), second)})});
  REQUIRE(results.size() == 2);
  CHECK(results[0].ok());
  CHECK(results[1].ok());
  CHECK(version_of(*store, "s") == 2);
  auto stored = read_stream(*store, "s");
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].id == first[0].id);
  CHECK(stored[1].id == second[0].id);
}

TEMPLATE_TEST_CASE("an empty append_batch answers nothing", "[contract][batch]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  CHECK(store->append_batch({}).empty());
}

// ===========================================================================
// Concurrency

TEMPLATE_TEST_CASE("concurrent appends with expected versions keep a stream's versions contiguous",
                   "[contract][concurrency]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  constexpr int threads = 4;
  constexpr int appends_per_thread = 15;
  std::atomic<int> conflicts{0};
  std::atomic<int> failures{0};
  std::vector<std::vector<EventId>> written(threads);

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      // No Catch2 assertions off the main thread: count outcomes instead.
      const auto stream = *StreamId::try_new("contended");
      for (int done = 0; done < appends_per_thread;) {
        auto version = store->stream_version(stream);
        if (!version) { ++failures; return; }
        auto e = event("Tick", "thread " + std::to_string(t));
        auto r = store->append(
            AppendRequest{{StreamWrite{stream, ExpectedVersion::exact(*version), {e}}}});
        if (r) {
          written[t].push_back(e.id);
          ++done;
        } else if (r.error().code == ErrorCode::conflict) {
          ++conflicts;
        } else {
          ++failures;
          return;
        }
      }
    });
  }
  for (auto& w : workers) w.join();

  REQUIRE(failures.load() == 0);
  INFO("conflicts retried: " << conflicts.load());
  const auto total = static_cast<std::size_t>(threads * appends_per_thread);
  CHECK(version_of(*store, "contended") == total);
  auto stored = read_stream(*store, "contended", 1, 1000);
  REQUIRE(stored.size() == total);
  std::set<EventId> acknowledged;
  for (const auto& ids : written) acknowledged.insert(ids.begin(), ids.end());
  std::set<EventId> seen;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    CHECK(stored[i].version.value == i + 1);
    seen.insert(stored[i].id);
    last_acknowledged = std::max(last_acknowledged, stored[i].position);
  }
  CHECK(seen == acknowledged);  // every acknowledged event once, nothing else
  auto all = read_everything(*store);
  CHECK(all.size() == total);
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].position < all[i].position);
}

TEMPLATE_TEST_CASE("of concurrent appends expecting the same version, exactly one succeeds",
                   "[contract][concurrency]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  must_append(*store, request({write("a", ExpectedVersion::no_stream(), events(1)),
                               write("b", ExpectedVersion::no_stream(), events(1))}));
  constexpr int threads = 4;
  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> successes{0}, conflicts{0}, failures{0};
    std::atomic<bool> go{false};
    const auto expected = static_cast<std::uint64_t>(round + 1);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        // Half the writers race on a then b, the other half on b then a.
        std::vector<StreamWrite> writes{
            StreamWrite{*StreamId::try_new("a"), ExpectedVersion::exact(expected), {event()}},
            StreamWrite{*StreamId::try_new("b"), ExpectedVersion::exact(expected), {event()}}};
        if (t % 2) std::swap(writes[0], writes[1]);
        while (!go) std::this_thread::yield();
        auto r = store->append(AppendRequest{std::move(writes)});
        if (r) ++successes;
        else if (r.error().code == ErrorCode::conflict) ++conflicts;
        else ++failures;
      });
    }
    go = true;
    for (auto& w : workers) w.join();
    CHECK(failures.load() == 0);
    CHECK(successes.load() == 1);
    CHECK(conflicts.load() == threads - 1);
    CHECK(version_of(*store, "a") == expected + 1);
    CHECK(version_of(*store, "b") == expected + 1);
  }
  for (const auto& e : read_stream(*store, "a"))
    last_acknowledged = std::max(last_acknowledged, e.position);
  for (const auto& e : read_stream(*store, "b"))
    last_acknowledged = std::max(last_acknowledged, e.position);
  CHECK(read_everything(*store).size() == 2 * (rounds + 1));
}

TEMPLATE_TEST_CASE("watch_appends wakes a watcher after an append, when the event is readable, and never once "
                   "the watch is gone", "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  std::atomic<int> wakes{0};
  auto watch = store->watch_appends([&] { wakes.fetch_add(1); });
  REQUIRE(watch != nullptr);
  const int before = wakes.load();  // PostgreSQL wakes once when its LISTEN is in place
  const auto appended = must_append(*store, request({write("watched-1", ExpectedVersion::any(), {event()})}));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (wakes.load() == before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(wakes.load() > before);
  const auto page = read_all(*store);
  REQUIRE(page.events.size() == 1);
  CHECK(page.events[0].position == appended.positions[0]);

  watch.reset();
  const int after = wakes.load();
  must_append(*store, request({write("watched-1", ExpectedVersion::any(), {event()})}));
  settle(*store);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a late notification would land by now
  CHECK(wakes.load() == after);
}

TEMPLATE_TEST_CASE("backlog counts what a reader at a position with a filter has still to read, and names the head",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  const auto first = must_append(*store, request({write("account-1", ExpectedVersion::any(), events(3, "Deposited"))}));
  const auto second = must_append(*store, request({write("order-1", ExpectedVersion::any(), events(2, "Placed"))}));
  settle(*store);
  const GlobalPosition head = second.positions.back();

  auto all = store->backlog({}, {});
  REQUIRE(all.ok());
  CHECK(all->head == head);
  CHECK(all->readable == 5);
  CHECK(all->oldest_ms >= 0);
  CHECK(all->held_back == 0);

  auto accounts = store->backlog(first.positions[0], EventFilter{{}, "account-"});
  REQUIRE(accounts.ok());
  CHECK(accounts->readable == 2);
  CHECK(accounts->head == head);  // the head whatever the filter

  auto placed = store->backlog({}, EventFilter{{"Placed"}, ""});
  REQUIRE(placed.ok());
  CHECK(placed->readable == 2);

  auto none = store->backlog(head, {});
  REQUIRE(none.ok());
  CHECK(none->readable == 0);
  CHECK(none->oldest_ms == 0);
  CHECK(none->head == head);
}

// ===========================================================================
// Listing streams and totals (for operators)

TEMPLATE_TEST_CASE("list_streams pages through the streams with a prefix, each once, with its version",
                   "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  std::map<std::string, std::uint64_t> expected;
  for (int i = 0; i < 7; ++i) {
    const std::string id = "account-" + std::to_string(i);
    must_append(*store, request({write(id, ExpectedVersion::any(), events(static_cast<std::size_t>(i % 3 + 1)))}));
    expected[id] = static_cast<std::uint64_t>(i % 3 + 1);
  }
  // The prefix in the middle of an id, or at its start with another category, must not match.
  must_append(*store, request({write("saving-account-1", ExpectedVersion::any(), events(1))}));
  must_append(*store, request({write("order-1", ExpectedVersion::any(), events(2))}));

  std::map<std::string, std::uint64_t> seen;
  std::string after;
  for (int pages = 0;; ++pages) {
    REQUIRE(pages < 10);
    auto page = store->list_streams("account-", after, 3);
    REQUIRE(page.ok());
    REQUIRE(page->size() <= 3);
    for (const auto& info : *page) {
      INFO(info.stream.str());
      CHECK(seen.emplace(info.stream.str(), info.version.value).second);  // each once
      after = info.stream.str();
    }
    if (page->size() < 3) break;
  }
  CHECK(seen == expected);

  auto everything = store->list_streams("", "", 100);
  REQUIRE(everything.ok());
  CHECK(everything->size() == 9);
  auto none = store->list_streams("account-", "", 0);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEMPLATE_TEST_CASE("totals count the streams and events and name the head", "[contract]", CONTRACT_STORES) {
  GIVEN_A_FRESH_STORE(store);
  auto empty = store->totals();
  REQUIRE(empty.ok());
  CHECK(empty->streams == 0);
  CHECK(empty->events == 0);
  CHECK(empty->head == GlobalPosition{});
  must_append(*store, request({write("account-1", ExpectedVersion::any(), events(3))}));
  const auto last = must_append(*store, request({write("account-2", ExpectedVersion::any(), events(2)),
                                                 write("order-1", ExpectedVersion::any(), events(1))}));
  settle(*store);
  auto totals = store->totals();
  REQUIRE(totals.ok());
  CHECK(totals->streams == 3);
  CHECK(totals->events == 6);
  CHECK(totals->head == last.positions.back());
}
