#include "eventcore/actors/command.hpp"

#include <algorithm>
#include <cstdlib>
#include <cxxabi.h>

namespace eventcore::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  char* name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : mangled;
  std::free(name);
  return out;
}

const FoldOps* events_fold() {
  using Events = std::vector<StoredEvent>;
  static const FoldOps ops{
      [](const StreamId&) -> std::shared_ptr<void> { return std::make_shared<Events>(); },
      [](void* state, const StoredEvent& event) -> std::optional<Error> {
        static_cast<Events*>(state)->push_back(event);
        return std::nullopt;
      },
      [](const void* state) -> std::shared_ptr<void> { return std::make_shared<Events>(*static_cast<const Events*>(state)); },
  };
  return &ops;
}

std::vector<const StoredEvent*> in_global_order(std::span<const std::vector<StoredEvent>* const> streams) {
  std::vector<const StoredEvent*> events;
  std::size_t total = 0;
  for (const auto* stream : streams) total += stream->size();
  events.reserve(total);
  for (const auto* stream : streams)
    for (const auto& event : *stream) events.push_back(&event);
  // One stream is in order already (no sort, no merge buffer).
  if (streams.size() <= 1) return events;
  // Within a stream, positions already increase with versions; stable_sort
  // keeps that order should a store report equal positions.
  std::stable_sort(events.begin(), events.end(),
                   [](const StoredEvent* a, const StoredEvent* b) { return a->position < b->position; });
  return events;
}

Error missing_fold(const StreamId& stream) {
  return Error{ErrorCode::failed, "the runtime granted stream '" + stream.str() + "' without the state the command needs"};
}

}  // namespace eventcore::detail
