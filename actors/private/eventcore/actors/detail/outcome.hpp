#pragma once

// What every path that finishes a command does with its outcome (the write
// coordinator and a stream actor's fast path).

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/detail/runtime_context.hpp"

namespace eventcore::detail {

// Runs the command's decide; an exception from the user's handle or apply
// becomes a JobDecision of kind threw instead of taking the actor down.
// `started`: when the caller began (reconstruct counts from it). The
// decision's decided_at is always set: where the write phase starts.
JobDecision decide(const CommandJob& job, std::span<const StreamSnapshot> snapshots, const MonotonicClock& clock,
                   std::chrono::steady_clock::time_point started);

// The error for a decision of kind threw.
CommandError threw_error(const CommandJob& job, const JobDecision& decision, std::size_t attempts);

// Counts the outcome in the metrics and writes the command's one log line.
// `timings` are the phases measured so far (used when the outcome is an error).
void observe_outcome(RuntimeContext& context, const CommandJob& job, const ExecuteResult& outcome,
                     const PhaseTimings& timings);

}  // namespace eventcore::detail
