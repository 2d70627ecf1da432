#include "balances.hpp"

namespace eventcore::bank_service {

void Balances::apply_event(const bank::Event& event, const StoredEvent& stored) {
  std::lock_guard lock(mutex_);
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        AccountView& view = accounts_[e.account];
        if constexpr (std::is_same_v<T, bank::MoneyDeposited>) view.balance_cents += e.cents;
        if constexpr (std::is_same_v<T, bank::MoneyWithdrawn>) view.balance_cents -= e.cents;
        view.version = stored.version.value;
      },
      event);
  position_ = stored.position;
}

std::optional<AccountView> Balances::find(const std::string& account) const {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(account);
  if (it == accounts_.end()) return std::nullopt;
  AccountView view = it->second;
  view.position = position_;
  return view;
}

}  // namespace eventcore::bank_service
