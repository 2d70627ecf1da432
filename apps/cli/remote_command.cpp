#include "remote_command.hpp"

#include <ostream>

#include <nlohmann/json.hpp>

#include "admin_commands.hpp"
#include "eventcore/bank/registry.hpp"

namespace eventcore::cli {

namespace {
template <class T>
T checked(Result<T> value, const char* what) {
  if (!value) throw CommandFailure(std::string(what) + ": " + value.error().message);
  return std::move(*value);
}

nlohmann::ordered_json result_json(const CommandResult& result) {
  nlohmann::ordered_json streams = nlohmann::ordered_json::array();
  for (const auto& s : result.stream_versions) streams.push_back({{"stream", s.stream.str()}, {"version", s.version.value}});
  nlohmann::ordered_json positions = nlohmann::ordered_json::array();
  for (const auto& p : result.positions) positions.push_back(to_string(p));
  return {{"command", result.command},     {"attempts", result.attempts}, {"events_written", result.events_written},
          {"replayed", result.replayed},   {"streams", streams},          {"positions", positions}};
}
}  // namespace

void execute_remote(const RemoteConfig& config, const RemoteCommand& c, std::ostream& out) {
  auto node = RemoteExecutor::connect(bank::commands(), config);
  if (!node) throw CommandFailure(node.error().message);
  ExecuteOptions options;
  options.idempotency_key = c.idempotency_key;
  const auto account = [&](const std::string& id) { return checked(bank::AccountId::try_new(id), "account"); };
  const auto money = checked(bank::Money::try_new(c.cents), "amount");
  std::optional<ExecuteResult> result;
  if (c.name == "open-account")
    result = node->execute_sync(bank::OpenAccount{account(c.account), c.owner}, options);
  else if (c.name == "deposit")
    result = node->execute_sync(bank::Deposit{account(c.account), money, c.expected_version}, options);
  else if (c.name == "withdraw")
    result = node->execute_sync(bank::Withdraw{account(c.account), money, c.expected_version}, options);
  else
    result = node->execute_sync(bank::TransferMoney{account(c.account), account(c.to), money, c.reference}, options);
  if (!result->ok()) {
    const auto& error = result->error();
    throw CommandFailure(to_string(error) + (error.reason.empty() ? "" : " [reason: " + error.reason + "]"));
  }
  out << result_json(result->value()).dump() << std::endl;
}

}  // namespace eventcore::cli
