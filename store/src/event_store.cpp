#include "eventcore/store/event_store.hpp"

#include <algorithm>
#include <vector>

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

std::unique_ptr<AppendWatch> EventStore::watch_appends(std::function<void()>) { return nullptr; }

Result<ReadBacklog> EventStore::backlog(GlobalPosition after, const EventFilter& filter) {
  ReadBacklog backlog;
  backlog.head = after;
  const auto now = std::chrono::system_clock::now();
  for (;;) {
    auto page = read_all(after, 10'000, filter);
    if (!page) return page.error();
    if (page->events.empty()) return backlog;
    if (backlog.readable == 0)
      backlog.oldest_ms =
          std::max(0.0, std::chrono::duration<double, std::milli>(now - page->events.front().recorded_at).count());
    backlog.readable += page->events.size();
    backlog.head = page->events.back().position;
    after = page->next;
  }
}

namespace {
// The first value that occurs twice in `values`, or nullptr. Appends are
// small: a sort of pointers beats building a hash set on every call.
template <class T>
const T* first_repeat(std::vector<const T*>& values) {
  if (values.size() < 2) return nullptr;
  if (values.size() <= 8) {
    for (std::size_t i = 1; i < values.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (*values[i] == *values[j]) return values[i];
    return nullptr;
  }
  // Ids from EventId::generate arrive strictly increasing: no repeat, no sort.
  auto less = [](const T* a, const T* b) { return *a < *b; };
  if (std::adjacent_find(values.begin(), values.end(), [](const T* a, const T* b) { return !(*a < *b); }) ==
      values.end())
    return nullptr;
  std::sort(values.begin(), values.end(), less);
  auto it = std::adjacent_find(values.begin(), values.end(), [](const T* a, const T* b) { return *a == *b; });
  return it == values.end() ? nullptr : *it;
}
}  // namespace

Status validate_append(const AppendRequest& request, const StoreLimits& limits) {
  if (request.streams.empty())
    return Error{ErrorCode::invalid_argument, "append names no stream"};
  thread_local std::vector<const StreamId*> streams;
  thread_local std::vector<const EventId*> ids;
  streams.clear();
  ids.clear();
  for (const auto& write : request.streams) {
    streams.push_back(&write.stream);
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
      ids.push_back(&event.id);
    }
  }
  if (const StreamId* twice = first_repeat(streams))
    return Error{ErrorCode::invalid_argument, "stream '" + twice->str() + "' appears twice in one append"};
  if (const EventId* twice = first_repeat(ids))
    return Error{ErrorCode::invalid_argument, "event id " + twice->str() + " appears twice in one append"};
  if (request.record) {
    if (auto status = validate_record_key(request.record->key); !status) return status;
    if (request.record->data.size() > limits.max_payload_bytes)
      return Error{ErrorCode::payload_too_large, "the command record of idempotency key '" + request.record->key +
                                                     "' has " + std::to_string(request.record->data.size()) +
                                                     " bytes, the limit is " + std::to_string(limits.max_payload_bytes)};
  }
  return {};
}

Status validate_record_key(std::string_view key) {
  if (key.empty()) return Error{ErrorCode::invalid_argument, "the idempotency key is empty"};
  if (key.size() > 200)
    return Error{ErrorCode::invalid_argument, "an idempotency key is at most 200 bytes; '" +
                                                  std::string(key.substr(0, 40)) + "...' has " +
                                                  std::to_string(key.size())};
  return {};
}

Status validate_snapshot(const Snapshot& snapshot, const StoreLimits& limits) {
  const std::string where = "snapshot '" + snapshot.type + "' of stream '" + snapshot.stream.str() + "'";
  if (snapshot.type.empty()) return Error{ErrorCode::invalid_argument, "a snapshot of stream '" + snapshot.stream.str() + "' has an empty type"};
  if (snapshot.type.size() > 200)
    return Error{ErrorCode::invalid_argument, "a snapshot type is at most 200 bytes; '" + snapshot.type.substr(0, 40) + "...' has " + std::to_string(snapshot.type.size())};
  if (snapshot.version.value == 0) return Error{ErrorCode::invalid_argument, where + " is at version 0: it must include at least one event"};
  if (snapshot.state.size() > limits.max_payload_bytes)
    return Error{ErrorCode::payload_too_large, where + " has " + std::to_string(snapshot.state.size()) +
                                                   " bytes of state, the limit is " + std::to_string(limits.max_payload_bytes)};
  return {};
}

}  // namespace eventcore
