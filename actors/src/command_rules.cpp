#include "eventcore/actors/detail/command_rules.hpp"

#include <algorithm>

#include "eventcore/actors/detail/outcome.hpp"

namespace eventcore::detail {

AfterDecide after_decide(const CommandJob& job, const JobDecision& decision, std::span<const StreamId> declared,
                         std::size_t attempt) {
  auto answer = [&](CommandErrorCode code, std::string message, std::optional<Error> cause = std::nullopt,
                    std::optional<std::vector<StreamId>> streams = std::nullopt, bool drop_cache = false) {
    std::vector<StreamId> concerned = streams ? std::move(*streams) : std::vector<StreamId>(declared.begin(), declared.end());
    return AfterDecide{AfterDecide::Kind::answer,
                       CommandError{code, job.name, std::move(concerned), std::move(message), std::move(cause), attempt},
                       drop_cache};
  };
  switch (decision.kind) {
    case JobDecision::Kind::reject: {
      auto after = answer(CommandErrorCode::validation_failed, decision.message);
      after.error->reason = decision.reason;
      after.confirm = true;
      return after;
    }
    case JobDecision::Kind::threw:
      return AfterDecide{AfterDecide::Kind::answer, threw_error(job, decision, attempt), false};
    case JobDecision::Kind::failed:
      return answer(CommandErrorCode::store_failed, "a stored event could not be decoded", decision.error,
                    std::nullopt, true);
    case JobDecision::Kind::need_streams:
      return AfterDecide{AfterDecide::Kind::discover, std::nullopt, false};
    case JobDecision::Kind::write:
      break;
  }
  for (const auto& e : decision.events)
    if (!std::binary_search(declared.begin(), declared.end(), e.stream))
      return answer(CommandErrorCode::undeclared_stream,
                    "handle emitted a '" + e.event.type + "' event for stream '" + e.stream.str() +
                        "', which the command did not declare",
                    std::nullopt, std::vector<StreamId>{e.stream});
  return AfterDecide{};
}

std::optional<RetryReason> retry_reason(const Error& append_error) {
  if (append_error.code == ErrorCode::conflict) return RetryReason::conflict;
  if (append_error.transient()) return RetryReason::transient;
  return std::nullopt;
}

}  // namespace eventcore::detail
