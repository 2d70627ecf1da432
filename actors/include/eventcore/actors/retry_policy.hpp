#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace eventcore {

// A source of uniformly distributed 64-bit values. Injected (never a global
// RNG) so that a simulation seed replays exactly.
using RandomSource = std::function<std::uint64_t()>;

// A deterministic generator (splitmix64) seeded by the caller. Not thread-safe.
RandomSource seeded_random(std::uint64_t seed);

// Which failures an attempt can end with that a retry might fix.
enum class RetryReason {
  conflict,   // a stream moved (another process wrote it): retried by default
  transient,  // the store was unavailable or timed out: retried only if enabled
};

// When and how soon a failed attempt is tried again. A pure value: the
// runtime asks it, and supplies the random bits for jitter.
class RetryPolicy {
 public:
  using Duration = std::chrono::nanoseconds;

  // Exponential backoff from 10 ms, factor 2, cap 1 s, jitter 0.5, at most 5
  // attempts, conflicts only (the first conflict retry at once).
  RetryPolicy();

  // One attempt; nothing is retried.
  static RetryPolicy none();
  // Up to max_attempts attempts, `delay` apart.
  static RetryPolicy fixed(Duration delay, std::size_t max_attempts);
  // Up to max_attempts attempts; the n-th retry waits min(cap, base * factor^(n-1)),
  // of which a `jitter` fraction (0..1) is random: delay * (1 - jitter * u), u in [0,1).
  static RetryPolicy exponential(Duration base, double factor, Duration cap, std::size_t max_attempts,
                                 double jitter = 0.5);

  RetryPolicy& with_max_attempts(std::size_t max_attempts);
  RetryPolicy& retry_conflicts(bool on = true);
  RetryPolicy& retry_transient(bool on = true);
  // On by default: the first retry after a conflict does not wait. The
  // failed attempt reloaded the streams that moved, so the retry decides on
  // fresh state; the usual conflict between processes or nodes serving the
  // same streams is a stale cache, not a contended stream. Backoff applies
  // from the second retry on, and to transient failures. Off: every retry
  // waits delay_after.
  RetryPolicy& immediate_first_conflict_retry(bool on = true);

  std::size_t max_attempts() const noexcept { return max_attempts_; }

  // Whether attempt number `attempt` (1 for the first), which failed for
  // `reason`, is followed by another.
  bool should_retry(RetryReason reason, std::size_t attempt) const noexcept;

  // How long to wait after failed attempt number `attempt` before the next
  // (the backoff schedule).
  Duration delay_after(std::size_t attempt, std::uint64_t random_bits) const noexcept;
  // The wait the runtime applies: delay_after, except none before the first
  // retry of a conflict (see immediate_first_conflict_retry).
  Duration delay_before_retry(RetryReason reason, std::size_t attempt, std::uint64_t random_bits) const noexcept;

 private:
  enum class Backoff { none, fixed, exponential };
  Backoff backoff_ = Backoff::exponential;
  Duration base_ = std::chrono::milliseconds(10);
  double factor_ = 2.0;
  Duration cap_ = std::chrono::seconds(1);
  double jitter_ = 0.5;
  std::size_t max_attempts_ = 5;
  bool retry_conflicts_ = true;
  bool retry_transient_ = false;
  bool immediate_first_conflict_retry_ = true;
};

}  // namespace eventcore
