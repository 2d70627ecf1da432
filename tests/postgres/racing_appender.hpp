#pragma once

// The worker of the concurrency tests, shared by the threads of one test and
// the processes of another: appends with exact expected versions to a few
// shared streams, re-reading the version and retrying on conflict.

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "eventcore/store/event_store.hpp"

namespace eventcore::testing {

struct RaceOutcome {
  std::vector<EventId> acknowledged;  // events of appends that succeeded
  int conflicts = 0;
  std::string error;  // the first unexpected error, if any
};

// Makes `appends` successful appends, each to one or two of `streams`
// (two-stream appends list them in random order: the store must not deadlock).
inline RaceOutcome race_appends(EventStore& store, const std::vector<StreamId>& streams, int appends,
                                unsigned seed) {
  RaceOutcome outcome;
  std::mt19937 rng(seed);
  for (int done = 0; done < appends;) {
    AppendRequest request;
    const std::size_t first = rng() % streams.size();
    std::vector<std::size_t> picked{first};
    if (streams.size() > 1 && rng() % 3 == 0) picked.push_back((first + 1 + rng() % (streams.size() - 1)) % streams.size());
    for (std::size_t index : picked) {
      auto version = store.stream_version(streams[index]);
      if (!version) {
        outcome.error = to_string(version.error());
        return outcome;
      }
      StreamWrite write{streams[index], ExpectedVersion::exact(*version), {}};
      const int count = 1 + static_cast<int>(rng() % 2);
      for (int i = 0; i < count; ++i)
        write.events.push_back(EventToWrite{EventId::generate(), "Raced", {static_cast<std::uint8_t>(i)}, {}});
      request.streams.push_back(std::move(write));
    }
    auto result = store.append(request);
    if (result) {
      for (const auto& write : request.streams)
        for (const auto& event : write.events) outcome.acknowledged.push_back(event.id);
      ++done;
    } else if (result.error().code == ErrorCode::conflict) {
      ++outcome.conflicts;
    } else {
      outcome.error = to_string(result.error());
      return outcome;
    }
  }
  return outcome;
}

}  // namespace eventcore::testing
