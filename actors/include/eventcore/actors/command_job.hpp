#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "eventcore/store/event.hpp"
#include "eventcore/store/result.hpp"

namespace eventcore {

// What the runtime knows of one stream when a command runs: its version and
// every event in it. Shared, immutable: the stream actor copies on write.
struct StreamSnapshot {
  StreamId stream;
  StreamVersion version;
  std::shared_ptr<const std::vector<StoredEvent>> events;  // events->size() == version.value
};

// An encoded event and the stream it targets.
struct EmittedEvent {
  StreamId stream;
  EventToWrite event;
};

// A command's answer to one set of snapshots, with its domain types erased.
struct JobDecision {
  enum class Kind { write, reject, need_streams, failed };
  Kind kind = Kind::write;
  std::vector<EmittedEvent> events;      // write: in emit order
  std::string message;                   // reject: the domain's message
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
