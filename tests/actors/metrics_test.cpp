// The runtime's metrics: what is counted, and the Prometheus text it renders.

#include "support/simulation.hpp"

#include "eventcore/actors/metrics.hpp"

#include <string>
#include <thread>
#include <vector>

using namespace eventcore;
using namespace eventcore::testing;

TEST_CASE("every finished command is counted by type and outcome, with its events and retries") {
  Simulation sim;
  REQUIRE(sim.run(AddTo{{sid("m")}, 5}).ok());
  bool injected = false;
  sim.store->before_append = [&](const AppendRequest&) {
    if (injected) return;
    injected = true;
    sim.store->foreign_append(sid("m"), added(1));  // another process: one conflict, then a retry
  };
  REQUIRE(sim.run(AddTo{{sid("m")}, 2}).ok());
  const auto& metrics = *sim.executor->metrics();
  CHECK(metrics.commands_total() == 2);
  CHECK(metrics.events_written() == 2);
  CHECK(metrics.retries(RetryReason::conflict) == 1);
  CHECK(metrics.retries(RetryReason::transient) == 0);
}

TEST_CASE("the metrics render as Prometheus text: counters with labels, cumulative histogram buckets") {
  RuntimeMetrics metrics;
  PhaseTimings t;
  t.total = std::chrono::microseconds(300);
  t.write = std::chrono::microseconds(200);
  metrics.record_command("TransferMoney", "ok", t, 2);
  metrics.record_command("TransferMoney", "validation_failed", t, 0);
  metrics.record_command("Say \"hi\"", "ok", t, 1);
  metrics.record_retry(RetryReason::conflict);
  const std::string text = metrics.render_prometheus();
  CHECK(text.find("# TYPE eventcore_commands_total counter\n") != std::string::npos);
  CHECK(text.find("eventcore_commands_total{type=\"TransferMoney\",outcome=\"ok\"} 1\n") != std::string::npos);
  CHECK(text.find("eventcore_commands_total{type=\"TransferMoney\",outcome=\"validation_failed\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("eventcore_commands_total{type=\"Say \\\"hi\\\"\",outcome=\"ok\"} 1\n") != std::string::npos);
  CHECK(text.find("eventcore_events_written_total 3\n") != std::string::npos);
  CHECK(text.find("eventcore_command_retries_total{reason=\"conflict\"} 1\n") != std::string::npos);
  CHECK(text.find("eventcore_command_duration_seconds_bucket{le=\"0.00025\"} 0\n") != std::string::npos);
  CHECK(text.find("eventcore_command_duration_seconds_bucket{le=\"0.0005\"} 3\n") != std::string::npos);
  CHECK(text.find("eventcore_command_duration_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("eventcore_command_duration_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("eventcore_command_phase_seconds_bucket{phase=\"write\",le=\"0.00025\"} 3\n") != std::string::npos);
  CHECK(metrics.commands("TransferMoney", "ok") == 1);
}

TEST_CASE("counts recorded from many threads at once all add up") {
  RuntimeMetrics metrics;
  PhaseTimings t;
  t.total = std::chrono::microseconds(300);
  t.write = std::chrono::microseconds(200);
  constexpr int threads = 24, per_thread = 500;  // more threads than shards: some share one
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i)
    workers.emplace_back([&, i] {
      for (int n = 0; n < per_thread; ++n) {
        metrics.record_command(i % 2 ? "A" : "B", "ok", t, 2);
        metrics.record_retry(RetryReason::transient);
      }
    });
  for (auto& w : workers) w.join();
  CHECK(metrics.commands_total() == threads * per_thread);
  CHECK(metrics.commands("A", "ok") == threads / 2 * per_thread);
  CHECK(metrics.events_written() == 2u * threads * per_thread);
  CHECK(metrics.retries(RetryReason::transient) == threads * per_thread);
  const std::string text = metrics.render_prometheus();
  CHECK(text.find("eventcore_command_duration_seconds_count " + std::to_string(threads * per_thread) + "\n") !=
        std::string::npos);
  CHECK(text.find("eventcore_command_phase_seconds_bucket{phase=\"write\",le=\"0.00025\"} " +
                  std::to_string(threads * per_thread) + "\n") != std::string::npos);
}
