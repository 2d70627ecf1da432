// The example domains through the runtime, on the deterministic scheduler.

#include <random>

#include "eventcore/bank/commands.hpp"
#include "eventcore/orders/orders.hpp"
#include "support/simulation.hpp"

using namespace eventcore;
using namespace eventcore::testing;
using namespace std::chrono_literals;

namespace {
bank::AccountId account_id(int i) { return bank::AccountId::try_new("a" + std::to_string(i)).value(); }
bank::Money cents(std::int64_t n) { return bank::Money::try_new(n).value(); }

std::int64_t balance(ScriptedStore& store, const bank::AccountId& id) {
  auto events = store.inner.read_stream(id.stream(), StreamVersion{1}, 100000);
  REQUIRE(events.ok());
  std::int64_t sum = 0;
  std::uint64_t expected_version = 1;
  for (const auto& e : *events) {
    CHECK(e.version.value == expected_version++);  // contiguous
    auto ev = EventCodec<bank::Event>::decode(e);
    REQUIRE(ev.ok());
    if (auto* d = std::get_if<bank::MoneyDeposited>(&*ev)) sum += d->cents;
    if (auto* w = std::get_if<bank::MoneyWithdrawn>(&*ev)) sum -= w->cents;
  }
  return sum;
}
}  // namespace

TEST_CASE("concurrent transfers among 20 accounts, with a foreign writer, conserve money") {
  Simulation sim(simulation_config(), RetryPolicy::fixed(0ms, 10));
  constexpr int accounts = 20;
  for (int i = 0; i < accounts; ++i) {
    REQUIRE(sim.run(bank::OpenAccount{account_id(i), "owner"}).ok());
    REQUIRE(sim.run(bank::Deposit{account_id(i), cents(1000)}).ok());
  }
  // Another process deposits into a random account before some appends.
  std::mt19937_64 rng(1234);
  std::int64_t foreign_total = 0;
  sim.store->before_append = [&](const AppendRequest&) {
    if (rng() % 4 == 0) {
      int i = static_cast<int>(rng() % accounts);
      sim.store->foreign_append(account_id(i).stream(), EventCodec<bank::Event>::encode(bank::MoneyDeposited{account_id(i).str(), 1, "foreign"}));
      foreign_total += 1;
    }
  };
  std::vector<Simulation::Slot> slots;
  for (int n = 0; n < 300; ++n) {
    int from = static_cast<int>(rng() % accounts), to = static_cast<int>(rng() % accounts);
    if (from == to) to = (to + 1) % accounts;
    slots.push_back(sim.start(bank::TransferMoney{account_id(from), account_id(to), cents(static_cast<std::int64_t>(rng() % 700)), "t" + std::to_string(n)}));
  }
  sim.sched->run();
  std::size_t ok = 0, rejected = 0;
  for (auto& slot : slots) {
    REQUIRE(slot->has_value());
    if ((*slot)->ok())
      ++ok;
    else {
      CHECK((*slot)->error().code == CommandErrorCode::validation_failed);
      ++rejected;
    }
  }
  CHECK(ok > 0);
  std::int64_t total = 0;
  for (int i = 0; i < accounts; ++i) {
    auto b = balance(*sim.store, account_id(i));
    CHECK(b >= 0);
    total += b;
  }
  CHECK(total == accounts * 1000 + foreign_total);
}

TEST_CASE("ApproveOrder reserves stock across order, approver and discovered inventory streams atomically") {
  using namespace eventcore::orders;
  Simulation sim;
  REQUIRE(sim.run(RegisterApprover{"ann", 10'000}).ok());
  REQUIRE(sim.run(AddStock{"apple", 3}).ok());
  REQUIRE(sim.run(PlaceOrder{"o1", {{"apple", 2, 100}, {"pear", 1, 100}}}).ok());

  auto no_pears = sim.run(ApproveOrder{"o1", "ann"});
  REQUIRE_FALSE(no_pears.ok());
  CHECK(no_pears.error().code == CommandErrorCode::validation_failed);
  CHECK(no_pears.error().streams.size() == 4);  // order, approver, and both discovered inventories

  REQUIRE(sim.run(AddStock{"pear", 1}).ok());
  auto approved = sim.run(ApproveOrder{"o1", "ann"});
  REQUIRE(approved.ok());
  CHECK(approved->events_written == 3);
  const auto& append = sim.store->appends.back();
  CHECK(append.streams.size() == 4);  // approver read-only, version-checked too
  CHECK(sim.run(ApproveOrder{"o1", "ann"}).error().message == "order o1 is already approved");
  REQUIRE(sim.run(PlaceOrder{"o2", {{"apple", 2, 100}}}).ok());
  auto out_of_apples = sim.run(ApproveOrder{"o2", "ann"});
  REQUIRE_FALSE(out_of_apples.ok());
  CHECK_THAT(out_of_apples.error().message, Catch::Contains("not enough apple"));
}
