#pragma once

// An EventStore that hands every call to a MemoryStore (`inner`): a test
// derives from it and overrides only the calls it holds back, fails or
// counts. It says it blocks (EventStore's default), so an executor runs it
// through I/O actors as it would a database; append_batch is EventStore's
// (one append() per request), so an override of append() sees those too.

#include <utility>

#include "eventcore/store/memory_store.hpp"

namespace eventcore::testing {

class ForwardingStore : public EventStore {
 public:
  // `inner` is built from these (MemoryStore's limits and clock).
  template <class... Args>
  explicit ForwardingStore(Args&&... args) : inner(std::forward<Args>(args)...) {}

  Result<AppendResult> append(const AppendRequest& request) override { return inner.append(request); }
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to) override {
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
    return inner.load_snapshot(stream, type, schema);
  }
  Status save_snapshot(const Snapshot& snapshot) override { return inner.save_snapshot(snapshot); }
  Result<std::optional<CommandRecord>> load_command_record(std::string_view key) override {
    return inner.load_command_record(key);
  }
  Result<std::uint64_t> expire_command_records(std::chrono::seconds older_than) override {
    return inner.expire_command_records(older_than);
  }
  std::unique_ptr<AppendWatch> watch_appends(std::function<void()> wake) override {
    return inner.watch_appends(std::move(wake));
  }
  Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& filter) override {
    return inner.backlog(after, filter);
  }

  MemoryStore inner;
};

}  // namespace eventcore::testing
