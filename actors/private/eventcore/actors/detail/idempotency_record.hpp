#pragma once

// Idempotency: a command with key K leaves a command record under K
// (AppendRequest::record), written by the store in the same transaction as
// its events, beside the log. Before each attempt the coordinator loads K's
// record: found, the command is answered with what the record says it wrote
// (or refused, when K was used with another command); not found, it runs,
// and should another execution with K commit first, its append fails with
// duplicate_key and it looks again. Records expire after the runtime's
// retention (RuntimeConfig::idempotency_retention).

#include <optional>
#include <string>
#include <vector>

#include "eventcore/actors/command_result.hpp"
#include "eventcore/store/event.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

struct IdempotencyRecord {
  std::string command;
  std::vector<std::pair<std::string, std::uint64_t>> stream_versions;  // after the command
  std::vector<EventId> event_ids;                                      // in emit order
  std::string fingerprint;  // the command the key was used with (empty in records from before it was kept)
};

// What an idempotency key promises: the command's type, its declared streams
// (sorted) and the caller's fingerprint.
std::string key_fingerprint(const std::string& command, std::vector<StreamId> streams, const std::string& extra);

Payload encode_record(const IdempotencyRecord& record);
Result<IdempotencyRecord> decode_record(const CommandRecord& stored);

// The positions of the record's events, in emit order, read back from the
// store: the last event_ids.size() events of each recorded stream at most.
Result<std::vector<GlobalPosition>> recorded_positions(EventStore& store, const IdempotencyRecord& record);

}  // namespace eventcore::detail
