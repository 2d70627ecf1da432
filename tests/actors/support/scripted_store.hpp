#pragma once

// An EventStore for simulations: a MemoryStore plus scripted faults, a way
// for "another process" to write, and a record of what the runtime asked.
// Used under the deterministic scheduler (one thread) only.

#include <deque>
#include <functional>
#include <vector>

#include "eventcore/testing/forwarding_store.hpp"

namespace eventcore::testing {

class ScriptedStore final : public ForwardingStore {
 public:
  ScriptedStore()
      : ForwardingStore(StoreLimits{}, [this] {
          return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()) +
                 clock_ahead;
        }) {}

  // Runs before each append reaches the store (e.g. to make a foreign write).
  std::function<void(const AppendRequest&)> before_append;
  // Errors the next appends return, writing nothing.
  std::deque<Error> fail_next;
  // The next N appends that succeed are reported as lost connections
  // (an ambiguous outcome: the events are in the store).
  int commit_then_fail = 0;

  std::vector<AppendRequest> appends;    // every append, in order
  std::vector<std::size_t> batch_sizes;  // the size of every append_batch
  std::size_t reads = 0;
  std::size_t snapshot_loads = 0, snapshot_saves = 0, record_loads = 0;
  std::vector<std::uint64_t> read_from;  // the `from` of every read_stream
  // How far the store's clock (recorded_at, record expiry) runs ahead of
  // the system clock: a test moves it to age records.
  std::chrono::microseconds clock_ahead{0};

  Result<AppendResult> append(const AppendRequest& request) override {
    appends.push_back(request);
    if (before_append) before_append(request);
    if (!fail_next.empty()) {
      Error error = fail_next.front();
      fail_next.pop_front();
      return error;
    }
    auto result = inner.append(request);
    if (result.ok() && commit_then_fail > 0) {
      --commit_then_fail;
      return Error{ErrorCode::unavailable, "connection lost after commit"};
    }
    return result;
  }
  std::vector<Result<AppendResult>> append_batch(const std::vector<AppendRequest>& requests) override {
    batch_sizes.push_back(requests.size());
    return EventStore::append_batch(requests);
  }
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to) override {
    ++reads;
    read_from.push_back(from.value);
    return inner.read_stream(stream, from, max_count, to);
  }
  Result<std::optional<Snapshot>> load_snapshot(const StreamId& stream, std::string_view type,
                                                std::uint32_t schema) override {
    ++snapshot_loads;
    return inner.load_snapshot(stream, type, schema);
  }
  Status save_snapshot(const Snapshot& snapshot) override {
    ++snapshot_saves;
    return inner.save_snapshot(snapshot);
  }
  Result<std::optional<CommandRecord>> load_command_record(std::string_view key) override {
    ++record_loads;
    return inner.load_command_record(key);
  }
  // EventStore's own wake-ups and backlog, not MemoryStore's: the
  // simulations were written (and their seeds replay) against those.
  std::unique_ptr<AppendWatch> watch_appends(std::function<void()> wake) override {
    return EventStore::watch_appends(std::move(wake));
  }
  Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& filter) override {
    return EventStore::backlog(after, filter);
  }

  // A write by another process: bypasses the runtime and its caches.
  void foreign_append(const StreamId& stream, EventToWrite event) {
    AppendRequest request{{StreamWrite{stream, ExpectedVersion::any(), {std::move(event)}}}};
    (void)inner.append(request);
  }
};

}  // namespace eventcore::testing
