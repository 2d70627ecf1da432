#include "eventcore/bank/commands.hpp"
#include "eventcore/bank/request_fingerprint.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace eventcore::bank {

Result<Money> Money::try_new(std::int64_t cents) {
  if (cents < 0) return Error{ErrorCode::invalid_argument, "an amount of money cannot be negative (" + std::to_string(cents) + " cents)"};
  return Money(cents);
}

Result<AccountId> AccountId::try_new(std::string_view value) {
  const bool valid = !value.empty() && value.size() <= 64 &&
                     std::all_of(value.begin(), value.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                              c == '-';
                     });
  if (!valid)
    return Error{ErrorCode::invalid_argument,
                 "'" + std::string(value) + "' is no account id: 1 to 64 characters of A-Z a-z 0-9 _ -"};
  return AccountId(std::string(value));
}

namespace wire {
AccountId account(const std::string& text) {
  auto id = AccountId::try_new(text);
  if (!id) throw std::invalid_argument(id.error().message);
  return std::move(*id);
}

Money money(std::int64_t cents) {
  auto money = Money::try_new(cents);
  if (!money) throw std::invalid_argument(money.error().message);
  return *money;
}
}  // namespace wire

namespace {
constexpr std::string_view account_prefix = "account-";
}

StreamId AccountId::stream() const { return StreamId::try_new(std::string(account_prefix) + value_).value(); }

std::optional<std::string> AccountId::name_of(const StreamId& stream) {
  if (!stream.starts_with(account_prefix)) return std::nullopt;
  return stream.str().substr(account_prefix.size());
}

void Account::apply(const Event& event) {
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, AccountOpened>) open = true;
        if constexpr (std::is_same_v<T, MoneyDeposited>) balance += e.cents;
        if constexpr (std::is_same_v<T, MoneyWithdrawn>) balance -= e.cents;
      },
      event);
}

namespace {
std::string money(std::int64_t cents) {
  return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
}
}  // namespace

Decision<Event> OpenAccount::handle(const State& state) const {
  if (state[account.stream()].open) return reject("account " + account.str() + " is already open", "account_exists");
  return {{account.stream(), AccountOpened{account.str(), owner}}};
}

namespace {
// The If-Match check: decided on the version the command read, which the
// commit then checks, so it holds against concurrent writers.
std::optional<Decision<Event>> version_mismatch(const PerStream<Account>& state, const AccountId& account,
                                                const std::optional<std::uint64_t>& expected) {
  if (!expected) return std::nullopt;
  const auto actual = state.version(account.stream()).value;
  if (actual == *expected) return std::nullopt;
  return reject("account " + account.str() + " is at version " + std::to_string(actual) + ", not " +
                    std::to_string(*expected) + " as expected",
                "version_mismatch");
}
}  // namespace

Decision<Event> Deposit::handle(const State& state) const {
  if (!state[account.stream()].open) return reject("account " + account.str() + " is not open", "account_not_found");
  if (auto mismatch = version_mismatch(state, account, expected_version)) return std::move(*mismatch);
  if (amount.cents() == 0) return reject("a deposit must be more than zero", "invalid_amount");
  return {{account.stream(), MoneyDeposited{account.str(), amount.cents(), {}}}};
}

Decision<Event> Withdraw::handle(const State& state) const {
  const Account& a = state[account.stream()];
  if (!a.open) return reject("account " + account.str() + " is not open", "account_not_found");
  if (auto mismatch = version_mismatch(state, account, expected_version)) return std::move(*mismatch);
  if (amount.cents() == 0) return reject("a withdrawal must be more than zero", "invalid_amount");
  if (a.balance < amount.cents())
    return reject("insufficient funds in " + account.str() + ": balance " + money(a.balance) + ", requested " +
                  money(amount.cents()),
                  "insufficient_funds");
  return {{account.stream(), MoneyWithdrawn{account.str(), amount.cents(), {}}}};
}

Decision<Event> TransferMoney::handle(const State& state) const {
  if (from == to) return reject("cannot transfer from account " + from.str() + " to itself", "same_account");
  if (amount.cents() == 0) return reject("a transfer must be more than zero", "invalid_amount");
  const Account& source = state[from.stream()];
  const Account& target = state[to.stream()];
  if (!source.open) return reject("account " + from.str() + " is not open", "account_not_found");
  if (!target.open) return reject("account " + to.str() + " is not open", "account_not_found");
  if (source.balance < amount.cents())
    return reject("insufficient funds in " + from.str() + ": balance " + money(source.balance) + ", requested " +
                  money(amount.cents()),
                  "insufficient_funds");
  return {{from.stream(), MoneyWithdrawn{from.str(), amount.cents(), reference}},
          {to.stream(), MoneyDeposited{to.str(), amount.cents(), reference}}};
}

std::string request_fingerprint(std::initializer_list<std::string_view> parts) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::string_view part : parts) {
    for (unsigned char c : part) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

}  // namespace eventcore::bank
