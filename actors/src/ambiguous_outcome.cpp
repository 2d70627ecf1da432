#include "eventcore/actors/detail/ambiguous_outcome.hpp"

namespace eventcore::detail {

Result<std::optional<AppendResult>> find_committed(EventStore& store, const AppendRequest& request) {
  AppendResult result;
  bool checked = false;
  for (const auto& write : request.streams) {
    // The runtime appends with exact versions (no_stream is exact 0).
    const std::uint64_t before = write.expected.version().value;
    result.streams.push_back({write.stream, StreamVersion{before + write.events.size()}});
    if (write.events.empty()) continue;
    auto page = store.read_stream(write.stream, StreamVersion{before + 1}, write.events.size(),
                                  StreamVersion{before + write.events.size()});
    if (!page) return std::move(page).error();
    if (page->size() != write.events.size()) {
      if (!checked) return std::optional<AppendResult>{};  // its first stream does not hold them: not committed
      return Error{ErrorCode::failed, "an append is half in the store: stream '" + write.stream.str() +
                                          "' lacks events that the same transaction wrote elsewhere"};
    }
    for (std::size_t i = 0; i < write.events.size(); ++i) {
      if ((*page)[i].id != write.events[i].id) {
        if (!checked && i == 0) return std::optional<AppendResult>{};  // someone else's events are there
        return Error{ErrorCode::failed, "stream '" + write.stream.str() + "' holds other events where an append's were"};
      }
      result.positions.push_back((*page)[i].position);
    }
    checked = true;
  }
  if (!checked) return std::optional<AppendResult>{};  // nothing was to be written
  return std::optional<AppendResult>{std::move(result)};
}

}  // namespace eventcore::detail
