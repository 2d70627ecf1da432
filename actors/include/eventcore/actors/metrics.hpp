#pragma once

// The runtime's counters and histograms. collect() gives them as
// prometheus-cpp metric families (serialize them with your registry's, or
// hand them to an Exposer through a Collectable); render_prometheus() is the
// same in the text format, for an app that serves /metrics without
// prometheus-cpp of its own. One RuntimeMetrics
// per executor (CommandExecutor::metrics()); every method is thread-safe and
// cheap enough for the command path (atomics and a shared lock).

#include <array>
#include <chrono>
#include <atomic>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/retry_policy.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace eventcore {

// A latency histogram with fixed buckets (seconds, 50 us to 10 s).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> bounds{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                 0.005,   0.01,   0.025,   0.1,    1.0,   10.0};
  void observe(std::chrono::nanoseconds d) noexcept;
  // Cumulative counts per bound (Prometheus "le"), then +Inf; the sum in seconds.
  std::array<std::uint64_t, bounds.size() + 1> cumulative() const noexcept;
  double sum_seconds() const noexcept;
  std::uint64_t count() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

class RuntimeMetrics {
 public:
  // One finished command. `outcome` is "ok", "replayed" or a CommandErrorCode
  // name; `timings` are the last attempt's phases.
  void record_command(std::string_view type, std::string_view outcome, const PhaseTimings& timings,
                      std::size_t events_written);
  // A failed attempt that will be tried again.
  void record_retry(RetryReason reason) noexcept;

  std::uint64_t commands(std::string_view type, std::string_view outcome) const;
  std::uint64_t commands_total() const;
  std::uint64_t events_written() const noexcept { return events_written_.load(std::memory_order_relaxed); }
  std::uint64_t retries(RetryReason reason) const noexcept;

  // Every metric in the Prometheus text exposition format (version 0.0.4):
  //   eventcore_commands_total{type="TransferMoney",outcome="ok"} 42
  //   eventcore_events_written_total 84
  //   eventcore_command_retries_total{reason="conflict"} 3
  //   eventcore_command_duration_seconds_bucket{le="0.001"} 40 ... (total)
  //   eventcore_command_phase_seconds_bucket{phase="write",le="0.001"} ...
  std::string render_prometheus() const;
  // The same, as prometheus-cpp metric families (include <prometheus/metric_family.h> to use them).
  std::vector<prometheus::MetricFamily> collect() const;

 private:
  // (type, outcome) ordered, looked up without building strings.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return std::pair<std::string_view, std::string_view>(a.first, a.second) <
             std::pair<std::string_view, std::string_view>(b.first, b.second);
    }
  };
  // Written (a new key) under the unique lock, counted under the shared one:
  // map nodes do not move.
  mutable std::shared_mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::atomic<std::uint64_t>, KeyLess> commands_;
  std::atomic<std::uint64_t> events_written_{0};
  std::array<std::atomic<std::uint64_t>, 2> retries_{};
  LatencyHistogram total_;
  std::array<LatencyHistogram, 4> phases_;  // prepare, reconstruct, handle, write
};

}  // namespace eventcore
