#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "postgres_test_support.hpp"
#include "racing_appender.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {

std::vector<StreamId> race_streams() {
  return {stream("race-a"), stream("race-b"), stream("race-c")};
}

// Every stream holds versions 1..n with no gap or duplicate, and every
// acknowledged event is in the store exactly once (by stream and in read_all).
void check_streams_and_events(EventStore& store, const std::vector<StreamId>& streams,
                              const std::vector<EventId>& acknowledged) {
  std::map<EventId, int> seen;
  std::size_t total = 0;
  for (const auto& id : streams) {
    auto events = store.read_stream(id, StreamVersion{1}, 10'000);
    REQUIRE(events.ok());
    for (std::size_t i = 0; i < events->size(); ++i) {
      REQUIRE((*events)[i].version.value == i + 1);
      ++seen[(*events)[i].id];
    }
    CHECK(store.stream_version(id)->value == events->size());
    total += events->size();
  }
  CHECK(total == acknowledged.size());
  for (const auto& id : acknowledged) CHECK(seen[id] == 1);

  std::set<EventId> in_log;
  GlobalPosition after{};
  for (;;) {
    auto page = store.read_all(after, 100);
    REQUIRE(page.ok());
    if (page->events.empty()) break;
    for (const auto& e : page->events) CHECK(in_log.insert(e.id).second);
    after = page->next;
  }
  CHECK(in_log.size() == acknowledged.size());
}

}  // namespace

TEST_CASE("eight threads racing on the same streams with expected versions leave versions 1..n "
          "and every acknowledged event exactly once") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("race");
  auto config = store_config(schema);
  config.pool_size = 8;
  auto store = open_store(config);
  const auto streams = race_streams();

  constexpr int threads = 8, appends_per_thread = 25;
  std::vector<RaceOutcome> outcomes(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] { outcomes[t] = race_appends(*store, streams, appends_per_thread, 1000 + t); });
  for (auto& w : workers) w.join();

  std::vector<EventId> acknowledged;
  int conflicts = 0;
  for (const auto& outcome : outcomes) {
    INFO(outcome.error);
    REQUIRE(outcome.error.empty());
    acknowledged.insert(acknowledged.end(), outcome.acknowledged.begin(), outcome.acknowledged.end());
    conflicts += outcome.conflicts;
  }
  // Racing on three streams must actually race.
  CHECK(conflicts > 0);
  check_streams_and_events(*store, streams, acknowledged);
}

TEST_CASE("two processes racing on the same streams with expected versions leave versions 1..n "
          "and every acknowledged event exactly once") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("procs");  // fresh: both processes also migrate it at once
  constexpr int processes = 2, appends_per_process = 40;

  std::vector<FILE*> pipes;
  for (int p = 0; p < processes; ++p) {
    const std::string command = std::string("'") + EVENTCORE_RACE_HELPER + "' '" + test_database_url() +
                                "' " + schema.name() + " " + std::to_string(appends_per_process) + " " +
                                std::to_string(7000 + p);
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    pipes.push_back(pipe);
  }
  std::vector<EventId> acknowledged;
  for (FILE* pipe : pipes) {
    char line[256];
    std::string errors;
    while (std::fgets(line, sizeof line, pipe)) {
      std::string text(line);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (text.starts_with("ack ")) acknowledged.push_back(EventId::parse(text.substr(4)).value());
      else errors += text + "\n";
    }
    const int status = ::pclose(pipe);
    INFO(errors);
    REQUIRE(status == 0);
  }
  auto store = open_store(store_config(schema));
  CHECK(acknowledged.size() >= std::size_t{processes * appends_per_process});
  check_streams_and_events(*store, race_streams(), acknowledged);
}

namespace {
// Waits (at most 10 s) until some backend waits for a lock `holder` (a
// backend pid) holds.
bool someone_waits_for(RawConnection& observer, const std::string& holder) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (observer.exec("SELECT count(*) FROM pg_stat_activity WHERE " + holder + " = ANY(pg_blocking_pids(pid))") != "0")
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Runs `append` on a thread of its own, and commits the transaction open on
// `other` once the append waits for a lock it holds; the append's result.
template <class Append>
auto once_it_waits_for(RawConnection& other, Append append) {
  RawConnection observer;
  const std::string pid = other.exec("SELECT pg_backend_pid()");
  std::optional<decltype(append())> result;
  std::thread appender([&] { result.emplace(append()); });
  const bool waited = someone_waits_for(observer, pid);
  other.exec("COMMIT");
  appender.join();
  CHECK(waited);
  return std::move(*result);
}
}  // namespace

// The check holds at commit: a stream another transaction moves while the
// append waits for its lock is checked at its new version.
TEST_CASE("a multi-stream append that waits for a stream's lock is checked against the version committed meanwhile") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("lock_wait");
  auto store = open_store(store_config(schema));
  const auto a = stream("wait-a"), b = stream("wait-b");
  REQUIRE(store->append(one_event(a, ExpectedVersion::no_stream())).ok());
  REQUIRE(store->append(one_event(b, ExpectedVersion::no_stream())).ok());
  RawConnection writer(schema.name());
  // Another writer moves stream a to `to` in a transaction that stays open
  // until the store's append waits for it: for a's lock, as every writer
  // takes it (migration 8), or, with `locks` false, for the events' key.
  auto race = [&](std::uint64_t to, ExpectedVersion expect_a, ExpectedVersion expect_b, bool locks = true) {
    writer.exec("BEGIN");
    if (locks) writer.exec("SELECT pg_advisory_xact_lock(eventcore_stream_key('wait-a'))");
    writer.exec("INSERT INTO events (event_id, stream_id, stream_version, event_type, payload)"
                " VALUES (gen_random_uuid(), 'wait-a', " + std::to_string(to) + ", 'Raw', '\\x00')");
    AppendRequest request;
    request.streams.push_back({a, expect_a, {EventToWrite{EventId::generate(), "T", {1}, {}}}});
    request.streams.push_back({b, expect_b, {EventToWrite{EventId::generate(), "T", {2}, {}}}});
    return once_it_waits_for(writer, [&] { return store->append(request); });
  };

  SECTION("expecting the version the other writer replaced: a conflict that names it, nothing written") {
    auto result = race(2, ExpectedVersion::exact(1), ExpectedVersion::exact(1));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::conflict);
    CHECK(result.error().message.find("'wait-a' is at version 2") != std::string::npos);
    CHECK(store->stream_version(a)->value == 2);
    CHECK(store->stream_version(b)->value == 1);
  }
  SECTION("a check the new version still passes (stream exists): written after the other writer's events") {
    auto result = race(2, ExpectedVersion::stream_exists(), ExpectedVersion::stream_exists());
    REQUIRE(result.ok());
    CHECK(store->stream_version(a)->value == 3);
    CHECK(result->streams[0].version.value == 3);
  }
  SECTION("a writer that takes no lock: the events' key refuses the second event at its version") {
    auto result = race(2, ExpectedVersion::exact(1), ExpectedVersion::exact(1), /*locks=*/false);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::conflict);
    CHECK(result.error().message.find("'wait-a' is at version 2") != std::string::npos);
    CHECK(store->stream_version(b)->value == 1);
    auto page = store->read_stream(a, StreamVersion{1}, 10);
    REQUIRE(page.ok());
    CHECK(page->events.size() == 2);
  }
  SECTION("the same with stream exists: written after the other writer's event") {
    auto result = race(2, ExpectedVersion::stream_exists(), ExpectedVersion::stream_exists(), /*locks=*/false);
    REQUIRE(result.ok());
    CHECK(store->stream_version(a)->value == 3);
  }
  SECTION("group commit and a writer that takes no lock: the stale request conflicts alone, the other is written") {
    writer.exec("BEGIN");
    writer.exec("INSERT INTO events (event_id, stream_id, stream_version, event_type, payload)"
                " VALUES (gen_random_uuid(), 'wait-a', 2, 'Raw', '\\x00')");
    const std::vector<AppendRequest> requests{one_event(a, ExpectedVersion::exact(1)),
                                              one_event(b, ExpectedVersion::exact(1))};
    auto results = once_it_waits_for(writer, [&] { return store->append_batch(requests); });
    REQUIRE(results.size() == 2);
    REQUIRE_FALSE(results[0].ok());
    CHECK(results[0].error().code == ErrorCode::conflict);
    CHECK(results[0].error().message.find("'wait-a' is at version 2") != std::string::npos);
    REQUIRE(results[1].ok());
    CHECK(store->stream_version(b)->value == 2);
  }
}

// A read-only participant (a version checked, nothing written) takes the
// stream's shared lock before its check reads: a writer it waited for is
// seen, and a writer that takes the lock later waits for it. A writer of
// one stream at a version the store knows takes none (postgres_append_sql.hpp).
TEST_CASE("a read-only participant is checked against the version committed while it waited, and holds locking "
          "writers off until it commits") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("read_only_lock");
  auto store = open_store(store_config(schema));
  const auto a = stream("ro-a"), b = stream("ro-b");
  REQUIRE(store->append(one_event(a, ExpectedVersion::no_stream())).ok());
  REQUIRE(store->append(one_event(b, ExpectedVersion::no_stream())).ok());
  RawConnection other(schema.name());
  auto in_background = [&](const AppendRequest& request) {
    return once_it_waits_for(other, [&] { return store->append(request); });
  };

  SECTION("a writer commits a's next version while the participant waits: a conflict, b not written") {
    other.exec("BEGIN");
    other.exec("SELECT pg_advisory_xact_lock(eventcore_stream_key('ro-a'))");
    other.exec("INSERT INTO events (event_id, stream_id, stream_version, event_type, payload)"
               " VALUES (gen_random_uuid(), 'ro-a', 2, 'Raw', '\\x00')");
    AppendRequest request;
    request.streams.push_back({a, ExpectedVersion::exact(1), {}});
    request.streams.push_back({b, ExpectedVersion::exact(1), {EventToWrite{EventId::generate(), "T", {2}, {}}}});
    auto result = in_background(request);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::conflict);
    CHECK(result.error().message.find("'ro-a' is at version 2") != std::string::npos);
    CHECK(store->stream_version(b)->value == 1);
  }
  SECTION("a participant holds a's shared lock: an append that reads a's version waits until it commits") {
    other.exec("BEGIN");
    other.exec("SELECT pg_advisory_xact_lock_shared(eventcore_stream_key('ro-a'))");
    auto result = in_background(one_event(a, ExpectedVersion::stream_exists()));
    REQUIRE(result.ok());
    CHECK(result->streams[0].version.value == 2);
  }
  SECTION("an append to one stream at a version the store has seen takes no lock: it does not wait for the "
          "participant, and the key still orders it") {
    // The first append opened the pool's connection, which forgets what
    // the store saw before; this one teaches it a's version 2.
    REQUIRE(store->append(one_event(a, ExpectedVersion::exact(1))).ok());
    other.exec("BEGIN");
    other.exec("SELECT pg_advisory_xact_lock_shared(eventcore_stream_key('ro-a'))");
    auto known = std::async(std::launch::async, [&] { return store->append(one_event(a, ExpectedVersion::exact(2))); });
    const bool done = known.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    other.exec("COMMIT");
    CHECK(done);
    auto result = known.get();
    REQUIRE(result.ok());
    CHECK(result->streams[0].version.value == 3);
    // Its version read again: a stale writer still conflicts, naming it.
    auto stale = store->append(one_event(a, ExpectedVersion::exact(2)));
    REQUIRE_FALSE(stale.ok());
    CHECK(stale.error().message.find("'ro-a' is at version 3") != std::string::npos);
  }
}

TEST_CASE("stores in two schemas of one database do not share stream locks") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema first("lock_tenant_a"), second("lock_tenant_b");
  auto store = open_store(store_config(first));
  { auto other = open_store(store_config(second)); }
  // The other schema's writer holds its lock on a stream of the same name.
  RawConnection holder(second.name());
  holder.exec("BEGIN");
  holder.exec("SELECT pg_advisory_xact_lock(eventcore_stream_key('tenant-stream'))");
  auto append = std::async(std::launch::async,
                           [&] { return store->append(one_event(stream("tenant-stream"), ExpectedVersion::any())); });
  const bool done = append.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  holder.exec("COMMIT");
  CHECK(done);
  CHECK(append.get().ok());
}
