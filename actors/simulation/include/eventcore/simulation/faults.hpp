#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "eventcore/store/result.hpp"

namespace eventcore::simulation {

// The fault rates of a run. Probabilities are per opportunity: per store
// call (transient, ambiguous, foreign), per store call reaching an I/O actor
// (latency), per scheduling of a stream actor, a coordinator or a projection
// actor (crashes), per append (lost wake-up), per checkpoint write.
struct FaultRates {
  double transient = 0;          // an append or stream read fails with unavailable, nothing written
  double ambiguous = 0;          // an append commits but its reply is lost (reported unavailable)
  double foreign = 0;            // a foreign writer appends to one of an append's streams just before it
  double latency = 0;            // a store call is delayed by up to max_latency of simulated time
  std::chrono::milliseconds max_latency{20};
  double crash_stream = 0;       // a stream actor is killed (the registry restarts it on next use)
  double crash_coordinator = 0;  // a write coordinator is killed with its commands (answered as ambiguous)
  double crash_projection = 0;   // a projection actor is killed (the runtime starts it again)
  double lost_wakeup = 0;        // an append's wake-up never reaches the projections (they poll)
  double checkpoint_failure = 0; // saving a projection's checkpoint fails

  static FaultRates none() { return {}; }
  // The CI mix: every fault kind, often enough that a 200-command run meets each several times.
  static FaultRates defaults();

  // "none", "default", or comma-separated name=value pairs applied to the
  // defaults (or to none when the list starts with "none,"):
  //   transient=0.02,ambiguous=0.02,foreign=0.05,latency=0.3,max_latency_ms=20,
  //   crash_stream=0.002,crash_coordinator=0.002,crash_projection=0.01,
  //   lost_wakeup=0.2,checkpoint_failure=0.1
  static Result<FaultRates> parse(std::string_view text);
  // The canonical form parse accepts.
  std::string str() const;
  bool crashes() const noexcept { return crash_stream > 0 || crash_coordinator > 0 || crash_projection > 0; }
};

}  // namespace eventcore::simulation
