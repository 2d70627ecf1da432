#pragma once

// Commands for the remote gateway's tests: the bank's, plus a deposit whose
// handle takes its time, so that a test can act while it is in flight.

#include <chrono>
#include <thread>

#include "eventcore/bank/registry.hpp"

namespace eventcore::testing {

struct SlowDeposit {
  using Event = bank::Event;
  using State = PerStream<bank::Account>;
  static constexpr std::string_view command_type = "SlowDeposit";
  bank::AccountId account;
  bank::Money amount;
  std::uint32_t sleep_ms = 0;

  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    if (!state[account.stream()].open) return reject("account " + account.str() + " is not open", "account_not_found");
    return {{account.stream(), bank::MoneyDeposited{account.str(), amount.cents(), "slow"}}};
  }
  template <class Archive> void save(Archive& ar) const { ar(account.str(), amount.cents(), sleep_ms); }
  template <class Archive> static void load_and_construct(Archive& ar, cereal::construct<SlowDeposit>& construct) {
    std::string account;
    std::int64_t cents = 0;
    std::uint32_t sleep_ms = 0;
    ar(account, cents, sleep_ms);
    construct(bank::wire::account(account), bank::wire::money(cents), sleep_ms);
  }
};

inline CommandRegistry remote_test_commands() {
  auto registry = bank::commands();
  registry.add<SlowDeposit>("test.SlowDeposit");
  return registry;
}

}  // namespace eventcore::testing
