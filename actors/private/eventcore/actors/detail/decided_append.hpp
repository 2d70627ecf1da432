#pragma once

// The append a decision makes, and what that append committed to each
// stream: one place for both ways a command runs (a stream actor, which
// runs keyless commands over the streams it leads, and a write coordinator).

#include <memory>
#include <optional>
#include <span>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {

struct DecidedAppend {
  std::shared_ptr<AppendRequest> request;
  TypedEvents typed;  // one per written event, in the request's order
};

// One write per snapshot (the command's streams, sorted), each expecting
// the version the decision saw, read-only ones too: every decision goes to
// the store, events or not, and its version check confirms the state it was
// decided on. Takes the decision's events; after_decide has checked that
// each targets one of the snapshots' streams.
DecidedAppend decided_append(std::span<const StreamSnapshot> snapshots, JobDecision& decision);

// What `appended` wrote: calls `to_stream(i, CommittedEvents)` for each
// write of `request` (i: its index, which is the stream's place in the
// command's sorted streams) and returns the command's result (its timings
// left to the caller). `typed` may be empty (an earlier attempt's append,
// found committed): the commits then carry no typed events.
template <typename ToStream>
CommandResult committed_result(const CommandJob& job, std::size_t attempt, const AppendRequestPtr& request,
                               AppendResult& appended, TypedEvents typed, ToStream&& to_stream) {
  const bool one_write = request->streams.size() == 1;
  CommandResult result;
  result.command = job.name;
  result.attempts = attempt;
  if (!one_write) result.positions.reserve(appended.positions.size());
  std::size_t position = 0;
  for (std::size_t i = 0; i < request->streams.size(); ++i) {
    const std::size_t count = request->streams[i].events.size();
    CommittedEvents committed{request, i, appended.streams[i].version.value - count, {}, {}};
    if (one_write) {  // no copies: the append's positions and events are this write's
      committed.positions = std::move(appended.positions);
      committed.positions.resize(count);
      committed.typed = std::move(typed);
    } else {
      committed.positions.reserve(count);
      for (std::size_t k = position; k < position + count; ++k)
        committed.positions.push_back(k < appended.positions.size() ? appended.positions[k] : GlobalPosition{});
      if (position + count <= typed.events.size()) {
        const auto first = typed.events.begin() + static_cast<std::ptrdiff_t>(position);
        committed.typed = TypedEvents{typed.type, typed.owner,
                                      std::vector<const void*>(first, first + static_cast<std::ptrdiff_t>(count))};
      }
    }
    position += count;
    result.positions.insert(result.positions.end(), committed.positions.begin(), committed.positions.end());
    result.events_written += count;
    result.stream_versions.push_back(std::move(appended.streams[i]));
    to_stream(i, std::move(committed));
  }
  return result;
}

}  // namespace eventcore::detail
