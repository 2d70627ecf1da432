#pragma once

// A command as the runtime sees it, with the user's types erased. Built by
// make_job (command.hpp); actor code never instantiates a user's types.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "eventcore/store/event.hpp"
#include "eventcore/store/result.hpp"

namespace eventcore {

// How to fold one kind of state from one stream's events. One static
// instance per state type (its address is the state's identity), so that a
// stream actor can keep any number of folds of its stream current without
// knowing their types: it creates them on load and advances them on commit.
struct FoldOps {
  std::shared_ptr<void> (*fresh)(const StreamId& stream);
  // Applies one stored event. Returns an error when it does not decode; may
  // throw (whatever the user's apply throws).
  std::optional<Error> (*apply)(void* state, const StoredEvent& event);
  std::shared_ptr<void> (*clone)(const void* state);   // copy on write
  // Snapshots, for a state that opts in (else encode is null): the state's
  // name and schema version in the store, and its codec. decode throws on
  // bytes it cannot read.
  std::string_view snapshot_type;
  std::uint32_t snapshot_schema = 0;
  Payload (*encode)(const void* state) = nullptr;
  std::shared_ptr<void> (*decode)(std::span<const std::uint8_t> bytes) = nullptr;
  // Applies one event as a command emitted it (a domain event of the type
  // event_type names), not decoded: how a stream actor advances the fold by
  // its commands' commits. Null for a state whose apply needs the stored
  // event (its stream, version or metadata): that one decodes.
  void (*apply_emitted)(void* state, const void* event) = nullptr;
  const void* event_type = nullptr;
};

// The state kinds a job needs on each of its streams.
using FoldNeeds = std::vector<const FoldOps*>;

// One fold of a stream, current at the stream's version.
struct FoldState {
  const FoldOps* ops = nullptr;
  std::shared_ptr<const void> state;
  std::uint64_t saved = 0;  // the version of its newest snapshot known to the store (0: none)
};

// What the runtime knows of one stream when a command runs: its version and
// its folds (at least those the command asked for), each current at that
// version. A view: the folds belong to the stream actor (fast path) or to the
// grant (coordinator), and stay unchanged while the command holds the stream.
struct StreamSnapshot {
  const StreamId& stream;  // the holder's (stream actor or coordinator run), alive while the view is
  StreamVersion version;
  std::span<const FoldState> folds;

  const void* find(const FoldOps* ops) const {
    for (const auto& fold : folds)
      if (fold.ops == ops) return fold.state.get();
    return nullptr;
  }
};

// An encoded event, the stream it targets, and the domain event it encodes
// (owned by JobDecision::typed).
struct EmittedEvent {
  StreamId stream;
  EventToWrite event;
  const void* typed = nullptr;
};

// A command's answer to one set of snapshots, with its domain types erased.
struct JobDecision {
  // threw: handle or the State's apply threw (the runtime catches it).
  enum class Kind { write, reject, need_streams, failed, threw };
  Kind kind = Kind::write;
  std::vector<EmittedEvent> events;      // write: in emit order
  std::shared_ptr<const void> typed;     // write: owns the domain events that events[i].typed point to
  const void* event_type = nullptr;      // write: their type (FoldOps::event_type)
  std::string message;                   // reject: the domain's message; threw: what it threw
  std::string reason;                    // reject: the domain's code for it (may be empty)
  std::vector<StreamId> more_streams;    // need_streams: streams to add to the command
  std::optional<Error> error;            // failed: e.g. a stored event that does not decode
  std::chrono::nanoseconds reconstruct{};  // from `started` to handle's call
  std::chrono::nanoseconds handle{};       // handle, and encoding what it emitted
  std::chrono::steady_clock::time_point decided_at{};  // when it returned (unset if handle never ran)
};

using MonotonicClock = std::function<std::chrono::steady_clock::time_point()>;

// A command as the runtime sees it: a name, the declared streams, the folds it
// needs of each stream, and a function from snapshots to a decision.
struct CommandJob {
  std::string name;
  std::vector<StreamId> streams;             // declared by the command
  std::optional<std::string> idempotency_key;
  std::string fingerprint;                   // ExecuteOptions::fingerprint
  Metadata metadata;                         // copied onto every event written
  // The folds the job needs of every stream when it runs over `stream_count`
  // streams (a State folded across streams in global order needs their events).
  std::function<const FoldNeeds&(std::size_t stream_count)> needs;
  // `started`: when reconstructing began (the caller has just read the clock).
  std::function<JobDecision(std::span<const StreamSnapshot>, const MonotonicClock&,
                            std::chrono::steady_clock::time_point started)>
      decide;
};

using CommandJobPtr = std::shared_ptr<const CommandJob>;

namespace detail {
// The fold whose state is the stream's events themselves (a
// std::vector<StoredEvent>): for a State folded across streams in global
// order. It grows with the stream.
const FoldOps* events_fold();

// The error for a snapshot that lacks a fold its command needs (a runtime bug).
Error missing_fold(const StreamId& stream);
}  // namespace detail

}  // namespace eventcore
