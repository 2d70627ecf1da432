#pragma once

// The runtime's counters and histograms. collect() gives them as
// prometheus-cpp metric families (serialize them with your registry's, or
// hand them to an Exposer through a Collectable); render_prometheus() is the
// same in the text format, for an app that serves /metrics without
// prometheus-cpp of its own. One RuntimeMetrics
// per executor (CommandExecutor::metrics()); every method is thread-safe.
// Recording is cheap enough for the command path: each thread counts into a
// shard of its own (an uncontended lock, no cache line shared with another
// worker); reading sums the shards.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/retry_policy.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace eventcore {

class RuntimeMetrics {
 public:
  // Latency buckets (seconds, 50 us to 10 s), as Prometheus "le" bounds.
  static constexpr double latency_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.1,    1.0,   10.0};

  RuntimeMetrics();
  ~RuntimeMetrics();
  RuntimeMetrics(const RuntimeMetrics&) = delete;
  RuntimeMetrics& operator=(const RuntimeMetrics&) = delete;

  // One finished command. `outcome` is "ok", "replayed" or a CommandErrorCode
  // name; `timings` are the last attempt's phases.
  void record_command(std::string_view type, std::string_view outcome, const PhaseTimings& timings,
                      std::size_t events_written);
  // A failed attempt that will be tried again.
  void record_retry(RetryReason reason);

  std::uint64_t commands(std::string_view type, std::string_view outcome) const;
  std::uint64_t commands_total() const;
  std::uint64_t events_written() const;
  std::uint64_t retries(RetryReason reason) const;

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
  struct Counts;
  struct Shard;
  Counts sum() const;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace eventcore
