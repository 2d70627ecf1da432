#include "eventcore/store/event_store.hpp"

#include <algorithm>
#include <unordered_set>

namespace eventcore {

bool EventFilter::matches(const StoredEvent& event) const {
  if (!stream_prefix.empty() && !event.stream.starts_with(stream_prefix)) return false;
  if (!types.empty() && std::find(types.begin(), types.end(), event.type) == types.end())
    return false;
  return true;
}

std::vector<Result<AppendResult>> EventStore::append_batch(const std::vector<AppendRequest>& requests) {
  std::vector<Result<AppendResult>> results;
  results.reserve(requests.size());
  for (const auto& request : requests) results.push_back(append(request));
  return results;
}

Status validate_append(const AppendRequest& request, const StoreLimits& limits) {
  if (request.streams.empty())
    return Error{ErrorCode::invalid_argument, "append names no stream"};
  std::unordered_set<StreamId> streams;
  std::unordered_set<EventId> ids;
  for (const auto& write : request.streams) {
    if (!streams.insert(write.stream).second)
      return Error{ErrorCode::invalid_argument,
                   "stream '" + write.stream.str() + "' appears twice in one append"};
    for (const auto& event : write.events) {
      if (event.type.empty())
        return Error{ErrorCode::invalid_argument,
                     "event " + event.id.str() + " for stream '" + write.stream.str() +
                         "' has an empty type"};
      if (event.id.is_nil())
        return Error{ErrorCode::invalid_argument,
                     "event of type '" + event.type + "' for stream '" + write.stream.str() +
                         "' has the nil id"};
      if (event.payload.size() > limits.max_payload_bytes)
        return Error{ErrorCode::payload_too_large,
                     "event " + event.id.str() + " of type '" + event.type + "' for stream '" +
                         write.stream.str() + "' has a payload of " +
                         std::to_string(event.payload.size()) + " bytes, the limit is " +
                         std::to_string(limits.max_payload_bytes)};
      if (!ids.insert(event.id).second)
        return Error{ErrorCode::invalid_argument,
                     "event id " + event.id.str() + " appears twice in one append"};
    }
  }
  return {};
}

}  // namespace eventcore
