// The example domains on their own: handle on a State, no actors.

#include <map>

#include <catch2/catch.hpp>

#include "eventcore/bank/commands.hpp"
#include "eventcore/orders/orders.hpp"

using namespace eventcore;
using namespace eventcore::bank;

namespace {
AccountId account_id(std::string_view id) { return AccountId::try_new(id).value(); }
Money cents(std::int64_t n) { return Money::try_new(n).value(); }

// What the runtime hands handle: the state of every declared stream (a
// default one for a stream with no events).
template <class S>
PerStream<S> read(std::map<StreamId, S>& streams, const std::vector<StreamId>& declared) {
  std::vector<typename PerStream<S>::Entry> entries;
  for (const auto& id : declared) entries.push_back({id, StreamVersion{0}, &streams[id]});
  return PerStream<S>(std::move(entries));
}

std::map<StreamId, Account> with_accounts(std::initializer_list<std::pair<std::string, std::int64_t>> balances) {
  std::map<StreamId, Account> state;
  for (const auto& [id, balance] : balances) {
    auto& account = state[account_id(id).stream()];
    account.apply(AccountOpened{id, "owner"});
    if (balance) account.apply(MoneyDeposited{id, balance, {}});
  }
  return state;
}

template <class C>
Decision<bank::Event> run(const C& command, std::map<StreamId, Account>& state) {
  return command.handle(read(state, command.streams()));
}
}  // namespace

TEST_CASE("Money and AccountId reject bad input at the boundary") {
  CHECK_FALSE(Money::try_new(-1).ok());
  CHECK(Money::try_new(0).ok());
  CHECK_FALSE(AccountId::try_new("").ok());
  CHECK_FALSE(AccountId::try_new("has space").ok());
  CHECK(account_id("acc-1").stream().str() == "account-acc-1");
}

TEST_CASE("a transfer withdraws from one account and deposits into the other") {
  auto state = with_accounts({{"a", 500}, {"b", 0}});
  auto decision = run(TransferMoney{account_id("a"), account_id("b"), cents(200), "t1"}, state);
  REQUIRE(decision.events());
  const auto& events = *decision.events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].stream == account_id("a").stream());
  CHECK(std::get<MoneyWithdrawn>(events[0].event).cents == 200);
  CHECK(events[1].stream == account_id("b").stream());
  CHECK(std::get<MoneyDeposited>(events[1].event).cents == 200);
}

TEST_CASE("a transfer that would overdraw the source is rejected") {
  auto state = with_accounts({{"a", 100}, {"b", 0}});
  auto decision = run(TransferMoney{account_id("a"), account_id("b"), cents(101), "t1"}, state);
  REQUIRE(decision.rejected());
  CHECK(decision.rejected()->message == "insufficient funds in a: balance 1.00, requested 1.01");
}

TEST_CASE("transfers to the same account, of nothing, or with unopened accounts are rejected") {
  auto state = with_accounts({{"a", 100}});
  CHECK(run(TransferMoney{account_id("a"), account_id("a"), cents(1), ""}, state).rejected());
  CHECK(run(TransferMoney{account_id("a"), account_id("b"), cents(0), ""}, state).rejected());
  CHECK(run(TransferMoney{account_id("a"), account_id("b"), cents(1), ""}, state).rejected());
}

TEST_CASE("accounts open once, and deposits and withdrawals need an open account and enough money") {
  std::map<StreamId, Account> empty;
  CHECK(run(OpenAccount{account_id("a"), "ann"}, empty).events());
  auto state = with_accounts({{"a", 50}});
  CHECK(run(OpenAccount{account_id("a"), "ann"}, state).rejected());
  CHECK(run(Deposit{account_id("a"), cents(10)}, state).events());
  CHECK(run(Deposit{account_id("zz"), cents(10)}, state).rejected());
  CHECK(run(Withdraw{account_id("a"), cents(50)}, state).events());
  CHECK(run(Withdraw{account_id("a"), cents(51)}, state).rejected());
}

TEST_CASE("ApproveOrder asks for its inventory streams, then reserves stock within the approver's limit") {
  using namespace eventcore::orders;
  std::map<StreamId, OrdersStream> state;
  state[order_stream("o1")].apply(OrderPlaced{"o1", {{"apple", 2, 100}, {"pear", 1, 300}}});
  state[approver_stream("ann")].apply(ApproverRegistered{"ann", 1000});
  ApproveOrder approve{"o1", "ann"};
  CHECK(approve.streams() == std::vector<StreamId>{order_stream("o1"), approver_stream("ann")});

  auto first = approve.handle(read(state, approve.streams()));
  REQUIRE(first.read_more());
  CHECK(first.read_more()->streams == std::vector<StreamId>{inventory_stream("apple"), inventory_stream("pear")});

  const std::vector<StreamId> all{order_stream("o1"), approver_stream("ann"), inventory_stream("apple"),
                                  inventory_stream("pear")};
  state[inventory_stream("apple")].apply(StockAdded{"apple", 5});
  auto short_of_pears = approve.handle(read(state, all));
  REQUIRE(short_of_pears.rejected());
  CHECK_THAT(short_of_pears.rejected()->message, Catch::Contains("not enough pear"));

  state[inventory_stream("pear")].apply(StockAdded{"pear", 1});
  auto approved = approve.handle(read(state, all));
  REQUIRE(approved.events());
  CHECK(approved.events()->size() == 3);

  auto with_approver = [&](const std::string& approver) {
    auto streams = all;
    streams[1] = approver_stream(approver);
    return ApproveOrder{"o1", approver}.handle(read(state, streams));
  };
  CHECK(with_approver("bob").rejected());  // unknown approver
  state[approver_stream("cheap")].apply(ApproverRegistered{"cheap", 100});
  CHECK(with_approver("cheap").rejected());  // over the limit
}
