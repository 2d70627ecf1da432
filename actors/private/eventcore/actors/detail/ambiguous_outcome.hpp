#pragma once

// Exactly once after an ambiguous outcome. An append that failed with
// `unavailable` may have committed (the connection died after the commit).
// Its events' ids were made by the runtime and are written in the same
// transaction as the events, so they are the attempt's execution id: before
// a command is tried again, the runtime reads where that attempt's events
// would be. Found: the attempt committed, and the command is answered with
// what it wrote. Not found: it did not commit yet, and the retry is safe all
// the same, because every attempt expects exact versions of the command's
// declared streams: should the old attempt still commit, the retry conflicts
// (or the old one does), and the check runs again before the next attempt.

#include <optional>

#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

// What `request` wrote if it committed (versions after, positions in request
// order), none if its events are not where they would be.
Result<std::optional<AppendResult>> find_committed(EventStore& store, const AppendRequest& request);

}  // namespace eventcore::detail
