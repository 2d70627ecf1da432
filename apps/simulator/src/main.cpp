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

#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "eventcore/actors/logging.hpp"
#include "eventcore/sim_examples/workloads.hpp"
#include "eventcore/simulation/simulator.hpp"

using namespace eventcore;

int main(int argc, char** argv) {
  std::uint64_t first = 0, last = 0, steps = 200;
  bool trace = false, keep_going = false;
  std::string workload = "mixed", faults_text = "default", seeds;
  CLI::App app{"eventcore-sim: deterministic simulations of the command runtime"};
  auto* seed_option = app.add_option("--seed", first, "one run with this seed")->check(CLI::Validator(
      [](std::string& s) { return s.rfind('-', 0) == 0 ? "a seed is 0 to 2^64-1, not " + s : std::string(); }, "SEED"));
  auto* seeds_option = app.add_option("--seeds", seeds, "runs with seeds A..B (A <= B)");
  seed_option->excludes(seeds_option);
  app.add_option("--steps", steps, "commands per run")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--faults", faults_text, "default | none | name=value,... (rates 0 to 1, max_latency_ms)")
      ->capture_default_str();
  app.add_option("--workload", workload, "bank, orders or mixed")
      ->check(CLI::IsMember({"bank", "orders", "mixed"}))
      ->capture_default_str();
  app.add_flag("--trace", trace, "print the full trace of a single run");
  app.add_flag("--keep-going", keep_going, "report every failing seed instead of stopping at the first");
  try {
    app.parse(argc, argv);
    if (!seed_option->count() && !seeds_option->count())
      throw CLI::ValidationError("--seed", "give --seed N or --seeds A..B");
    if (seeds_option->count()) {
      const auto dots = seeds.find("..");
      auto number = [](std::string_view text, std::uint64_t& out) {
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
        return !text.empty() && error == std::errc{} && end == text.data() + text.size();
      };
      if (dots == std::string::npos || !number(std::string_view(seeds).substr(0, dots), first) ||
          !number(std::string_view(seeds).substr(dots + 2), last) || last < first)
        throw CLI::ValidationError("--seeds", "needs A..B with A <= B, not '" + seeds + "'");
    } else {
      last = first;
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "eventcore-sim: " << e.what() << " (see --help)\n";
    return 2;
  }
  auto faults = simulation::FaultRates::parse(faults_text);
  if (!faults) {
    std::cerr << "eventcore-sim: --faults: " << faults.error().message << "\n";
    return 2;
  }
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
