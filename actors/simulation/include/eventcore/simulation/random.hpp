#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "eventcore/actors/retry_policy.hpp"

namespace eventcore::simulation {

// The one source of randomness of a simulation run: splitmix64 from the
// run's seed. Every decision (command mix, faults, scheduling order, retry
// jitter, event ids) draws from it, so a seed replays exactly. Copies share
// one generator. Not thread-safe (a run is single-threaded).
class SimRandom {
 public:
  explicit SimRandom(std::uint64_t seed) : state_(std::make_shared<std::uint64_t>(seed)) {}

  std::uint64_t next() {
    std::uint64_t z = (*state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); 0 when n is 0.
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  bool chance(double p) { return p > 0 && unit() < p; }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[below(items.size())]; }

  // This generator as the runtime's RandomSource (retry jitter).
  RandomSource source() const {
    return [self = *this]() mutable { return self.next(); };
  }

 private:
  std::shared_ptr<std::uint64_t> state_;
};

}  // namespace eventcore::simulation
