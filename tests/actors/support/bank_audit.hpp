#pragma once

// Reads the bank's account streams back from a store and checks what every
// bank test checks: versions contiguous, no account ever overdrawn. Counts
// the events of each transfer reference, so a test can tell a transfer
// written once (2 events) from one written twice (4) or not at all (0).

#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "eventcore/bank/commands.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::testing {

struct BankAudit {
  std::int64_t total = 0;                         // the sum of all balances, in cents
  std::map<std::string, int> events_per_reference;  // withdrawals and deposits carrying it
};

inline BankAudit audit_accounts(EventStore& store, const std::vector<bank::AccountId>& accounts) {
  BankAudit audit;
  for (const auto& id : accounts) {
    std::int64_t balance = 0;
    StreamVersion from{1};
    std::uint64_t version = 1;
    for (;;) {
      auto page = store.read_stream(id.stream(), from, 1000);
      REQUIRE(page.ok());
      for (const auto& e : *page) {
        CHECK(e.version.value == version++);  // contiguous
        auto event = EventCodec<bank::Event>::decode(e);
        REQUIRE(event.ok());
        if (auto* d = std::get_if<bank::MoneyDeposited>(&*event)) {
          balance += d->cents;
          if (!d->reference.empty()) ++audit.events_per_reference[d->reference];
        }
        if (auto* w = std::get_if<bank::MoneyWithdrawn>(&*event)) {
          balance -= w->cents;
          INFO("account " << id.str() << " at version " << e.version.value);
          CHECK(balance >= 0);  // never overdrawn
          ++audit.events_per_reference[w->reference];
        }
      }
      if (page->end_of_stream) break;
      from = page->next;
    }
    audit.total += balance;
  }
  return audit;
}

}  // namespace eventcore::testing
