#pragma once

#include <functional>
#include <memory>

#include "eventcore/store/event_store.hpp"

namespace eventcore {

// An EventStore held in this process's memory: the reference semantics for
// tests, simulations and single-process use. Thread-safe; nothing survives
// the process. Global positions are {append number, event number}.
class MemoryStore final : public EventStore {
 public:
  // `clock` stamps recorded_at (default: the system clock); a simulation
  // passes its simulated clock.
  explicit MemoryStore(StoreLimits limits = {}, std::function<Timestamp()> clock = {});
  ~MemoryStore() override;

  bool blocking() const override { return false; }  // never waits on I/O

  Result<AppendResult> append(const AppendRequest& request) override;
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to = StreamVersion{~std::uint64_t{0}}) override;
  Result<ReadAllPage> read_all(GlobalPosition after, std::size_t max_count,
                               const EventFilter& filter = {}) override;
  Result<StreamVersion> stream_version(const StreamId& stream) override;
  Result<std::vector<StreamInfo>> list_streams(std::string_view prefix, std::string_view after,
                                               std::size_t max_count) override;
  Result<StoreTotals> totals() override;
  Result<std::optional<Snapshot>> load_snapshot(const StreamId& stream, std::string_view type,
                                                std::uint32_t schema) override;
  Status save_snapshot(const Snapshot& snapshot) override;
  Result<std::optional<CommandRecord>> load_command_record(std::string_view key) override;
  Result<std::uint64_t> expire_command_records(std::chrono::seconds older_than) override;
  // Wakes after each append, on the appender's thread, once the events are readable.
  std::unique_ptr<AppendWatch> watch_appends(std::function<void()> wake) override;
  Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& filter = {}) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
  StoreLimits limits_;
  std::function<Timestamp()> clock_;
};

}  // namespace eventcore
