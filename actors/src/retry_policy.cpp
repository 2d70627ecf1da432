#include "eventcore/actors/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

namespace eventcore {

RandomSource seeded_random(std::uint64_t seed) {
  auto state = std::make_shared<std::uint64_t>(seed);
  return [state] {  // splitmix64
    std::uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
}

RetryPolicy::RetryPolicy() = default;

RetryPolicy RetryPolicy::none() {
  RetryPolicy p;
  p.backoff_ = Backoff::none;
  p.max_attempts_ = 1;
  return p;
}

RetryPolicy RetryPolicy::fixed(Duration delay, std::size_t max_attempts) {
  RetryPolicy p;
  p.backoff_ = Backoff::fixed;
  p.base_ = delay;
  p.max_attempts_ = std::max<std::size_t>(1, max_attempts);
  return p;
}

RetryPolicy RetryPolicy::exponential(Duration base, double factor, Duration cap, std::size_t max_attempts,
                                     double jitter) {
  RetryPolicy p;
  p.backoff_ = Backoff::exponential;
  p.base_ = base;
  p.factor_ = std::max(1.0, factor);
  p.cap_ = cap;
  p.jitter_ = std::clamp(jitter, 0.0, 1.0);
  p.max_attempts_ = std::max<std::size_t>(1, max_attempts);
  return p;
}

RetryPolicy& RetryPolicy::with_max_attempts(std::size_t max_attempts) {
  max_attempts_ = std::max<std::size_t>(1, max_attempts);
  return *this;
}
RetryPolicy& RetryPolicy::retry_conflicts(bool on) {
  retry_conflicts_ = on;
  return *this;
}
RetryPolicy& RetryPolicy::retry_transient(bool on) {
  retry_transient_ = on;
  return *this;
}

RetryPolicy& RetryPolicy::immediate_first_conflict_retry(bool on) {
  immediate_first_conflict_retry_ = on;
  return *this;
}

RetryPolicy::Duration RetryPolicy::delay_before_retry(RetryReason reason, std::size_t attempt,
                                                      std::uint64_t random_bits) const noexcept {
  if (reason == RetryReason::conflict && attempt == 1 && immediate_first_conflict_retry_) return Duration::zero();
  return delay_after(attempt, random_bits);
}

bool RetryPolicy::should_retry(RetryReason reason, std::size_t attempt) const noexcept {
  if (backoff_ == Backoff::none || attempt >= max_attempts_) return false;
  return reason == RetryReason::conflict ? retry_conflicts_ : retry_transient_;
}

RetryPolicy::Duration RetryPolicy::delay_after(std::size_t attempt, std::uint64_t random_bits) const noexcept {
  switch (backoff_) {
    case Backoff::none: return Duration::zero();
    case Backoff::fixed: return base_;
    case Backoff::exponential: {
      const double exponent = static_cast<double>(attempt == 0 ? 0 : attempt - 1);
      const double raw = static_cast<double>(base_.count()) * std::pow(factor_, exponent);
      const double capped = std::min(raw, static_cast<double>(cap_.count()));
      const double u = static_cast<double>(random_bits >> 11) * 0x1.0p-53;  // [0, 1)
      return Duration(static_cast<Duration::rep>(capped * (1.0 - jitter_ * u)));
    }
  }
  return Duration::zero();
}

}  // namespace eventcore
