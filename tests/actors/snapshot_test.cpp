// Snapshots on the write side: a stream actor saves its states' snapshots as
// they grow and a restarted runtime loads a stream from the newest one plus
// the events after it.

#include <catch2/catch.hpp>

#include "support/simulation.hpp"

using namespace eventcore;
using namespace eventcore::testing;

namespace {

std::size_t applied = 0;  // events folded by Balance, across commands

// A stream's running total, snapshotted.
struct Balance {
  static constexpr std::string_view snapshot_type = "test.Balance";
  static constexpr std::uint32_t snapshot_schema = 1;
  std::int64_t total = 0;
  void apply(const TestEvent& event) {
    ++applied;
    if (auto* a = std::get_if<Added>(&event)) total += a->amount;
  }
  template <class Archive> void serialize(Archive& ar) { ar(total); }
};

// The same state after a change of its fields: a new schema.
struct BalanceV2 : Balance {
  static constexpr std::uint32_t snapshot_schema = 2;
};

// Adds `amount`; rejected if the total it reads differs from `expect`.
template <class S>
struct Add {
  using Event = TestEvent;
  using State = PerStream<S>;
  static constexpr std::string_view command_type = "Add";
  StreamId stream;
  std::int64_t amount = 1;
  std::int64_t expect = -1;  // -1: anything
  std::vector<StreamId> streams() const { return {stream}; }
  Decision<Event> handle(const State& state) const {
    if (expect >= 0 && state[stream].total != expect)
      return reject("read a total of " + std::to_string(state[stream].total) + ", expected " + std::to_string(expect));
    return {{stream, Added{amount}}};
  }
};

RuntimeConfig every(std::uint64_t n) {
  auto config = simulation_config();
  config.snapshot_every = n;
  return config;
}

std::optional<Snapshot> stored_snapshot(Simulation& sim, const StreamId& stream, std::uint32_t schema = 1) {
  auto loaded = sim.store->inner.load_snapshot(stream, "test.Balance", schema);
  REQUIRE(loaded.ok());
  return *loaded;
}

}  // namespace

TEST_CASE("a stream actor saves a snapshot every snapshot_every events, after answering") {
  Simulation sim(every(5));
  const auto s = sid("snap");
  for (int i = 0; i < 4; ++i) REQUIRE(sim.run(Add<Balance>{s}).ok());
  CHECK_FALSE(stored_snapshot(sim, s).has_value());
  REQUIRE(sim.run(Add<Balance>{s}).ok());
  auto first = stored_snapshot(sim, s);
  REQUIRE(first.has_value());
  CHECK(first->version.value == 5);
  for (int i = 0; i < 7; ++i) REQUIRE(sim.run(Add<Balance>{s}).ok());
  auto second = stored_snapshot(sim, s);
  REQUIRE(second.has_value());
  CHECK(second->version.value == 10);  // 12 events: the next one is due at 15
  CHECK(sim.store->snapshot_saves == 2);
}

TEST_CASE("a restarted runtime loads a stream from its newest snapshot and the events after it") {
  Simulation sim(every(5));
  const auto s = sid("snap");
  for (int i = 0; i < 12; ++i) REQUIRE(sim.run(Add<Balance>{s, 2}).ok());  // total 24, snapshot at 10
  sim.restart();
  applied = 0;
  sim.store->read_from.clear();
  auto next = sim.run(Add<Balance>{s, 1, 24});  // the total it reads is right...
  INFO((next.ok() ? std::string("ok") : to_string(next.error())));
  REQUIRE(next.ok());
  CHECK(next->stream_versions.at(0).version.value == 13);
  CHECK(applied == 2 + 1);  // ...folded from the snapshot: events 11 and 12, then its own at commit
  REQUIRE_FALSE(sim.store->read_from.empty());
  CHECK(sim.store->read_from.front() == 11);  // the events the snapshot covers are not read
  CHECK(sim.run(Add<Balance>{s, 1, 25}).ok());
}

TEST_CASE("a state with a new schema ignores older snapshots and folds the stream from its start") {
  Simulation sim(every(5));
  const auto s = sid("snap");
  for (int i = 0; i < 7; ++i) REQUIRE(sim.run(Add<Balance>{s, 3}).ok());  // snapshot (schema 1) at 5
  sim.restart();
  applied = 0;
  REQUIRE(sim.run(Add<BalanceV2>{s, 1, 21}).ok());
  CHECK(applied == 7 + 1);
  CHECK(stored_snapshot(sim, s, 1)->version.value == 5);  // the old schema's is left alone
}

TEST_CASE("an unreadable snapshot is ignored: the stream is folded from the log") {
  Simulation sim(every(0));  // the runtime saves none; the test plants one
  const auto s = sid("snap");
  for (int i = 0; i < 4; ++i) REQUIRE(sim.run(Add<Balance>{s, 5}).ok());
  REQUIRE(sim.store->inner.save_snapshot(Snapshot{s, "test.Balance", 1, StreamVersion{3}, Payload{0x01}}).ok());
  sim.restart();
  applied = 0;
  REQUIRE(sim.run(Add<Balance>{s, 1, 20}).ok());
  CHECK(applied == 4 + 1);
  CHECK(sim.store->snapshot_saves == 0);  // snapshot_every = 0 saves nothing
}
