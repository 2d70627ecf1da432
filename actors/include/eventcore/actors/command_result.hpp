#pragma once

#include <cassert>
#include <chrono>
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "eventcore/actors/command_error.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore {

// Time spent in each phase of the last attempt (total covers all attempts).
struct PhaseTimings {
  std::chrono::nanoseconds prepare{};      // acquiring the stream actors, loading streams
  std::chrono::nanoseconds reconstruct{};  // decoding events and folding State
  std::chrono::nanoseconds handle{};       // the command's handle
  std::chrono::nanoseconds write{};        // the atomic store append
  std::chrono::nanoseconds total{};
};

struct CommandResult {
  std::string command;
  std::size_t attempts = 0;
  std::size_t events_written = 0;
  // Every declared stream's version after the command (written or only read),
  // in stream id order.
  std::vector<AppendResult::StreamResult> stream_versions;
  // One per event written, grouped by stream in stream id order, emit order within a stream.
  std::vector<GlobalPosition> positions;
  PhaseTimings timings;
  // True when an earlier execution with the same idempotency key already went
  // through: this is its result, and nothing was written this time.
  bool replayed = false;
};

// The outcome of executing a command: a CommandResult or a CommandError.
class [[nodiscard]] ExecuteResult {
 public:
  ExecuteResult(CommandResult result) : data_(std::move(result)) {}
  ExecuteResult(CommandError error) : data_(std::move(error)) {}

  bool ok() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  const CommandResult& value() const& { assert(ok()); return std::get<0>(data_); }
  const CommandResult* operator->() const { return &value(); }
  const CommandError& error() const& { assert(!ok()); return std::get<1>(data_); }

 private:
  std::variant<CommandResult, CommandError> data_;
};

}  // namespace eventcore
