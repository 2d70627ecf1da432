// eventcore-sim: runs deterministic simulations of the command runtime.
//
//   eventcore-sim --seed 42                  one run; prints its summary and trace hash
//   eventcore-sim --seeds 0..999             many runs; stops at the first failing seed
//   eventcore-sim --seed 42 --trace          one run with its full trace
//   options: --steps N (commands per run, default 200)
//            --faults SPEC (default | none | name=value,... see FaultRates::parse)
//            --workload bank|orders|mixed (default mixed)
//            --keep-going (report every failing seed instead of stopping)
//
// A failing run prints the seed, the broken invariant, the last trace lines
// and the command that replays it. Exit status: 0 when every run passed.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "eventcore/actors/logging.hpp"
#include "eventcore/sim_examples/workloads.hpp"
#include "eventcore/simulation/simulator.hpp"

using namespace eventcore;

namespace {

int usage(const std::string& error) {
  std::cerr << "eventcore-sim: " << error << "\n"
            << "usage: eventcore-sim (--seed N | --seeds A..B) [--steps N] [--faults SPEC] "
               "[--workload bank|orders|mixed] [--trace] [--keep-going]\n";
  return 2;
}

bool parse_u64(const std::string& s, std::uint64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtoull(s.c_str(), &end, 10);
  return *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t first = 0, last = 0, steps = 200;
  bool trace = false, keep_going = false, have_seed = false;
  std::string workload = "mixed", faults_text = "default";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
    if (arg == "--seed") {
      if (!parse_u64(value(), first)) return usage("--seed needs a number");
      last = first;
      have_seed = true;
    } else if (arg == "--seeds") {
      std::string v = value();
      auto dots = v.find("..");
      if (dots == std::string::npos || !parse_u64(v.substr(0, dots), first) || !parse_u64(v.substr(dots + 2), last) ||
          last < first)
        return usage("--seeds needs A..B with A <= B");
      have_seed = true;
    } else if (arg == "--steps") {
      if (!parse_u64(value(), steps)) return usage("--steps needs a number");
    } else if (arg == "--faults") {
      faults_text = value();
    } else if (arg == "--workload") {
      workload = value();
    } else if (arg == "--trace") {
      trace = true;
    } else if (arg == "--keep-going") {
      keep_going = true;
    } else if (arg == "--help" || arg == "-h") {
      usage("help");
      return 0;
    } else {
      return usage("unknown argument '" + arg + "'");
    }
  }
  if (!have_seed) return usage("give --seed N or --seeds A..B");
  auto faults = simulation::FaultRates::parse(faults_text);
  if (!faults) return usage(to_string(faults.error()));
  if (!sim_examples::make_workload(workload)) return usage("unknown workload '" + workload + "'");
  configure_logging(LogConfig{LogFormat::text, LogLevel::off});  // the trace is the log here

  simulation::RunOptions options;
  options.steps = steps;
  options.faults = *faults;
  options.full_trace = trace;
  const simulation::WorkloadFactory factory = [&] { return sim_examples::make_workload(workload); };
  if (!simulation::planted_bug().empty())
    std::cout << "planted bug: " << simulation::planted_bug() << "\n";

  std::size_t runs = 0, failures = 0, commands = 0, submissions = 0, events = 0, steps_total = 0;
  std::uint64_t first_failure = 0;
  const auto started = std::chrono::steady_clock::now();
  for (std::uint64_t seed = first;; ++seed) {
    options.seed = seed;
    auto report = simulation::run_simulation(factory, options);
    ++runs;
    commands += report.commands;
    submissions += report.submissions;
    events += report.events;
    steps_total += report.scheduler_steps;
    char hash[20];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(report.trace_hash));
    if (first == last) {
      if (trace)
        for (const auto& line : report.trace) std::cout << line << "\n";
      std::cout << "seed " << seed << ": " << (report.ok() ? "ok" : "FAIL") << ", " << report.commands
                << " commands (" << report.acknowledged << " ok, " << report.rejected << " rejected, " << report.failed
                << " failed, " << report.ambiguous << " ambiguous), " << report.events << " events, "
                << report.store.conflicts << " conflicts, " << report.crashes << " crashes, "
                << report.scheduler_steps << " scheduler steps, "
                << std::chrono::duration<double>(report.simulated_time).count() << " s simulated\n"
                << "trace hash: " << hash << "\n";
    }
    if (!report.ok()) {
      if (failures++ == 0) first_failure = seed;
      const std::string replay = std::string(argv[0]) + " --seed " + std::to_string(seed) + " --steps " +
                                 std::to_string(steps) + " --workload " + workload + " --faults '" +
                                 options.faults.str() + "' --trace";
      std::cout << simulation::describe_failure(report, replay) << std::flush;
      if (!keep_going) break;
    }
    if (seed == last) break;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (first != last || failures > 0) {
    std::cout << "seeds " << first << ".." << last << ": " << runs << " run(s), " << failures << " failure(s)";
    if (failures > 0) std::cout << ", first failing seed " << first_failure << " (after " << first_failure - first + 1 << " seeds)";
    std::cout << "; " << commands << " commands, " << submissions << " submissions, " << events << " events, "
              << steps_total << " scheduler steps in " << wall << " s wall: "
              << static_cast<long>(static_cast<double>(commands) / (wall > 0 ? wall : 1)) << " simulated commands/s\n";
  }
  return failures == 0 ? 0 : 1;
}
