// The command runtime on the deterministic scheduler: what a command sees,
// what is written, what is retried.

#include "support/simulation.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace std::chrono_literals;

TEST_CASE("commands on one stream are serialized: all succeed first time, versions 1..n") {
  Simulation sim;
  std::vector<Simulation::Slot> slots;
  for (int i = 0; i < 5; ++i) slots.push_back(sim.start(AddTo{{sid("counter")}, 1}));
  sim.sched->run();
  std::vector<std::uint64_t> versions;
  for (auto& slot : slots) {
    REQUIRE(slot->has_value());
    REQUIRE((*slot)->ok());
    CHECK((**slot)->attempts == 1);
    versions.push_back((**slot)->stream_versions.at(0).version.value);
  }
  CHECK(versions == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(sim.total(sid("counter")) == 5);
  CHECK(sim.store->reads == 1);  // loaded once, then served from the stream actor's cache
}

TEST_CASE("overlapping stream sets taken in opposite orders never deadlock") {
  Simulation sim;
  const std::vector<std::vector<StreamId>> sets{{sid("a"), sid("b")},           {sid("b"), sid("a")},
                                                {sid("c"), sid("b"), sid("a")}, {sid("a"), sid("c")},
                                                {sid("c"), sid("a"), sid("b")}, {sid("b"), sid("c")}};
  std::vector<Simulation::Slot> slots;
  for (int round = 0; round < 5; ++round)
    for (const auto& set : sets) slots.push_back(sim.start(AddTo{set, 1}));
  sim.sched->run();
  for (auto& slot : slots) {
    REQUIRE(slot->has_value());
    REQUIRE((*slot)->ok());
    CHECK((**slot)->attempts == 1);
  }
  CHECK(sim.total(sid("a")) == 5 * 5);
  CHECK(sim.total(sid("b")) == 5 * 5);
  CHECK(sim.total(sid("c")) == 5 * 4);
}

TEST_CASE("a foreign write between prepare and commit causes a conflict, a reload and a successful retry") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("acct")}, 10}).ok());
  const auto reads_before = sim.store->reads;
  bool injected = false;
  sim.store->before_append = [&](const AppendRequest&) {
    if (injected) return;
    injected = true;
    sim.store->foreign_append(sid("acct"), added(-7));  // another process spends 7
  };
  auto result = sim.run(AddTo{{sid("acct")}, -3});
  REQUIRE(result.ok());
  CHECK(result->attempts == 2);
  CHECK(result->stream_versions.at(0).version.value == 3);
  CHECK(sim.store->reads == reads_before + 1);  // the stale cache was dropped and reloaded (one page: its end)
  CHECK(sim.total(sid("acct")) == 0);

  // The retry decided on the reloaded state: now a withdrawal must be rejected.
  auto rejected = sim.run(AddTo{{sid("acct")}, -1});
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().code == CommandErrorCode::validation_failed);
}

TEST_CASE("validation errors are not retried, carry the domain message and write nothing") {
  Simulation sim;
  auto result = sim.run(AddTo{{sid("x"), sid("y")}, -5});
  REQUIRE_FALSE(result.ok());
  const auto& error = result.error();
  CHECK(error.code == CommandErrorCode::validation_failed);
  CHECK(error.attempts == 1);
  CHECK(error.command == "AddTo");
  CHECK(error.message == "total of 'x' would drop to -5");
  CHECK(error.streams == std::vector<StreamId>{sid("x"), sid("y")});
  // One versions-only append (no events) confirmed the state it was decided on.
  REQUIRE(sim.store->appends.size() == 1);
  for (const auto& write : sim.store->appends[0].streams) CHECK(write.events.empty());
  CHECK(sim.store->read_all(GlobalPosition{}, 10, {}).value().events.empty());
  CHECK_THAT(to_string(error), Catch::Contains("validation_failed: AddTo on [x, y]"));
}

TEST_CASE("a rejection decided on a stale cache is decided again on the store's state, on every path") {
  // Another process deposits after this one cached the streams: a withdrawal
  // the cache would refuse goes through, on one stream or two (a stream
  // actor's fast path) and with an idempotency key (a coordinator) alike.
  for (const auto& [targets, keyed] : every_path()) {
    Simulation sim;
    std::size_t keys = 0;
    auto options = [&] { return path_options(keyed, keys); };
    REQUIRE(sim.run(AddTo{targets, 1}, options()).ok());  // cached at total 1
    for (const auto& t : targets) sim.store->foreign_append(t, added(9));
    auto result = sim.run(AddTo{targets, -5}, options());
    INFO("streams: " << targets.size() << (keyed ? ", keyed" : ""));
    REQUIRE(result.ok());
    CHECK(result->attempts == 2);  // the rejection's check conflicted; the retry saw 10
    for (const auto& t : targets) CHECK(sim.total(t) == 5);
    // And a rejection on a current cache stands, confirmed.
    auto refused = sim.run(AddTo{targets, -6}, options());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == CommandErrorCode::validation_failed);
    CHECK(refused.error().attempts == 1);
  }
}

TEST_CASE("max attempts is respected and reported") {
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 3));
  sim.store->before_append = [&](const AppendRequest&) { sim.store->foreign_append(sid("hot"), added(1)); };
  auto result = sim.run(AddTo{{sid("hot")}, 1});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == CommandErrorCode::concurrency_conflict);
  CHECK(result.error().attempts == 3);
  REQUIRE(result.error().cause);
  CHECK(result.error().cause->code == ErrorCode::conflict);
  CHECK(sim.store->appends.size() == 3);
}

TEST_CASE("backoff delays run on the scheduler's clock") {
  Simulation sim(simulation_config(), RetryPolicy::exponential(100ms, 2.0, 1s, 3, 0.0));
  int foreign = 2;
  sim.store->before_append = [&](const AppendRequest&) {
    if (foreign-- > 0) sim.store->foreign_append(sid("slow"), added(1));
  };
  auto slot = sim.start(AddTo{{sid("slow")}, 1});
  sim.sched->run();
  CHECK_FALSE(slot->has_value());  // waiting 100 ms
  sim.sched->advance_time(100ms);
  sim.sched->run();
  CHECK_FALSE(slot->has_value());  // waiting 200 ms
  sim.sched->advance_time(200ms);
  sim.sched->run();
  REQUIRE(slot->has_value());
  REQUIRE((*slot)->ok());
  CHECK((**slot)->attempts == 3);
}

TEST_CASE("transient store failures are retried only when the policy says so") {
  SECTION("default: conflicts only") {
    Simulation sim;
    sim.store->fail_next.push_back(Error{ErrorCode::unavailable, "database down"});
    auto result = sim.run(AddTo{{sid("t")}, 1});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == CommandErrorCode::store_unavailable);
    CHECK(result.error().attempts == 1);
    CHECK_THAT(result.error().cause->message, Catch::Contains("database down"));
  }
  SECTION("retry_transient") {
    Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 3).retry_transient());
    sim.store->fail_next.push_back(Error{ErrorCode::unavailable, "database down"});
    auto result = sim.run(AddTo{{sid("t")}, 1});
    REQUIRE(result.ok());
    CHECK(result->attempts == 2);
  }
}

TEST_CASE("an event for an undeclared stream is rejected with nothing written") {
  Simulation sim;
  auto result = sim.run(EmitElsewhere{sid("mine"), sid("theirs")});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == CommandErrorCode::undeclared_stream);
  CHECK(result.error().attempts == 1);
  CHECK(result.error().streams == std::vector<StreamId>{sid("theirs")});
  CHECK(sim.store->appends.empty());
  CHECK(sim.store->inner.stream_version(sid("mine")).value().value == 0);
}

TEST_CASE("dynamic discovery adds the discovered streams to the version check") {
  Simulation sim;
  sim.store->foreign_append(sid("src"), pointed("dst"));
  sim.store->foreign_append(sid("dst"), added(5));
  bool injected = false;
  sim.store->before_append = [&](const AppendRequest&) {
    if (!injected) sim.store->foreign_append(sid("dst"), added(2));  // dst moves under the command
    injected = true;
  };
  auto result = sim.run(CopyFromPointer{sid("src")});
  REQUIRE(result.ok());
  CHECK(result->attempts == 2);  // the version check on dst caught the foreign write
  REQUIRE(sim.store->appends.size() == 2);
  const auto& last = sim.store->appends.back();
  REQUIRE(last.streams.size() == 2);
  CHECK(last.streams[0].stream == sid("dst"));
  CHECK(last.streams[0].expected == ExpectedVersion::exact(2));
  CHECK(last.streams[0].events.empty());
  CHECK(last.streams[1].stream == sid("src"));
  CHECK(sim.total(sid("src")) == 7);
}

TEST_CASE("dynamic discovery is bounded") {
  RuntimeConfig config = simulation_config();
  config.max_discovery_rounds = 3;
  Simulation sim(config);
  for (int i = 0; i < 10; ++i) sim.store->foreign_append(sid("more-" + std::to_string(i)), added(1));
  auto result = sim.run(AlwaysMore{});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == CommandErrorCode::stream_discovery_limit);
  CHECK(result.error().streams.size() == 4);
  CHECK(sim.store->appends.empty());
}

TEST_CASE("group commit: ready stream-disjoint commands share one store round trip, each all-or-nothing") {
  Simulation sim;
  bool injected = false;
  sim.store->before_append = [&](const AppendRequest& request) {
    if (!injected && request.streams[0].stream == sid("g2")) {
      injected = true;
      sim.store->foreign_append(sid("g2"), added(100));
    }
  };
  auto s1 = sim.start(AddTo{{sid("g1")}, 1});
  auto s2 = sim.start(AddTo{{sid("g2")}, 1});
  auto s3 = sim.start(AddTo{{sid("g3")}, 1});
  sim.sched->run();
  REQUIRE((s1->has_value() && s2->has_value() && s3->has_value()));
  REQUIRE(sim.store->batch_sizes.size() >= 1);
  CHECK(sim.store->batch_sizes.front() == 3);
  CHECK(((*s1)->ok() && (**s1)->attempts == 1));
  CHECK(((*s3)->ok() && (**s3)->attempts == 1));
  REQUIRE((*s2)->ok());
  CHECK((**s2)->attempts == 2);  // only the conflicting one retried
  CHECK(sim.total(sid("g2")) == 101);
}

TEST_CASE("an idempotency key makes a repeated command return the first result and write nothing") {
  Simulation sim;
  ExecuteOptions options;
  options.idempotency_key = "deposit-42";
  auto first = sim.run(AddTo{{sid("acct")}, 5}, options);
  REQUIRE(first.ok());
  CHECK_FALSE(first->replayed);
  const auto appends = sim.store->appends.size();
  auto second = sim.run(AddTo{{sid("acct")}, 5}, options);
  REQUIRE(second.ok());
  CHECK(second->replayed);
  CHECK(second->events_written == first->events_written);
  CHECK(second->stream_versions.at(0).version == first->stream_versions.at(0).version);
  CHECK(second->positions == first->positions);
  CHECK(sim.store->appends.size() == appends);
  CHECK(sim.total(sid("acct")) == 5);
}

TEST_CASE("an idempotency key reused with another command is an error, never the first command's result") {
  Simulation sim;
  ExecuteOptions options;
  options.idempotency_key = "k-1";
  options.fingerprint = "body-hash-1";
  REQUIRE(sim.run(AddTo{{sid("acct")}, 5}, options).ok());
  // The same command again: the recorded result.
  auto again = sim.run(AddTo{{sid("acct")}, 5}, options);
  REQUIRE(again.ok());
  CHECK(again->replayed);
  const auto appends = sim.store->appends.size();
  auto expect_reuse_error = [&](ExecuteResult result) {
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == CommandErrorCode::invalid_command);
    CHECK_THAT(result.error().message, Catch::Contains("'k-1' was first used with another command"));
  };
  expect_reuse_error(sim.run(AddTo{{sid("other")}, 5}, options));  // other streams
  expect_reuse_error(sim.run(EmitElsewhere{sid("acct"), sid("x")}, options));  // another command type
  auto other_body = options;
  other_body.fingerprint = "body-hash-2";
  expect_reuse_error(sim.run(AddTo{{sid("acct")}, 5}, other_body));  // another request body
  CHECK(sim.store->appends.size() == appends);  // nothing written
  CHECK(sim.total(sid("acct")) == 5);
}

TEST_CASE("idempotency records stay out of the log: read_all returns only the command's events") {
  Simulation sim;
  ExecuteOptions options;
  options.idempotency_key = "k-log";
  auto first = sim.run(AddTo{{sid("acct"), sid("x")}, 3}, options);
  REQUIRE(first.ok());
  auto log = sim.store->inner.read_all({}, 100);
  REQUIRE(log.ok());
  REQUIRE(log->events.size() == first->events_written);
  for (const auto& e : log->events) CHECK((e.stream == sid("acct") || e.stream == sid("x")));
  auto record = sim.store->inner.load_command_record("k-log");
  REQUIRE(record.ok());
  CHECK(record->has_value());
}

TEST_CASE("two executions with one key at once: one writes, the other answers with what it wrote") {
  Simulation sim;
  ExecuteOptions options;
  options.idempotency_key = "k-twice";
  auto a = sim.start(AddTo{{sid("acct"), sid("other")}, 5}, options);
  auto b = sim.start(AddTo{{sid("acct"), sid("other")}, 5}, options);
  sim.sched->run();
  REQUIRE(a->has_value());
  REQUIRE(b->has_value());
  REQUIRE((*a)->ok());
  REQUIRE((*b)->ok());
  CHECK((**a)->replayed != (**b)->replayed);
  CHECK((**a)->positions == (**b)->positions);
  CHECK(sim.total(sid("acct")) == 5);
  CHECK(sim.total(sid("other")) == 5);
}

TEST_CASE("an idempotency record is kept for the retention period, then swept, and the key runs again") {
  auto config = simulation_config();
  config.idempotency_retention = std::chrono::seconds(10);  // swept every second
  Simulation sim(config);
  ExecuteOptions options;
  options.idempotency_key = "k-expiring";
  REQUIRE(sim.run(AddTo{{sid("acct")}, 5}, options).ok());
  // Nine seconds later (on the store's clock, and a sweep later on the runtime's): still kept.
  sim.store->clock_ahead = std::chrono::seconds(9);
  sim.sched->advance_time(std::chrono::seconds(1));
  sim.sched->run();
  auto again = sim.run(AddTo{{sid("acct")}, 5}, options);
  REQUIRE(again.ok());
  CHECK(again->replayed);
  // Past the retention, the next sweep removes the record: the key is new again.
  sim.store->clock_ahead = std::chrono::seconds(11);
  sim.sched->advance_time(std::chrono::seconds(1));
  sim.sched->run();
  CHECK_FALSE(sim.store->inner.load_command_record("k-expiring")->has_value());
  auto third = sim.run(AddTo{{sid("acct")}, 5}, options);
  REQUIRE(third.ok());
  CHECK_FALSE(third->replayed);
  CHECK(sim.total(sid("acct")) == 10);
}

TEST_CASE("an empty or over-long idempotency key is an invalid command, and nothing is written") {
  Simulation sim;
  for (std::string key : {std::string(), std::string(201, 'k')}) {
    ExecuteOptions options;
    options.idempotency_key = key;
    auto result = sim.run(AddTo{{sid("acct")}, 5}, options);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == CommandErrorCode::invalid_command);
    CHECK_THAT(result.error().message, Catch::Contains("idempotency key"));
  }
  CHECK(sim.store->appends.empty());
}

TEST_CASE("an idempotency key survives an ambiguous outcome (connection lost after commit)") {
  SECTION("retried by the executor") {
    Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 3).retry_transient());
    sim.store->commit_then_fail = 1;
    ExecuteOptions options;
    options.idempotency_key = "k";
    auto result = sim.run(AddTo{{sid("acct")}, 5}, options);
    REQUIRE(result.ok());
    // Before retrying, the executor finds the first attempt's events: that
    // attempt committed, and it is the answer (not a replay of another execution).
    CHECK(result->attempts == 1);
    CHECK_FALSE(result->replayed);
    CHECK(result->positions.size() == 1);
    CHECK(sim.total(sid("acct")) == 5);  // written exactly once
    CHECK(sim.store->appends.size() == 1);
  }
  SECTION("re-executed by the caller") {
    Simulation sim;
    sim.store->commit_then_fail = 1;
    ExecuteOptions options;
    options.idempotency_key = "k";
    auto first = sim.run(AddTo{{sid("acct")}, 5}, options);
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().code == CommandErrorCode::store_unavailable);
    auto second = sim.run(AddTo{{sid("acct")}, 5}, options);
    REQUIRE(second.ok());
    CHECK(second->replayed);
    CHECK(sim.total(sid("acct")) == 5);
  }
}

TEST_CASE("a command without a key, retried after an ambiguous outcome, is written once and answered with what it wrote") {
  // The append commits but the answer is lost (unavailable): the retry must
  // find the first attempt's events instead of deciding and writing again.
  auto streams = GENERATE(std::vector<std::string>{"acct"}, std::vector<std::string>{"x", "y"});
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 3).retry_transient());
  std::vector<StreamId> ids;
  for (const auto& s : streams) ids.push_back(sid(s));
  sim.store->commit_then_fail = 1;
  auto result = sim.run(AddTo{ids, 5});
  INFO((result.ok() ? std::string("ok") : to_string(result.error())));
  REQUIRE(result.ok());
  CHECK(result->attempts == 1);  // the one attempt committed; the lookup found it
  CHECK_FALSE(result->replayed);
  CHECK(result->events_written == ids.size());
  REQUIRE(result->positions.size() == ids.size());
  for (const auto& id : ids) {
    CHECK(sim.total(id) == 5);  // written exactly once
    auto stored = sim.store->inner.read_stream(id, StreamVersion{1}, 10);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 1);
    CHECK(std::find(result->positions.begin(), result->positions.end(), (*stored)[0].position) !=
          result->positions.end());
  }
  CHECK(result->stream_versions.at(0).version.value == 1);
  CHECK(sim.store->appends.size() == 1);  // the retry wrote nothing

  // The stream actors reload: the next command sees the committed event.
  auto next = sim.run(AddTo{ids, -5});
  REQUIRE(next.ok());
  for (const auto& id : ids) CHECK(sim.total(id) == 0);
}

TEST_CASE("a command whose ambiguous append did not commit is retried and written once") {
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 3).retry_transient());
  sim.store->fail_next.push_back(Error{ErrorCode::unavailable, "connection lost before commit"});
  auto result = sim.run(AddTo{{sid("x"), sid("y")}, 5});
  REQUIRE(result.ok());
  CHECK(result->attempts == 2);
  CHECK(sim.total(sid("x")) == 5);
  CHECK(sim.total(sid("y")) == 5);
}

TEST_CASE("a command that declares no stream, or a stream twice, fails before anything is read") {
  Simulation sim;
  auto none = sim.run(AddTo{{}, 1});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == CommandErrorCode::invalid_command);
  CHECK_THAT(none.error().message, Catch::Contains("declares no stream"));
  auto twice = sim.run(AddTo{{sid("t"), sid("u"), sid("t")}, 1});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == CommandErrorCode::invalid_command);
  CHECK_THAT(twice.error().message, Catch::Contains("'t' more than once"));
  // Many streams (checked another way) are held to the same rule.
  std::vector<StreamId> many;
  for (int i = 0; i < 12; ++i) many.push_back(sid("m" + std::to_string(i)));
  many.push_back(sid("m7"));
  auto many_twice = sim.run(AddTo{many, 1});
  REQUIRE_FALSE(many_twice.ok());
  CHECK(many_twice.error().code == CommandErrorCode::invalid_command);
  CHECK_THAT(many_twice.error().message, Catch::Contains("'m7' more than once"));
  CHECK(sim.store->reads == 0);
  CHECK(sim.store->appends.empty());
}

TEST_CASE("a command that decides to write nothing succeeds and writes nothing") {
  Simulation sim;
  auto result = sim.run(AddTo{{sid("n")}, 0, /*emit=*/false});
  REQUIRE(result.ok());
  CHECK(result->events_written == 0);
  CHECK(result->stream_versions.at(0).version.value == 0);
  // Its decision's version confirmed by an append with no events.
  REQUIRE(sim.store->appends.size() == 1);
  CHECK(sim.store->appends[0].streams.at(0).events.empty());
  CHECK(sim.store->read_all(GlobalPosition{}, 10, {}).value().events.empty());
}

namespace {
// Adds to its targets; its handle takes `handle_takes` on a test clock.
struct AddTaking {
  using Event = TestEvent;
  using State = Totals;
  static constexpr std::string_view command_type = "AddTaking";
  std::vector<StreamId> targets;
  std::shared_ptr<std::chrono::steady_clock::time_point> clock;
  std::chrono::nanoseconds handle_takes;
  std::int64_t amount = 1;  // below a total's negation: rejected

  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State& state) const {
    *clock += handle_takes;
    return AddTo{targets, amount}.handle(state);
  }
};
}  // namespace

TEST_CASE("phase timings count each phase where it happens and add up to the total, on every path") {
  Simulation sim;
  auto clock = std::make_shared<std::chrono::steady_clock::time_point>();
  sim.clock = [clock] { return *clock; };
  sim.restart();
  sim.store->before_append = [&](const AppendRequest&) { *clock += 3ms; };  // the store takes 3 ms
  std::size_t keys = 0;
  int path = 0;
  for (auto [streams, keyed] : every_path()) {
    for (auto& s : streams) s = sid("t" + std::to_string(path) + s.str());  // streams of its own
    ++path;
    INFO(streams.size() << " stream(s)" << (keyed ? ", keyed" : ""));
    for (int round = 0; round < 2; ++round) {  // a cold stream, then a cached one
      auto result = sim.run(AddTaking{streams, clock, 5ms}, path_options(keyed, keys));
      REQUIRE(result.ok());
      const auto& t = result->timings;
      CHECK(t.prepare == 0ms);
      CHECK(t.reconstruct == 0ms);
      CHECK(t.handle == 5ms);
      CHECK(t.write == 3ms);
      CHECK(t.total == 8ms);
    }
  }
}

TEST_CASE("a failed command's total time is counted too, on every path") {
  Simulation sim;
  auto clock = std::make_shared<std::chrono::steady_clock::time_point>();
  sim.clock = [clock] { return *clock; };
  sim.restart();
  sim.store->before_append = [&](const AppendRequest&) { *clock += 3ms; };
  std::size_t keys = 0;
  int path = 0;
  for (auto [streams, keyed] : every_path()) {
    for (auto& s : streams) s = sid("r" + std::to_string(path) + s.str());
    ++path;
    INFO(streams.size() << " stream(s)" << (keyed ? ", keyed" : ""));
    auto result = sim.run(AddTaking{streams, clock, 6ms, -1}, path_options(keyed, keys));  // rejected: below 0
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == CommandErrorCode::validation_failed);
  }
  // All took 6 to 9 ms (handle, and perhaps the version-checking append): none counted as 0.
  const std::string text = sim.executor->metrics()->render_prometheus();
  CHECK(text.find("eventcore_command_duration_seconds_bucket{le=\"0.005\"} 0\n") != std::string::npos);
  CHECK(text.find("eventcore_command_duration_seconds_bucket{le=\"0.01\"} 3\n") != std::string::npos);
}
