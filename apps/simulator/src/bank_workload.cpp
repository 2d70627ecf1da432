// The bank under simulation. Contention is the number of accounts (2: every
// command fights for the same streams; 12: mostly disjoint). A foreign
// writer ("another process") deposits into open accounts.
//
// Domain invariants: money is conserved (the balances folded from the log
// equal the deposits minus the withdrawals of the commands the log holds,
// plus the foreign deposits; transfers move money and never create it); no
// balance ever goes below zero; a transfer's two events are one transaction.

#include <map>

#include "eventcore/bank/commands.hpp"
#include "eventcore/sim_examples/workloads.hpp"

namespace eventcore::sim_examples {
namespace {

using namespace simulation;
using bank::AccountId;
using bank::Money;

struct Spec {
  enum class Kind { open, deposit, withdraw, transfer } kind;
  std::string from, to;
  std::int64_t cents = 0;
};

class BankProjection final : public Projection {
 public:
  void apply(const StoredEvent& stored) override {
    if (!bank::AccountId::name_of(stored.stream)) return;
    auto event = EventCodec<bank::Event>::decode(stored);
    if (!event) {
      balances_["!undecodable"] += 1;
      return;
    }
    std::visit(
        [&](const auto& e) {
          using T = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<T, bank::AccountOpened>) balances_.try_emplace(e.account, 0);
          if constexpr (std::is_same_v<T, bank::MoneyDeposited>) balances_[e.account] += e.cents;
          if constexpr (std::is_same_v<T, bank::MoneyWithdrawn>) balances_[e.account] -= e.cents;
        },
        *event);
  }
  std::string digest() const override {
    std::string out = "bank";
    for (const auto& [account, cents] : balances_) out += " " + account + "=" + std::to_string(cents);
    return out;
  }

 private:
  std::map<std::string, std::int64_t> balances_;
};

class BankWorkload final : public Workload {
 public:
  std::string name() const override { return "bank"; }

  void setup(SimRandom& rng) override {
    accounts_ = static_cast<int>(rng.between(2, 12));
    transfer_weight_ = static_cast<int>(rng.between(1, 6));
  }

  std::optional<CommandSpec> initial_command(std::uint64_t id, SimRandom&) override {
    if (opened_ >= accounts_) return std::nullopt;
    const std::string account = "a" + std::to_string(opened_++);
    specs_[id] = {Spec::Kind::open, account, {}, 0};
    return CommandSpec::of(bank::OpenAccount{AccountId::try_new(account).value(), "owner-" + account},
                           "OpenAccount " + account);
  }

  CommandSpec next_command(std::uint64_t id, SimRandom& rng) override {
    auto account = [&] { return "a" + std::to_string(rng.below(static_cast<std::uint64_t>(accounts_ + 1))); };
    // Mostly valid amounts; zero and large ones are rejected by the domain.
    const std::int64_t cents = rng.chance(0.05) ? 0 : rng.between(1, rng.chance(0.2) ? 5000 : 300);
    const auto money = Money::try_new(cents).value();
    const auto roll = rng.below(static_cast<std::uint64_t>(4 + transfer_weight_));
    const std::string a = account();
    if (roll == 0) {
      specs_[id] = {Spec::Kind::open, a, {}, 0};  // mostly already open: rejected
      return CommandSpec::of(bank::OpenAccount{AccountId::try_new(a).value(), "owner-" + a}, "OpenAccount " + a);
    }
    if (roll <= 2) {
      specs_[id] = {Spec::Kind::deposit, a, {}, cents};
      return CommandSpec::of(bank::Deposit{AccountId::try_new(a).value(), money},
                             "Deposit " + a + " " + std::to_string(cents));
    }
    if (roll == 3) {
      specs_[id] = {Spec::Kind::withdraw, a, {}, cents};
      return CommandSpec::of(bank::Withdraw{AccountId::try_new(a).value(), money},
                             "Withdraw " + a + " " + std::to_string(cents));
    }
    const std::string b = account();
    specs_[id] = {Spec::Kind::transfer, a, b, cents};
    return CommandSpec::of(
        bank::TransferMoney{AccountId::try_new(a).value(), AccountId::try_new(b).value(), money, "t" + std::to_string(id)},
        "TransferMoney " + a + "->" + b + " " + std::to_string(cents));
  }

  std::optional<EventToWrite> foreign_event(const StreamId& stream, const std::vector<StoredEvent>& events,
                                            SimRandom& rng) override {
    auto account = bank::AccountId::name_of(stream);
    if (!account || events.empty()) return std::nullopt;  // only open accounts
    return EventCodec<bank::Event>::encode(bank::MoneyDeposited{*account, rng.between(1, 100), "foreign"});
  }

  std::unique_ptr<Projection> make_projection() const override { return std::make_unique<BankProjection>(); }

  void check(const RunView& run, Checker& check) const override {
    std::map<std::string, std::int64_t> balance;
    std::int64_t foreign = 0;
    std::map<std::uint64_t, std::vector<const StoredEvent*>> by_command;
    for (const auto& stored : run.log) {
      if (!bank::AccountId::name_of(stored.stream)) continue;
      auto event = EventCodec<bank::Event>::decode(stored);
      if (!event) {
        check.fail("events decode", to_string(event.error()));
        continue;
      }
      if (auto id = RunView::command_of(stored)) by_command[*id].push_back(&stored);
      if (auto* d = std::get_if<bank::MoneyDeposited>(&*event)) {
        balance[d->account] += d->cents;
        if (run.store.is_foreign(stored.id)) foreign += d->cents;
      }
      if (auto* w = std::get_if<bank::MoneyWithdrawn>(&*event)) {
        balance[w->account] -= w->cents;
        if (balance[w->account] < 0)
          check.fail("no overdraft", "account " + w->account + " went to " + std::to_string(balance[w->account]) +
                                         " cents at position " + to_string(stored.position));
      }
    }
    // Money conserved: what the log holds is what the committed commands meant.
    std::int64_t expected = foreign, actual = 0;
    for (const auto& [account, cents] : balance) actual += cents;
    for (const auto& [id, spec] : specs_) {
      if (id >= run.commands.size() || run.commands[id].transactions.empty()) continue;
      if (spec.kind == Spec::Kind::deposit) expected += spec.cents;
      if (spec.kind == Spec::Kind::withdraw) expected -= spec.cents;
      if (spec.kind == Spec::Kind::transfer) {
        const auto& events = by_command[id];
        std::int64_t net = 0;
        for (const auto* e : events) {
          auto event = EventCodec<bank::Event>::decode(*e);
          if (auto* d = std::get_if<bank::MoneyDeposited>(&*event)) net += d->cents;
          if (auto* w = std::get_if<bank::MoneyWithdrawn>(&*event)) net -= w->cents;
        }
        if (events.size() % 2 != 0 || net != 0)
          check.fail("money conserved", "transfer #" + std::to_string(id) + " wrote " + std::to_string(events.size()) +
                                            " event(s) netting " + std::to_string(net) + " cents");
      }
    }
    if (expected != actual)
      check.fail("money conserved", "the accounts hold " + std::to_string(actual) + " cents, the committed commands and foreign deposits account for " +
                                        std::to_string(expected));
  }

 private:
  int accounts_ = 2, opened_ = 0, transfer_weight_ = 3;
  std::map<std::uint64_t, Spec> specs_;
};

}  // namespace

std::unique_ptr<Workload> make_bank_workload() { return std::make_unique<BankWorkload>(); }

std::unique_ptr<Workload> make_mixed_workload() {
  std::vector<std::unique_ptr<Workload>> parts;
  parts.push_back(make_bank_workload());
  parts.push_back(make_orders_workload());
  return combine("mixed", std::move(parts));
}

std::unique_ptr<Workload> make_workload(std::string_view name) {
  if (name == "bank") return make_bank_workload();
  if (name == "orders") return make_orders_workload();
  if (name == "mixed") return make_mixed_workload();
  return nullptr;
}

}  // namespace eventcore::sim_examples
