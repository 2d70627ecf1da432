#include "eventcore/actors/detail/decided_append.hpp"

namespace eventcore::detail {

DecidedAppend decided_append(std::span<const StreamSnapshot> snapshots, JobDecision& decision) {
  DecidedAppend out{std::make_shared<AppendRequest>(), TypedEvents{decision.event_type, std::move(decision.typed), {}}};
  out.request->streams.reserve(snapshots.size());
  out.typed.events.reserve(decision.events.size());
  for (const auto& snap : snapshots) {
    StreamWrite write{snap.stream, ExpectedVersion::exact(snap.version), {}};
    // One stream: every event is its own (no comparisons of ids).
    const bool all = snapshots.size() == 1;
    if (all) write.events.reserve(decision.events.size());
    for (auto& e : decision.events)
      if (all || e.stream == snap.stream) {
        write.events.push_back(std::move(e.event));
        out.typed.events.push_back(e.typed);
      }
#ifdef EVENTCORE_PLANTED_BUG_readonly_unchecked  // simulation test build only
    if (write.events.empty()) write.expected = ExpectedVersion::any();
#endif
    out.request->streams.push_back(std::move(write));
  }
  return out;
}

}  // namespace eventcore::detail
