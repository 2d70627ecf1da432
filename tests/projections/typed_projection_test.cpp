// Typed projections: written over a domain's event variant, decoded by the
// runtime, with the unknown-type policy the projection chose.

#include <mutex>

#include "eventcore/bank/events.hpp"
#include "projection_test_support.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace eventcore::projections;

namespace {

// Balances by account, from the bank's own events.
class Balances final : public TypedProjection<bank::Event> {
 public:
  using TypedProjection::TypedProjection;
  void apply_event(const bank::Event& event, const StoredEvent& stored) override {
    std::lock_guard lock(mutex_);
    if (const auto* d = std::get_if<bank::MoneyDeposited>(&event)) balances_[d->account] += d->cents;
    if (const auto* w = std::get_if<bank::MoneyWithdrawn>(&event)) balances_[w->account] -= w->cents;
    last_ = stored.position;
    ++applied_;
  }
  std::int64_t balance(const std::string& account) const {
    std::lock_guard lock(mutex_);
    auto it = balances_.find(account);
    return it == balances_.end() ? 0 : it->second;
  }
  std::uint64_t applied() const {
    std::lock_guard lock(mutex_);
    return applied_;
  }
  GlobalPosition last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> balances_;
  std::uint64_t applied_ = 0;
  GlobalPosition last_;
};

StoredEvent stored(const EventToWrite& e, std::uint64_t sequence) {
  return StoredEvent{e.id,   stream("account-a"), StreamVersion{sequence}, GlobalPosition{1, sequence},
                     e.type, e.payload,           e.metadata,             {}};
}
StoredEvent stored(const bank::Event& event, std::uint64_t sequence) {
  return stored(EventCodec<bank::Event>::encode(event), sequence);
}
StoredEvent unknown_type(std::uint64_t sequence) {
  return stored(EventToWrite{EventId::generate(), "AccountRenamed", {1, 2, 3}, {}}, sequence);
}

ProjectionOptions options(const std::string& name) {
  ProjectionOptions o;
  o.name = name;
  o.filter.stream_prefix = "account-";
  o.errors.max_attempts = 2;
  o.errors.initial_backoff = std::chrono::milliseconds(1);
  o.errors.max_backoff = std::chrono::milliseconds(2);
  return o;
}

AppendRequest bank_events(const std::string& account, std::vector<bank::Event> events) {
  AppendRequest request;
  StreamWrite write{stream("account-" + account), ExpectedVersion::any(), {}};
  for (const auto& e : events) write.events.push_back(EventCodec<bank::Event>::encode(e));
  request.streams.push_back(std::move(write));
  return request;
}

}  // namespace

TEST_CASE("a typed projection receives decoded events and their stored metadata") {
  Balances balances;
  Projection& untyped = balances;  // as the runtime calls it
  untyped.apply(stored(bank::MoneyDeposited{"a", 500, ""}, 1));
  untyped.apply(stored(bank::MoneyWithdrawn{"a", 200, "t1"}, 2));
  CHECK(balances.balance("a") == 300);
  CHECK(balances.last() == GlobalPosition{1, 2});
}

TEST_CASE("an event of a type the variant does not know is skipped or poison, as the projection chose") {
  SECTION("skip (the default): ignored, nothing thrown") {
    Balances balances;
    Projection& untyped = balances;
    untyped.apply(unknown_type(1));
    untyped.apply(stored(bank::MoneyDeposited{"a", 5, ""}, 2));
    CHECK(balances.applied() == 1);
    CHECK(balances.balance("a") == 5);
  }
  SECTION("poison: a failed apply that names the type and the event's place") {
    Balances balances(UnknownEvents::poison);
    Projection& untyped = balances;
    CHECK_THROWS_WITH(untyped.apply(unknown_type(1)),
                      Catch::Contains("AccountRenamed") && Catch::Contains("account-a") &&
                          Catch::Contains("position"));
    CHECK(balances.applied() == 0);
  }
}

TEST_CASE("a known event whose payload does not decode is poison under either policy") {
  auto garbage = stored(EventToWrite{EventId::generate(), "MoneyDeposited", {0xff}, {}}, 1);
  for (auto policy : {UnknownEvents::skip, UnknownEvents::poison}) {
    Balances balances(policy);
    Projection& untyped = balances;
    CHECK_THROWS_WITH(untyped.apply(garbage), Catch::Contains("MoneyDeposited"));
  }
}

TEST_CASE("typed projections in the runtime: an unknown type is skipped, or stops the projection at it") {
  EVENTCORE_REQUIRE_POSTGRES();
  Fixture f("proj_typed");
  f.start();
  REQUIRE(f.store->append(bank_events("a", {bank::AccountOpened{"a", "ann"}, bank::MoneyDeposited{"a", 700, ""}})).ok());
  REQUIRE(f.store->append(one_event("account-a", "AccountRenamed")).ok());  // a newer writer's type
  REQUIRE(f.store->append(bank_events("a", {bank::MoneyWithdrawn{"a", 300, "t"}})).ok());
  const auto events = static_cast<std::uint64_t>(f.events_in_log());

  REQUIRE(f.runtime->add(options("typed_skip"), [] { return std::make_unique<Balances>(); }).ok());
  REQUIRE(f.runtime->add(options("typed_poison"), [] { return std::make_unique<Balances>(UnknownEvents::poison); })
              .ok());
  auto skipping = std::dynamic_pointer_cast<Balances>(f.runtime->instance("typed_skip"));
  auto strict = std::dynamic_pointer_cast<Balances>(f.runtime->instance("typed_poison"));
  REQUIRE(wait_until([&] { return f.status("typed_skip").lag_events == 0 && skipping->applied() == events - 1; }, 5s));
  CHECK(skipping->balance("a") == 400);
  REQUIRE(wait_until([&] { return f.status("typed_poison").state == ProjectionState::stopped_with_error; }, 5s));
  CHECK(strict->applied() == 2);  // stopped at the unknown event, nothing after it
  CHECK_THAT(f.status("typed_poison").error, Catch::Contains("AccountRenamed"));
}
