// PostgresStore::append_batch: one round trip for several independent
// appends (group commit), each all-or-nothing on its own.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "postgres_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {

std::vector<StoredEvent> read_everything(EventStore& store) {
  std::vector<StoredEvent> all;
  GlobalPosition after{};
  for (;;) {
    auto page = store.read_all(after, 100);
    REQUIRE(page.ok());
    if (page->events.empty()) break;
    for (auto& e : page->events) all.push_back(e);
    after = page->next;
  }
  return all;
}

AppendRequest request(std::vector<StreamWrite> writes) { return AppendRequest{std::move(writes)}; }

void require_all_ok(const std::vector<Result<AppendResult>>& results, std::size_t count) {
  REQUIRE(results.size() == count);
  for (const auto& r : results) {
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
  }
}

}  // namespace

TEST_CASE("append_batch: a conflicting request and a duplicate event id fail alone, the rest commit") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batch");
  auto store = open_store(store_config(schema));
  const auto taken = stream("taken"), old = stream("old");
  auto existing = event();
  REQUIRE(store->append(one_event(taken, ExpectedVersion::no_stream())).ok());
  REQUIRE(store->append(one_event(old, ExpectedVersion::no_stream(), existing)).ok());

  auto a1 = event(), a2 = event(), c1 = event(), d1 = event(), e1 = event();
  auto results = store->append_batch({
      request({StreamWrite{stream("a"), ExpectedVersion::no_stream(), {a1, a2}}}),
      // conflicts: 'taken' is at version 1; its other stream must not be written
      request({StreamWrite{stream("b"), ExpectedVersion::no_stream(), {event()}},
               StreamWrite{taken, ExpectedVersion::exact(7), {event()}}}),
      request({StreamWrite{stream("c"), ExpectedVersion::any(), {c1}},
               StreamWrite{old, ExpectedVersion::exact(1), {}}}),  // read-only participant, holds
      // duplicate: carries the id of an event already stored
      request({StreamWrite{stream("d"), ExpectedVersion::no_stream(), {d1, existing}}}),
      request({StreamWrite{stream("e"), ExpectedVersion::stream_exists(), {event()}}}),  // conflict: no stream
      request({StreamWrite{stream("a"), ExpectedVersion::exact(2), {e1}}}),  // after the first request
  });
  REQUIRE(results.size() == 6);
  REQUIRE(results[0].ok());
  CHECK(results[0]->streams[0].version.value == 2);
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().code == ErrorCode::conflict);
  CHECK(results[1].error().message.find("'taken' is at version 1, expected") != std::string::npos);
  REQUIRE(results[2].ok());
  CHECK(results[2]->streams[0].version.value == 1);
  CHECK(results[2]->streams[1].version.value == 1);
  REQUIRE_FALSE(results[3].ok());
  CHECK(results[3].error().code == ErrorCode::duplicate_event);
  CHECK(results[3].error().message.find(existing.id.str()) != std::string::npos);
  REQUIRE_FALSE(results[4].ok());
  CHECK(results[4].error().code == ErrorCode::conflict);
  REQUIRE(results[5].ok());
  CHECK(results[5]->streams[0].version.value == 3);

  CHECK(store->stream_version(stream("b"))->value == 0);
  CHECK(store->stream_version(taken)->value == 1);
  CHECK(store->stream_version(stream("d"))->value == 0);
  CHECK(store->stream_version(stream("e"))->value == 0);
  CHECK(store->stream_version(old)->value == 1);
  auto a = store->read_stream(stream("a"), StreamVersion{1}, 10);
  REQUIRE(a.ok());
  REQUIRE(a->size() == 3);
  CHECK((*a)[0].id == a1.id);
  CHECK((*a)[1].id == a2.id);
  CHECK((*a)[2].id == e1.id);
  CHECK(store->read_stream(stream("d"), StreamVersion{1}, 10)->empty());

  // Every acknowledged position names its event, and read_all shows exactly
  // the committed events, in the order of the positions.
  auto all = read_everything(*store);
  std::map<GlobalPosition, EventId> by_position;
  for (const auto& e : all) by_position[e.position] = e.id;
  CHECK(all.size() == 2 + 4);
  CHECK(by_position[results[0]->positions[0]] == a1.id);
  CHECK(by_position[results[0]->positions[1]] == a2.id);
  CHECK(by_position[results[2]->positions[0]] == c1.id);
  CHECK(by_position[results[5]->positions[0]] == e1.id);
  // Positions follow the order of the requests.
  CHECK(results[0]->positions[1] < results[2]->positions[0]);
  CHECK(results[2]->positions[0] < results[5]->positions[0]);
}

TEST_CASE("append_batch: two requests of one batch carrying the same event id, the first wins") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batchdup");
  auto store = open_store(store_config(schema));
  auto shared = event(), other = event();
  auto results = store->append_batch({
      request({StreamWrite{stream("x"), ExpectedVersion::no_stream(), {shared}}}),
      request({StreamWrite{stream("y"), ExpectedVersion::no_stream(), {other}}}),
      request({StreamWrite{stream("z"), ExpectedVersion::no_stream(), {shared}}}),
      request({StreamWrite{stream("x"), ExpectedVersion::exact(1), {event()}}}),
  });
  REQUIRE(results.size() == 4);
  CHECK(results[0].ok());
  CHECK(results[1].ok());
  REQUIRE_FALSE(results[2].ok());
  CHECK(results[2].error().code == ErrorCode::duplicate_event);
  REQUIRE(results[3].ok());
  CHECK(results[3]->streams[0].version.value == 2);
  CHECK(store->stream_version(stream("z"))->value == 0);
  CHECK(read_everything(*store).size() == 3);
}

TEST_CASE("append_batch: a conflict in a new stream leaves it readable as empty") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batchnew");
  auto store = open_store(store_config(schema));
  auto results = store->append_batch({
      request({StreamWrite{stream("n"), ExpectedVersion::exact(3), {event()}}}),
      request({StreamWrite{stream("m"), ExpectedVersion::any(), {event()}},
               StreamWrite{stream("n2"), ExpectedVersion::exact(2), {}}}),
  });
  REQUIRE(results.size() == 2);
  REQUIRE_FALSE(results[0].ok());
  CHECK(results[0].error().code == ErrorCode::conflict);
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().code == ErrorCode::conflict);
  CHECK(store->stream_version(stream("n"))->value == 0);
  CHECK(store->stream_version(stream("m"))->value == 0);
  CHECK(read_everything(*store).empty());
  // The stream can still be created afterwards.
  CHECK(store->append(one_event(stream("m"), ExpectedVersion::no_stream())).ok());
}

// A batch whose streams all get events, each at a version the store has
// seen it reach (or expecting no stream), is checked by the store and goes to
// the database as one append of the known form, without
// eventcore_append_batch. The function is dropped here, so only that path
// can answer.
TEST_CASE("append_batch: requests on streams whose versions the store knows commit without the batch function, "
          "versions carried from request to request") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batchknown");
  auto store = open_store(store_config(schema));
  const auto x = stream("x"), y = stream("y"), z = stream("z");
  auto x0 = event();
  REQUIRE(store->append(one_event(x, ExpectedVersion::no_stream(), x0)).ok());
  REQUIRE(store->append(one_event(y, ExpectedVersion::no_stream())).ok());
  // (Reading them makes sure the store knows: an answer on a connection the
  // pool opened meanwhile is not taken as known.)
  for (const auto& s : {x, y}) REQUIRE(store->stream_version(s)->value == 1);
  RawConnection admin(schema.name());
  admin.exec("DROP FUNCTION eventcore_append_batch");

  auto e1 = event(), e2 = event(), e3 = event(), e4 = event(), e5 = event(), e6 = event();
  auto results = store->append_batch({
      request({StreamWrite{x, ExpectedVersion::exact(1), {e1}}}),
      request({StreamWrite{y, ExpectedVersion::exact(1), {e2}}, StreamWrite{x, ExpectedVersion::exact(2), {e3}}}),
      request({StreamWrite{z, ExpectedVersion::no_stream(), {e4, e5}}}),
      request({StreamWrite{z, ExpectedVersion::exact(2), {e6}}}),
  });
  require_all_ok(results, 4);
  CHECK(results[0]->streams[0].version.value == 2);
  CHECK(results[1]->streams[0].version.value == 2);
  CHECK(results[1]->streams[1].version.value == 3);
  CHECK(results[2]->streams[0].version.value == 2);
  CHECK(results[3]->streams[0].version.value == 3);

  auto all = read_everything(*store);
  CHECK(all.size() == 2 + 6);
  std::map<GlobalPosition, EventId> by_position;
  for (const auto& e : all) by_position[e.position] = e.id;
  const std::vector<std::pair<GlobalPosition, EventId>> expected = {
      {results[0]->positions[0], e1.id}, {results[1]->positions[0], e2.id}, {results[1]->positions[1], e3.id},
      {results[2]->positions[0], e4.id}, {results[2]->positions[1], e5.id}, {results[3]->positions[0], e6.id}};
  for (std::size_t k = 0; k < expected.size(); ++k) {
    CHECK(by_position[expected[k].first] == expected[k].second);
    if (k > 0) CHECK(expected[k - 1].first < expected[k].first);  // positions follow the requests
  }
  auto xs = store->read_stream(x, StreamVersion{1}, 10);
  REQUIRE(xs.ok());
  REQUIRE(xs->size() == 3);
  CHECK((*xs)[0].id == x0.id);
  CHECK((*xs)[1].id == e1.id);
  CHECK((*xs)[2].id == e3.id);
  auto listed = store->list_streams("z", "", 10);  // the new stream has its row
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().version.value == 3);

  // Existing streams only, few events: one row of parameters per event.
  auto e7 = event(), e8 = event(), e9 = event();
  auto again = store->append_batch({request({StreamWrite{x, ExpectedVersion::exact(3), {e7}}}),
                                    request({StreamWrite{z, ExpectedVersion::exact(3), {e8, e9}}})});
  require_all_ok(again, 2);
  CHECK(again[0]->streams[0].version.value == 4);
  CHECK(again[1]->streams[0].version.value == 5);
  CHECK(again[0]->positions[0] < again[1]->positions[0]);
  CHECK(again[1]->positions[0] < again[1]->positions[1]);
  auto zs = store->read_stream(z, StreamVersion{4}, 10);
  REQUIRE(zs.ok());
  REQUIRE(zs->size() == 2);
  CHECK((*zs)[0].id == e8.id);
  CHECK((*zs)[1].id == e9.id);

  // A batch the store cannot check alone (a version it has not seen) needs
  // the function, which is gone.
  auto needs_function = store->append_batch({request({StreamWrite{x, ExpectedVersion::exact(9), {event()}}}),
                                             request({StreamWrite{y, ExpectedVersion::any(), {event()}}})});
  REQUIRE(needs_function.size() == 2);
  CHECK_FALSE(needs_function[0].ok());
  CHECK_FALSE(needs_function[1].ok());
}

// The known versions are a shortcut, never a source of truth: another writer
// moved a stream on, or holds an event id, and the batch goes to the
// function, which fails that request alone and names what it found.
TEST_CASE("append_batch: a stream moved past the version the store knew, or an event id already stored, fails only "
          "its request") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batchstale");
  auto store = open_store(store_config(schema));
  auto other = open_store(store_config(schema));
  const auto x = stream("x"), y = stream("y"), n = stream("n");
  auto stored = event();
  REQUIRE(store->append(one_event(x, ExpectedVersion::no_stream(), stored)).ok());
  REQUIRE(store->append(one_event(y, ExpectedVersion::no_stream())).ok());
  for (const auto& s : {x, y}) REQUIRE(store->stream_version(s)->value == 1);  // known to the store
  auto f = event();
  // A batch of `write` and an append of f to y: the first must conflict
  // saying `says`, the second commit.
  auto conflicts_alone = [&](StreamWrite write, const std::string& says) {
    auto results = store->append_batch(
        {request({std::move(write)}), request({StreamWrite{y, ExpectedVersion::exact(1), {f}}})});
    REQUIRE(results.size() == 2);
    REQUIRE_FALSE(results[0].ok());
    CHECK(results[0].error().code == ErrorCode::conflict);
    CHECK(results[0].error().message.find(says) != std::string::npos);
    REQUIRE(results[1].ok());
    CHECK(results[1]->streams[0].version.value == 2);
  };

  SECTION("another writer appended first") {
    REQUIRE(other->append(one_event(x, ExpectedVersion::exact(1))).ok());
    conflicts_alone(StreamWrite{x, ExpectedVersion::exact(1), {event()}}, "'x' is at version 2");
    CHECK(store->stream_version(x)->value == 2);
  }
  SECTION("another writer created a stream expected not to exist") {
    REQUIRE(other->append(one_event(n, ExpectedVersion::no_stream())).ok());
    conflicts_alone(StreamWrite{n, ExpectedVersion::no_stream(), {event()}}, "'n' is at version 1");
    CHECK(store->stream_version(n)->value == 1);
  }
  SECTION("an event id already stored") {
    auto results = store->append_batch({request({StreamWrite{x, ExpectedVersion::exact(1), {event(), stored}}}),
                                        request({StreamWrite{y, ExpectedVersion::exact(1), {f}}})});
    REQUIRE(results.size() == 2);
    REQUIRE_FALSE(results[0].ok());
    CHECK(results[0].error().code == ErrorCode::duplicate_event);
    REQUIRE(results[1].ok());
    CHECK(store->stream_version(x)->value == 1);
  }
  auto ys = store->read_stream(y, StreamVersion{1}, 10);
  REQUIRE(ys.ok());
  REQUIRE(ys->size() == 2);
  CHECK((*ys)[1].id == f.id);
}

// Batches whose requests name overlapping streams in opposite orders (batch A:
// s1 then s2, batch B: s2 then s1) from several threads: the lock pass takes
// every stream of a batch in one global order, so no batch deadlocks; every
// acknowledged event is stored once and versions stay contiguous.
TEST_CASE("append_batch: concurrent batches over overlapping streams never deadlock") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batchrace");
  auto config = store_config(schema);
  config.pool_size = 6;
  auto store = open_store(config);
  const std::vector<StreamId> streams = {stream("r-0"), stream("r-1"), stream("r-2"), stream("r-3"),
                                         stream("r-4")};

  constexpr int threads = 6, batches_per_thread = 40;
  std::vector<std::vector<EventId>> acknowledged(threads);
  std::vector<std::string> errors(threads);
  std::atomic<int> conflicts{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::uint64_t seed = 977u * static_cast<std::uint64_t>(t + 1);
      auto next = [&] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull; };
      for (int b = 0; b < batches_per_thread; ++b) {
        std::vector<AppendRequest> batch;
        std::vector<std::vector<EventId>> ids;
        const int requests = 2 + static_cast<int>(next() % 4);
        for (int r = 0; r < requests; ++r) {
          // Reverse order in odd threads; some requests span two streams, some
          // use "any" (always applies), some read-only participants.
          const std::size_t i = (t % 2 == 0 ? static_cast<std::size_t>(r) : streams.size() - 1 - r) % streams.size();
          const std::size_t j = (i + 1 + next() % (streams.size() - 1)) % streams.size();
          AppendRequest req;
          std::vector<EventId> req_ids;
          auto e1 = event();
          req_ids.push_back(e1.id);
          const bool any = next() % 3 == 0;
          const auto version = store->stream_version(streams[i]);
          if (!version) { errors[t] = to_string(version.error()); return; }
          req.streams.push_back(StreamWrite{streams[i], any ? ExpectedVersion::any() : ExpectedVersion::exact(version->value), {e1}});
          if (next() % 2 == 0) {
            const bool read_only = next() % 2 == 0;
            auto e2 = event();
            if (!read_only) req_ids.push_back(e2.id);
            req.streams.push_back(StreamWrite{streams[j], ExpectedVersion::any(),
                                              read_only ? std::vector<EventToWrite>{} : std::vector<EventToWrite>{e2}});
          }
          batch.push_back(std::move(req));
          ids.push_back(std::move(req_ids));
        }
        auto results = store->append_batch(batch);
        if (results.size() != batch.size()) { errors[t] = "wrong result count"; return; }
        for (std::size_t r = 0; r < results.size(); ++r) {
          if (results[r].ok()) {
            acknowledged[t].insert(acknowledged[t].end(), ids[r].begin(), ids[r].end());
          } else if (results[r].error().code == ErrorCode::conflict) {
            ++conflicts;
          } else {
            errors[t] = to_string(results[r].error());
            return;
          }
        }
      }
    });
  for (auto& w : workers) w.join();
  for (const auto& e : errors) {
    INFO(e);
    CHECK(e.empty());
  }

  std::set<EventId> all_acknowledged;
  for (const auto& a : acknowledged) all_acknowledged.insert(a.begin(), a.end());
  std::size_t total = 0;
  for (const auto& id : streams) {
    auto events = store->read_stream(id, StreamVersion{1}, 10'000);
    REQUIRE(events.ok());
    for (std::size_t i = 0; i < events->size(); ++i) REQUIRE((*events)[i].version.value == i + 1);
    CHECK(store->stream_version(id)->value == events->size());
    total += events->size();
  }
  CHECK(total == all_acknowledged.size());
  auto log = read_everything(*store);
  CHECK(log.size() == all_acknowledged.size());
  for (const auto& e : log) CHECK(all_acknowledged.count(e.id) == 1);
  WARN("conflicts (expected under races): " << conflicts.load());
}

// A reader following read_all while batches commit sees every acknowledged
// event exactly once and in increasing (tx_id, position) order.
TEST_CASE("append_batch: positions are gap-free readable through read_all") {
  EVENTCORE_REQUIRE_POSTGRES();
  ScopedSchema schema("batchread");
  auto config = store_config(schema);
  config.pool_size = 5;
  auto store = open_store(config);

  constexpr int writers = 3, batches = 30, per_batch = 8;
  std::atomic<int> done{0};
  std::vector<std::vector<GlobalPosition>> acked(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      std::vector<std::uint64_t> versions(per_batch, 0);
      for (int b = 0; b < batches; ++b) {
        std::vector<AppendRequest> batch;
        for (int r = 0; r < per_batch; ++r)
          batch.push_back(one_event(stream("g" + std::to_string(w) + "-" + std::to_string(r)),
                                    ExpectedVersion::exact(versions[static_cast<std::size_t>(r)])));
        auto results = store->append_batch(batch);
        for (std::size_t r = 0; r < results.size(); ++r)
          if (results[r].ok()) {
            versions[r] = results[r]->streams[0].version.value;
            acked[w].push_back(results[r]->positions[0]);
          }
      }
      ++done;
    });

  // Follow the log while the writers run, then until every acknowledged event
  // is visible (the reader may trail other transactions on the server).
  std::vector<StoredEvent> seen;
  GlobalPosition after{};
  const std::size_t expected = static_cast<std::size_t>(writers * batches * per_batch);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.size() < expected && std::chrono::steady_clock::now() < deadline) {
    auto page = store->read_all(after, 50);
    REQUIRE(page.ok());
    for (auto& e : page->events) {
      if (!seen.empty()) REQUIRE(seen.back().position < e.position);
      seen.push_back(e);
    }
    after = page->next;
    if (page->events.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& t : threads) t.join();
  CHECK(done.load() == writers);
  // Nothing beyond the acknowledged events turns up later.
  CHECK(store->read_all(after, 50)->events.empty());
  std::set<GlobalPosition> acknowledged;
  for (const auto& a : acked) acknowledged.insert(a.begin(), a.end());
  CHECK(acknowledged.size() == static_cast<std::size_t>(writers * batches * per_batch));
  std::set<GlobalPosition> read;
  for (const auto& e : seen) CHECK(read.insert(e.position).second);
  CHECK(read == acknowledged);
}
