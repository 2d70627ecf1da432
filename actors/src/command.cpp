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

std::vector<const StoredEvent*> in_global_order(std::span<const StreamSnapshot> snapshots) {
  std::vector<const StoredEvent*> events;
  std::size_t total = 0;
  for (const auto& snapshot : snapshots) total += snapshot.events ? snapshot.events->size() : 0;
  events.reserve(total);
  for (const auto& snapshot : snapshots)
    if (snapshot.events)
      for (const auto& event : *snapshot.events) events.push_back(&event);
  // One stream is in order already (no sort, no merge buffer).
  if (snapshots.size() <= 1) return events;
  // Within a stream, positions already increase with versions; stable_sort
  // keeps that order should a store report equal positions.
  std::stable_sort(events.begin(), events.end(),
                   [](const StoredEvent* a, const StoredEvent* b) { return a->position < b->position; });
  return events;
}

}  // namespace eventcore::detail
