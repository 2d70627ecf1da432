#pragma once

// Deterministic simulation of the command runtime: every actor of the
// runtime on CAF's test_coordinator, simulated time, one seeded PRNG, a
// SimulatedStore with seeded faults, and invariants checked after the run.
//
//   auto report = simulation::run_simulation(
//       [] { return std::make_unique<MyWorkload>(); },
//       {.seed = 42, .steps = 200, .faults = simulation::FaultRates::defaults()});
//   if (!report.ok()) std::cerr << simulation::describe_failure(report, "my-sim --seed 42");
//
// The same seed (and options) yields the same run, byte for byte: the trace
// hash covers every step and the final log.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/simulation/faults.hpp"
#include "eventcore/simulation/workload.hpp"

namespace eventcore::simulation {

struct RunOptions {
  std::uint64_t seed = 0;
  std::size_t steps = 200;  // commands of the random mix, after the initial ones
  FaultRates faults = FaultRates::defaults();
  std::size_t trace_tail = 24;  // trace lines kept for a failure report
  bool full_trace = false;      // keep every line instead
};

struct RunReport {
  std::uint64_t seed = 0;
  std::vector<Violation> violations;  // empty when every invariant held
  std::uint64_t trace_hash = 0;
  std::vector<std::string> trace;  // the last trace_tail lines (all with full_trace)
  std::size_t trace_lines = 0;

  std::size_t commands = 0, acknowledged = 0, rejected = 0, failed = 0, ambiguous = 0;
  std::size_t submissions = 0, events = 0, scheduler_steps = 0, crashes = 0;
  SimulatedStore::Stats store;
  std::chrono::nanoseconds simulated_time{};

  bool ok() const noexcept { return violations.empty(); }
};

using WorkloadFactory = std::function<std::unique_ptr<Workload>()>;

RunReport run_simulation(const WorkloadFactory& workload, const RunOptions& options);

// "FAIL seed=...: <invariant>: <detail>", the trace tail and the replay command.
std::string describe_failure(const RunReport& report, std::string_view replay_command);

// The bug this build plants (EVENTCORE_PLANTED_BUG), or "" for a normal build.
std::string_view planted_bug();

}  // namespace eventcore::simulation
