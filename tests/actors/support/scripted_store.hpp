#pragma once

// An EventStore for simulations: a MemoryStore plus scripted faults, a way
// for "another process" to write, and a record of what the runtime asked.
// Used under the deterministic scheduler (one thread) only.

#include <deque>
#include <functional>
#include <vector>

#include "eventcore/store/memory_store.hpp"

namespace eventcore::testing {

class ScriptedStore final : public EventStore {
 public:
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
  Result<ReadAllPage> read_all(GlobalPosition after, std::size_t max_count, const EventFilter& filter) override {
    return inner.read_all(after, max_count, filter);
  }
  Result<StreamVersion> stream_version(const StreamId& stream) override { return inner.stream_version(stream); }
  Result<std::vector<StreamInfo>> list_streams(std::string_view prefix, std::string_view after,
                                               std::size_t max_count) override {
    return inner.list_streams(prefix, after, max_count);
  }
  Result<StoreTotals> totals() override { return inner.totals(); }
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
  Result<std::uint64_t> expire_command_records(std::chrono::seconds older_than) override {
    return inner.expire_command_records(older_than);
  }

  // A write by another process: bypasses the runtime and its caches.
  void foreign_append(const StreamId& stream, EventToWrite event) {
    AppendRequest request{{StreamWrite{stream, ExpectedVersion::any(), {std::move(event)}}}};
    (void)inner.append(request);
  }

  // How far the store's clock (recorded_at, record expiry) runs ahead of
  // the system clock: a test moves it to age records.
  std::chrono::microseconds clock_ahead{0};
  MemoryStore inner{StoreLimits{}, [this] {
                      return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()) +
                             clock_ahead;
                    }};
};

}  // namespace eventcore::testing
