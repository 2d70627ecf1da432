#pragma once

// `eventcore execute --connect HOST:PORT <command> ...`: one of the bank's
// commands, run by a node's command gateway (eventcore-bank-service
// --gateway). Prints the result as a JSON line; a command that fails throws
// CommandFailure with the runtime's error (its code, reason and message).

#include <iosfwd>
#include <optional>
#include <string>

#include "eventcore/actors/remote.hpp"

namespace eventcore::cli {

struct RemoteCommand {
  std::string name;  // open-account, deposit, withdraw, transfer
  std::string account, to, owner, reference;
  std::int64_t cents = 0;
  std::optional<std::uint64_t> expected_version;
  std::optional<std::string> idempotency_key;
};

void execute_remote(const RemoteConfig& node, const RemoteCommand& command, std::ostream& out);

}  // namespace eventcore::cli
