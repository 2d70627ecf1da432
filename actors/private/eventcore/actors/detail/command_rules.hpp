#pragma once

// A command's outcome rules, stated once for both ways a command runs (a
// stream actor's fast path, a write coordinator): what a decision means, and
// what a failed append means. The executor's interface
// (command_executor.hpp) states them for users.

#include <optional>
#include <span>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/retry_policy.hpp"

namespace eventcore::detail {

// What a decision asks for next.
struct AfterDecide {
  enum class Kind {
    append,    // write the decision's events (perhaps none) with the streams' versions checked
    answer,    // the command failed: `error`, final
    discover,  // read the streams it asked for and decide again
  };
  Kind kind = Kind::append;
  std::optional<CommandError> error;  // answer
  bool drop_cache = false;            // answer: the folds may not match the store (an event did not decode)
  // answer: only once the store confirms the versions it was decided on (a
  // versions-only append). A rejection decided on state that another
  // process has since moved is decided again, like a write that conflicts:
  // a cache never makes a command fail that the store's state would take.
  bool confirm = false;
};

// `declared`: the command's streams, sorted (discovered ones included).
AfterDecide after_decide(const CommandJob& job, const JobDecision& decision, std::span<const StreamId> declared,
                         std::size_t attempt);

// Why a failed append may be tried again (a conflict; a transient failure,
// after which the append may have committed), or none: it failed for good.
std::optional<RetryReason> retry_reason(const Error& append_error);

}  // namespace eventcore::detail
