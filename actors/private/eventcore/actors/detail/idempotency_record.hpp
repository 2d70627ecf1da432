#pragma once

// Idempotency: a command with key K also appends one event to the stream
// "$idempotency-K", expecting no_stream, in the same atomic append as its
// domain events. A second execution with K (or a retry after an ambiguous
// outcome, where the first append did commit) finds that stream non-empty
// during prepare and returns the recorded result without writing.

#include <optional>
#include <string>
#include <vector>

#include "eventcore/actors/command_result.hpp"
#include "eventcore/store/event.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

inline constexpr std::string_view idempotency_stream_prefix = "$idempotency-";
inline constexpr std::string_view idempotency_event_type = "$CommandRecorded";

struct IdempotencyRecord {
  std::string command;
  std::vector<std::pair<std::string, std::uint64_t>> stream_versions;  // after the command
  std::vector<EventId> event_ids;                                      // in emit order
  std::string fingerprint;  // the command the key was used with (empty in records from before it was kept)
};

// What an idempotency key promises: the command's type, its declared streams
// (sorted) and the caller's fingerprint.
std::string key_fingerprint(const std::string& command, std::vector<StreamId> streams, const std::string& extra);

Result<StreamId> idempotency_stream(const std::string& key);
EventToWrite encode_record(const IdempotencyRecord& record);
Result<IdempotencyRecord> decode_record(const StoredEvent& event);

// The positions of the record's events, in emit order, read back from the
// store: the last event_ids.size() events of each recorded stream at most.
Result<std::vector<GlobalPosition>> recorded_positions(EventStore& store, const IdempotencyRecord& record);

}  // namespace eventcore::detail
