// The simulation harness itself: determinism (same seed, same trace hash,
// in one process and across two), the simulated store's faults, and that a
// broken invariant is reported with its seed and a replay command.

#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "eventcore/actors/logging.hpp"
#include "eventcore/sim_examples/workloads.hpp"
#include "eventcore/simulation/simulator.hpp"

using namespace eventcore;
using namespace eventcore::simulation;

namespace {

struct QuietLogs {
  QuietLogs() { configure_logging(LogConfig{LogFormat::text, LogLevel::off}); }
};
const QuietLogs quiet;

RunReport run(const std::string& workload, std::uint64_t seed, FaultRates faults = FaultRates::defaults(),
              std::size_t steps = 150) {
  RunOptions options;
  options.seed = seed;
  options.steps = steps;
  options.faults = faults;
  return run_simulation([&] { return sim_examples::make_workload(workload); }, options);
}

std::string run_process(const std::string& args) {
  std::string out;
  FILE* pipe = popen((std::string(EVENTCORE_SIM_PATH) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  pclose(pipe);
  return out;
}

}  // namespace

TEST_CASE("the same seed replays the same run, byte for byte", "[simulation]") {
  for (std::uint64_t seed : {1u, 7u, 12345u}) {
    auto a = run("mixed", seed);
    auto b = run("mixed", seed);
    INFO("seed " << seed);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.trace_lines == b.trace_lines);
    CHECK(a.events == b.events);
    CHECK(a.scheduler_steps == b.scheduler_steps);
  }
}

TEST_CASE("different seeds explore different runs", "[simulation]") {
  // The traces without their first line, which names the seed: a hash of the
  // whole trace would differ by that line alone.
  auto trace_after_seed = [](std::uint64_t seed) {
    RunOptions options;
    options.seed = seed;
    options.steps = 150;
    options.full_trace = true;
    auto report = run_simulation([] { return sim_examples::make_workload("mixed"); }, options);
    REQUIRE(report.trace.size() > 1);
    REQUIRE_THAT(report.trace.front(), Catch::Contains("seed=" + std::to_string(seed)));
    return std::vector<std::string>(report.trace.begin() + 1, report.trace.end());
  };
  CHECK(trace_after_seed(1) != trace_after_seed(2));
}

TEST_CASE("two processes running one seed print the same trace hash", "[simulation]") {
  auto hash_of = [](const std::string& out) {
    auto at = out.find("trace hash: ");
    REQUIRE(at != std::string::npos);
    return out.substr(at, 28);
  };
  const auto first = run_process("--seed 4242 --steps 120");
  const auto second = run_process("--seed 4242 --steps 120");
  INFO(first);
  CHECK(hash_of(first) == hash_of(second));
  CHECK(first == second);
}

TEST_CASE("every workload passes its invariants under faults", "[simulation]") {
  for (const char* workload : {"bank", "orders", "mixed"})
    for (std::uint64_t seed = 100; seed < 110; ++seed) {
      auto report = run(workload, seed);
      INFO(workload << " seed " << seed << ": " << (report.ok() ? "" : describe_failure(report, "-")));
      CHECK(report.ok());
      CHECK(report.events > 0);
    }
}

TEST_CASE("the fault mix really injects every kind of fault", "[simulation]") {
  SimulatedStore::Stats total;
  std::size_t crashes = 0, ambiguous_answers = 0;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    auto report = run("mixed", seed);
    REQUIRE(report.ok());
    total.conflicts += report.store.conflicts;
    total.transient_appends += report.store.transient_appends;
    total.transient_reads += report.store.transient_reads;
    total.ambiguous += report.store.ambiguous;
    total.foreign_writes += report.store.foreign_writes;
    crashes += report.crashes;
    ambiguous_answers += report.submissions - report.commands;
  }
  CHECK(total.conflicts > 0);
  CHECK(total.transient_appends > 0);
  CHECK(total.transient_reads > 0);
  CHECK(total.ambiguous > 0);
  CHECK(total.foreign_writes > 0);
  CHECK(crashes > 0);
  CHECK(ambiguous_answers > 0);  // the client resubmitted after unavailable or a lost coordinator
}

TEST_CASE("without faults nothing fails but the domain's rejections", "[simulation]") {
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    auto report = run("mixed", seed, FaultRates::none());
    CHECK(report.ok());
    CHECK(report.failed == 0);
    CHECK(report.ambiguous == 0);
    CHECK(report.store.conflicts == 0);
  }
}

namespace {
// A workload whose domain check always fails: the harness must report it.
class Broken final : public Workload {
 public:
  std::string name() const override { return "broken"; }
  CommandSpec next_command(std::uint64_t id, SimRandom& rng) override { return inner_->next_command(id, rng); }
  std::optional<CommandSpec> initial_command(std::uint64_t id, SimRandom& rng) override {
    return inner_->initial_command(id, rng);
  }
  void setup(SimRandom& rng) override { inner_->setup(rng); }
  void check(const RunView& run, Checker& check) const override {
    if (!run.log.empty()) check.fail("the planted invariant", "always fails");
  }
  std::unique_ptr<Workload> inner_ = sim_examples::make_bank_workload();
};
}  // namespace

TEST_CASE("a broken invariant is reported with the seed, a trace tail and the replay command", "[simulation]") {
  RunOptions options;
  options.seed = 9;
  options.steps = 20;
  auto report = run_simulation([] { return std::make_unique<Broken>(); }, options);
  REQUIRE_FALSE(report.ok());
  CHECK(report.violations.front().invariant == "the planted invariant");
  CHECK(report.trace.size() <= options.trace_tail);
  const auto text = describe_failure(report, "eventcore-sim --seed 9");
  CHECK(text.find("FAIL seed=9") != std::string::npos);
  CHECK(text.find("replay: eventcore-sim --seed 9") != std::string::npos);
  CHECK(text.find("trace hash: ") != std::string::npos);
}

TEST_CASE("fault specs parse", "[simulation]") {
  auto f = FaultRates::parse("none,transient=0.5,crash_coordinator=0.1");
  REQUIRE(f.ok());
  CHECK(f->transient == 0.5);
  CHECK(f->crash_coordinator == 0.1);
  CHECK(f->ambiguous == 0);
  auto again = FaultRates::parse(f->str());
  REQUIRE(again.ok());
  CHECK(again->str() == f->str());
  CHECK_FALSE(FaultRates::parse("transient=x").ok());
  CHECK_FALSE(FaultRates::parse("meteor=1").ok());
  // Rates are probabilities; the delay is bounded (1e300 ms was an undefined cast).
  for (const char* bad : {"transient=nan", "transient=inf", "transient=2", "latency=-0.1", "max_latency_ms=1e300",
                          "max_latency_ms=nan"}) {
    INFO(bad);
    CHECK_FALSE(FaultRates::parse(bad).ok());
  }
  CHECK(FaultRates::parse("max_latency_ms=3600000,transient=1").ok());
}

TEST_CASE("eventcore-sim refuses bad arguments with exit status 2 and says which", "[simulation]") {
  const std::pair<const char*, const char*> cases[] = {
      {"--seed 1 --steps -1", "--steps"},       // wrapped to 2^64-1 and hung
      {"--seed -1", "--seed"},                  // became 2^64-1
      {"--seeds 5..2", "A <= B"},
      {"--seed 1 --faults transient=nan", "transient"},
      {"--seed 1 --workload nope", "--workload"},
      {"", "--seed N or --seeds A..B"},
  };
  for (const auto& [args, says] : cases) {
    INFO(args);
    const std::string command = std::string(EVENTCORE_SIM_PATH) + " " + args + " > /dev/null 2>&1";
    const int status = std::system(command.c_str());
    CHECK(WEXITSTATUS(status) == 2);
    CHECK(run_process(args).find(says) != std::string::npos);
  }
}
