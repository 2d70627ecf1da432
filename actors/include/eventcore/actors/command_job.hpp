#pragma once

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

// Folded states of one stream, kept by its stream actor across commands so
// that a single-stream command folds only the events after the cached
// version (not the whole stream). One entry per (State, Event) type pair.
// Only the command holding the stream reads or changes it (the stream actor
// hands it over with the grant; holding serializes its users); the stream
// actor itself only drops it (replaces the pointer) when its events are
// reloaded, so a cached state always folds a prefix of `events`.
struct FoldCache {
  struct Entry {
    const void* key = nullptr;     // identifies the State and Event types
    std::shared_ptr<void> state;   // a State folded from events [0, version)
    std::uint64_t version = 0;
  };
  std::vector<Entry> entries;
};

// What the runtime knows of one stream when a command runs: its version and
// every event in it. Shared, immutable: the stream actor copies on write.
struct StreamSnapshot {
  StreamId stream;
  StreamVersion version;
  std::shared_ptr<const std::vector<StoredEvent>> events;  // events->size() == version.value
  std::shared_ptr<FoldCache> folds;  // may be null (then the job folds from scratch)
};

// An encoded event and the stream it targets.
struct EmittedEvent {
  StreamId stream;
  EventToWrite event;
};

// A command's answer to one set of snapshots, with its domain types erased.
struct JobDecision {
  // threw: handle or the State's apply threw (the runtime catches it).
  enum class Kind { write, reject, need_streams, failed, threw };
  Kind kind = Kind::write;
  std::vector<EmittedEvent> events;      // write: in emit order
  std::string message;                   // reject: the domain's message; threw: what it threw
  std::vector<StreamId> more_streams;    // need_streams: streams to add to the command
  std::optional<Error> error;            // failed: e.g. a stored event that does not decode
  std::chrono::nanoseconds reconstruct{};
  std::chrono::nanoseconds handle{};
};

using MonotonicClock = std::function<std::chrono::steady_clock::time_point()>;

// A command as the runtime sees it: a name, the declared streams, and a
// function from snapshots to a decision. Built by make_job (command.hpp) so
// that actor code never instantiates a user's types.
struct CommandJob {
  std::string name;
  std::vector<StreamId> streams;             // declared by the command
  std::optional<std::string> idempotency_key;
  Metadata metadata;                         // copied onto every event written
  std::function<JobDecision(std::span<const StreamSnapshot>, const MonotonicClock&)> decide;
};

using CommandJobPtr = std::shared_ptr<const CommandJob>;

}  // namespace eventcore
