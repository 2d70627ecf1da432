// The example domains on their own: handle on a State, no actors.

#include <catch2/catch.hpp>

#include "eventcore/bank/commands.hpp"
#include "eventcore/orders/orders.hpp"

using namespace eventcore;
using namespace eventcore::bank;

namespace {
AccountId account_id(std::string_view id) { return AccountId::try_new(id).value(); }
Money cents(std::int64_t n) { return Money::try_new(n).value(); }

Accounts with_accounts(std::initializer_list<std::pair<std::string, std::int64_t>> balances) {
  Accounts state;
  for (const auto& [id, balance] : balances) {
    state.apply(account_id(id).stream(), AccountOpened{id, "owner"});
    if (balance) state.apply(account_id(id).stream(), MoneyDeposited{id, balance, {}});
  }
  return state;
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
  auto decision = TransferMoney{account_id("a"), account_id("b"), cents(200), "t1"}.handle(state);
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
  auto decision = TransferMoney{account_id("a"), account_id("b"), cents(101), "t1"}.handle(state);
  REQUIRE(decision.rejected());
  CHECK(decision.rejected()->message == "insufficient funds in a: balance 1.00, requested 1.01");
}

TEST_CASE("transfers to the same account, of nothing, or with unopened accounts are rejected") {
  auto state = with_accounts({{"a", 100}});
  CHECK(TransferMoney{account_id("a"), account_id("a"), cents(1), ""}.handle(state).rejected());
  CHECK(TransferMoney{account_id("a"), account_id("b"), cents(0), ""}.handle(state).rejected());
  CHECK(TransferMoney{account_id("a"), account_id("b"), cents(1), ""}.handle(state).rejected());
}

TEST_CASE("accounts open once; deposits and withdrawals need an open account and enough money") {
  Accounts empty;
  CHECK(OpenAccount{account_id("a"), "ann"}.handle(empty).events());
  auto state = with_accounts({{"a", 50}});
  CHECK(OpenAccount{account_id("a"), "ann"}.handle(state).rejected());
  CHECK(Deposit{account_id("a"), cents(10)}.handle(state).events());
  CHECK(Deposit{account_id("zz"), cents(10)}.handle(state).rejected());
  CHECK(Withdraw{account_id("a"), cents(50)}.handle(state).events());
  CHECK(Withdraw{account_id("a"), cents(51)}.handle(state).rejected());
}

TEST_CASE("ApproveOrder asks for its inventory streams, then reserves stock within the approver's limit") {
  using namespace eventcore::orders;
  OrdersState state;
  state.apply(order_stream("o1"), OrderPlaced{"o1", {{"apple", 2, 100}, {"pear", 1, 300}}});
  state.apply(approver_stream("ann"), ApproverRegistered{"ann", 1000});
  ApproveOrder approve{"o1", "ann"};
  CHECK(approve.streams() == std::vector<StreamId>{order_stream("o1"), approver_stream("ann")});

  auto first = approve.handle(state);
  REQUIRE(first.read_more());
  CHECK(first.read_more()->streams == std::vector<StreamId>{inventory_stream("apple"), inventory_stream("pear")});

  state.stream_read(inventory_stream("apple"));
  state.stream_read(inventory_stream("pear"));
  state.apply(inventory_stream("apple"), StockAdded{"apple", 5});
  auto short_of_pears = approve.handle(state);
  REQUIRE(short_of_pears.rejected());
  CHECK_THAT(short_of_pears.rejected()->message, Catch::Contains("not enough pear"));

  state.apply(inventory_stream("pear"), StockAdded{"pear", 1});
  auto approved = approve.handle(state);
  REQUIRE(approved.events());
  CHECK(approved.events()->size() == 3);

  CHECK(ApproveOrder{"o1", "bob"}.handle(state).rejected());  // unknown approver
  state.apply(approver_stream("cheap"), ApproverRegistered{"cheap", 100});
  CHECK(ApproveOrder{"o1", "cheap"}.handle(state).rejected());  // over the limit
}
