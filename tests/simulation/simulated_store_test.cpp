// The simulated store's faults (its fault-free semantics are the contract
// suite's: tests/store/store_contract_test.cpp).

#include <catch2/catch.hpp>

#include "eventcore/simulation/random.hpp"
#include "eventcore/store/simulated_store.hpp"

using namespace eventcore;

namespace {
EventToWrite event(std::uint64_t n) {
  return EventToWrite{EventId::from_parts(1, 0, n + 1), "E", {1, 2, 3}, {}};
}
StreamId id(const char* s) { return StreamId::try_new(s).value(); }
}  // namespace

TEST_CASE("an ambiguous append commits and reports unavailable", "[simulation]") {
  SimulatedStoreOptions options;
  options.faults.ambiguous = 1.0;
  options.random = simulation::SimRandom(1).source();
  SimulatedStore store(options);
  auto result = store.append({{StreamWrite{id("s"), ExpectedVersion::no_stream(), {event(1)}}}});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::unavailable);
  CHECK(store.stream_version(id("s"))->value == 1);
  // The retry with the same ids is recognised.
  store.set_faults_enabled(false);
  auto retry = store.append({{StreamWrite{id("s"), ExpectedVersion::no_stream(), {event(1)}}}});
  REQUIRE_FALSE(retry.ok());
  CHECK(retry.error().code == ErrorCode::conflict);
}

TEST_CASE("a transient append writes nothing", "[simulation]") {
  SimulatedStoreOptions options;
  options.faults.transient_append = 1.0;
  options.random = simulation::SimRandom(1).source();
  SimulatedStore store(options);
  auto result = store.append({{StreamWrite{id("s"), ExpectedVersion::any(), {event(1)}}}});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().transient());
  CHECK(store.log().empty());
}

TEST_CASE("a foreign write makes the append conflict, and the conflict is explained", "[simulation]") {
  SimulatedStoreOptions options;
  options.faults.foreign = 1.0;
  options.random = simulation::SimRandom(3).source();
  options.foreign_writer = [](const StreamId&, const std::vector<StoredEvent>&) {
    return std::optional<EventToWrite>(event(100));
  };
  SimulatedStore store(options);
  auto result = store.append({{StreamWrite{id("s"), ExpectedVersion::exact(0), {event(1)}}}});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::conflict);
  CHECK(store.stats().conflicts == 1);
  CHECK(store.stats().unexplained_conflicts == 0);
  REQUIRE(store.log().size() == 1);
  CHECK(store.is_foreign(store.log()[0].id));
}

TEST_CASE("a conflict between our own writers is flagged as unexplained", "[simulation]") {
  SimulatedStore store;
  REQUIRE(store.append({{StreamWrite{id("s"), ExpectedVersion::exact(0), {event(1)}}}}).ok());
  REQUIRE_FALSE(store.append({{StreamWrite{id("s"), ExpectedVersion::exact(0), {event(2)}}}}).ok());
  CHECK(store.stats().unexplained_conflicts == 1);
  CHECK(store.first_unexplained_conflict().find("stream 's'") != std::string::npos);
}

TEST_CASE("EventId::generate follows an installed generator on this thread", "[simulation]") {
  const auto fixed = EventId::from_parts(42, 1, 7);
  {
    EventId::ScopedGenerator guard([&] { return fixed; });
    CHECK(EventId::generate() == fixed);
  }
  CHECK(EventId::generate() != fixed);
}
