#include <catch2/catch.hpp>

#include "eventcore/actors/retry_policy.hpp"

using namespace eventcore;
using namespace std::chrono_literals;

TEST_CASE("exponential backoff grows by the factor, stops at the cap, and jitter only shortens it") {
  auto policy = RetryPolicy::exponential(10ms, 2.0, 100ms, 10, 0.0);
  CHECK(policy.delay_after(1, 0) == 10ms);
  CHECK(policy.delay_after(2, 0) == 20ms);
  CHECK(policy.delay_after(4, 0) == 80ms);
  CHECK(policy.delay_after(5, 0) == 100ms);
  CHECK(policy.delay_after(9, 0) == 100ms);

  auto jittered = RetryPolicy::exponential(10ms, 2.0, 100ms, 10, 0.5);
  auto random = seeded_random(7);
  for (int i = 0; i < 100; ++i) {
    auto d = jittered.delay_after(3, random());
    CHECK(d <= 40ms);
    CHECK(d >= 20ms);
  }
}

TEST_CASE("a seeded random source replays exactly") {
  auto a = seeded_random(99), b = seeded_random(99);
  for (int i = 0; i < 10; ++i) CHECK(a() == b());
}

TEST_CASE("which failures are retried, and how often") {
  auto policy = RetryPolicy::fixed(5ms, 3);
  CHECK(policy.should_retry(RetryReason::conflict, 1));
  CHECK(policy.should_retry(RetryReason::conflict, 2));
  CHECK_FALSE(policy.should_retry(RetryReason::conflict, 3));
  CHECK_FALSE(policy.should_retry(RetryReason::transient, 1));
  policy.retry_transient();
  CHECK(policy.should_retry(RetryReason::transient, 1));
  CHECK(policy.delay_after(2, 12345) == 5ms);
  CHECK_FALSE(RetryPolicy::none().should_retry(RetryReason::conflict, 1));
  CHECK(RetryPolicy().max_attempts() == 5);
}

TEST_CASE("the first retry of a conflict does not wait, later ones and transient ones back off") {
  auto policy = RetryPolicy::exponential(10ms, 2.0, 1s, 5, 0.0).retry_transient();
  CHECK(policy.delay_before_retry(RetryReason::conflict, 1, 0) == 0ms);
  CHECK(policy.delay_before_retry(RetryReason::conflict, 2, 0) == 20ms);
  CHECK(policy.delay_before_retry(RetryReason::transient, 1, 0) == 10ms);
  policy.immediate_first_conflict_retry(false);
  CHECK(policy.delay_before_retry(RetryReason::conflict, 1, 0) == 10ms);
}
