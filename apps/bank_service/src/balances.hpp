#pragma once

// The read model behind GET /accounts/{id}: each account's balance and
// stream version, folded from the bank's events by the projection runtime.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "eventcore/bank/events.hpp"
#include "eventcore/projections/projection.hpp"

namespace eventcore::bank_service {

struct AccountView {
  std::int64_t balance_cents = 0;
  std::uint64_t version = 0;  // the account stream's version it includes
  GlobalPosition position;    // the last event the read model has applied (any account)
};

class Balances final : public projections::TypedProjection<bank::Event> {
 public:
  void apply_event(const bank::Event& event, const StoredEvent& stored) override;
  std::optional<AccountView> find(const std::string& account) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, AccountView, std::less<>> accounts_;
  GlobalPosition position_;
};

}  // namespace eventcore::bank_service
