#pragma once

// The bank's commands. Each declares the account streams it touches; the
// State folded from them is the same for all.

#include <map>
#include <optional>

#include "eventcore/actors/command.hpp"
#include "eventcore/bank/events.hpp"
#include "eventcore/bank/types.hpp"

namespace eventcore::bank {

struct Account {
  bool open = false;
  std::int64_t balance = 0;  // cents
};

struct Accounts {
  std::map<std::string, Account> accounts;
  const Account* find(const AccountId& id) const;
  void apply(const StreamId& stream, const Event& event);
};

struct OpenAccount {
  using Event = bank::Event;
  using State = Accounts;
  static constexpr std::string_view command_type = "OpenAccount";
  AccountId account;
  std::string owner;
  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const;
};

struct Deposit {
  using Event = bank::Event;
  using State = Accounts;
  static constexpr std::string_view command_type = "Deposit";
  AccountId account;
  Money amount;
  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const;
};

struct Withdraw {
  using Event = bank::Event;
  using State = Accounts;
  static constexpr std::string_view command_type = "Withdraw";
  AccountId account;
  Money amount;
  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const;  // rejects an overdraft
};

// Moves money between two accounts atomically; rejects an overdraft, a
// transfer to the same account, and closed or unknown accounts.
struct TransferMoney {
  using Event = bank::Event;
  using State = Accounts;
  static constexpr std::string_view command_type = "TransferMoney";
  AccountId from;
  AccountId to;
  Money amount;
  std::string reference;
  std::vector<StreamId> streams() const { return {from.stream(), to.stream()}; }
  Decision<Event> handle(const State& state) const;
};

}  // namespace eventcore::bank
