#pragma once

// The bank's commands. Each declares the account streams it touches and
// reads the Account folded from each (PerStream: the account's stream actor
// keeps it current, so a transfer costs the same on an account with ten
// events as on one with a million).
//
// Rejections carry a reason (CommandError::reason): account_exists,
// account_not_found, insufficient_funds, invalid_amount, same_account.

#include <optional>
#include <string>

#include <cereal/access.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>

#include "eventcore/actors/command.hpp"
#include "eventcore/bank/events.hpp"
#include "eventcore/bank/types.hpp"

namespace eventcore::bank {

// For commands that cross the network (remote.hpp): the commands save their
// fields as plain values and are rebuilt through these, which throw
// std::invalid_argument on a value the types refuse, so that a node never
// runs a command it could not have built itself.
namespace wire {
AccountId account(const std::string& text);
Money money(std::int64_t cents);
}  // namespace wire

// One account, folded from its own stream (and snapshotted: a long-lived
// account loads from its newest snapshot).
struct Account {
  static constexpr std::string_view snapshot_type = "bank.Account";
  static constexpr std::uint32_t snapshot_schema = 1;
  bool open = false;
  std::int64_t balance = 0;  // cents
  void apply(const Event& event);
  template <class Archive> void serialize(Archive& ar) { ar(open, balance); }
};

struct OpenAccount {
  using Event = bank::Event;
  using State = PerStream<Account>;
  static constexpr std::string_view command_type = "OpenAccount";
  AccountId account;
  std::string owner;
  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const;
  template <class Archive> void save(Archive& ar) const { ar(account.str(), owner); }
  template <class Archive> static void load_and_construct(Archive& ar, cereal::construct<OpenAccount>& construct) {
    std::string account, owner;
    ar(account, owner);
    construct(wire::account(account), std::move(owner));
  }
};

struct Deposit {
  using Event = bank::Event;
  using State = PerStream<Account>;
  static constexpr std::string_view command_type = "Deposit";
  AccountId account;
  Money amount;
  // Optimistic concurrency for clients (HTTP If-Match): rejected with reason
  // version_mismatch unless the account is at this version when decided.
  std::optional<std::uint64_t> expected_version;
  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const;
  template <class Archive> void save(Archive& ar) const { ar(account.str(), amount.cents(), expected_version); }
  template <class Archive> static void load_and_construct(Archive& ar, cereal::construct<Deposit>& construct) {
    std::string account;
    std::int64_t cents = 0;
    std::optional<std::uint64_t> expected;
    ar(account, cents, expected);
    construct(wire::account(account), wire::money(cents), expected);
  }
};

struct Withdraw {
  using Event = bank::Event;
  using State = PerStream<Account>;
  static constexpr std::string_view command_type = "Withdraw";
  AccountId account;
  Money amount;
  // Optimistic concurrency for clients (HTTP If-Match): rejected with reason
  // version_mismatch unless the account is at this version when decided.
  std::optional<std::uint64_t> expected_version;
  std::vector<StreamId> streams() const { return {account.stream()}; }
  Decision<Event> handle(const State& state) const;  // rejects an overdraft
  template <class Archive> void save(Archive& ar) const { ar(account.str(), amount.cents(), expected_version); }
  template <class Archive> static void load_and_construct(Archive& ar, cereal::construct<Withdraw>& construct) {
    std::string account;
    std::int64_t cents = 0;
    std::optional<std::uint64_t> expected;
    ar(account, cents, expected);
    construct(wire::account(account), wire::money(cents), expected);
  }
};

// Moves money between two accounts atomically; rejects an overdraft, a
// transfer to the same account, and closed or unknown accounts.
struct TransferMoney {
  using Event = bank::Event;
  using State = PerStream<Account>;
  static constexpr std::string_view command_type = "TransferMoney";
  AccountId from;
  AccountId to;
  Money amount;
  std::string reference;
  // Each stream once: a transfer to the same account declares it once, and handle rejects it.
  std::vector<StreamId> streams() const {
    if (from == to) return {from.stream()};
    return {from.stream(), to.stream()};
  }
  Decision<Event> handle(const State& state) const;
  template <class Archive> void save(Archive& ar) const { ar(from.str(), to.str(), amount.cents(), reference); }
  template <class Archive> static void load_and_construct(Archive& ar, cereal::construct<TransferMoney>& construct) {
    std::string from, to, reference;
    std::int64_t cents = 0;
    ar(from, to, cents, reference);
    construct(wire::account(from), wire::account(to), wire::money(cents), std::move(reference));
  }
};

}  // namespace eventcore::bank
