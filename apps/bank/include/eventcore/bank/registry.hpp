#pragma once

// The bank's commands under their wire names, for nodes that send them to
// one another (eventcore/actors/remote.hpp).

#include "eventcore/actors/command_registry.hpp"
#include "eventcore/bank/commands.hpp"

namespace eventcore::bank {

inline CommandRegistry& add_commands(CommandRegistry& registry) {
  return registry.add<OpenAccount>("bank.OpenAccount")
      .add<Deposit>("bank.Deposit")
      .add<Withdraw>("bank.Withdraw")
      .add<TransferMoney>("bank.TransferMoney");
}

inline CommandRegistry commands() {
  CommandRegistry registry;
  add_commands(registry);
  return registry;
}

}  // namespace eventcore::bank
