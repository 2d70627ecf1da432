// store_bench: throughput and latency of the EventCore stores against the
// irreducible cost of the same work (raw SQL through libpq, or a vector under
// a mutex), run alternately in one process. JSON lines on stdout, progress on
// stderr. See docs/PERFORMANCE.md.

#include <cstdlib>
#include <exception>
#include <iostream>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cases.hpp"

namespace {
const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace eventcore::bench;
  Options opts;
  if (const char* v = env("EVENTCORE_DATABASE_URL")) opts.database_url = v;
  if (const char* v = env("EVENTCORE_BENCH_SECONDS")) opts.seconds = std::atof(v);
  if (const char* v = env("EVENTCORE_BENCH_EVENTS")) opts.catchup_events = std::strtoull(v, nullptr, 10);

  std::vector<Case> cases = postgres_cases();
  for (auto& c : memory_cases()) cases.push_back(std::move(c));

  CLI::App app{"EventCore store benchmarks: JSON lines on stdout, progress on stderr"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // scripts/bench.sh --quick
  std::string selection;
  bool list = false;
  std::string notify = "none";
  app.add_option("--cases", selection,
                 "comma-separated case names or prefixes (default: all; 'pg' or 'mem' select a family)");
  app.add_flag("--list", list, "list the cases and exit");
  app.add_option("--database-url", opts.database_url, "PostgreSQL URL (default: $EVENTCORE_DATABASE_URL)");
  app.add_option("--seconds", opts.seconds, "seconds per timed run (default: $EVENTCORE_BENCH_SECONDS or 5)");
  app.add_option("--reps", opts.reps, "runs of each side, alternating; medians are reported")->check(CLI::PositiveNumber);
  app.add_option("--clients", opts.clients, "client threads for the batch, multi-stream and read cases")
      ->check(CLI::PositiveNumber);
  app.add_option("--events", opts.catchup_events, "events in the read_all catch-up log (default: $EVENTCORE_BENCH_EVENTS or 1000000)");
  app.add_option("--page-size", opts.page_size, "read_all page size")->check(CLI::PositiveNumber);
  app.add_option("--payload-bytes", opts.payload_bytes, "bytes of payload per event");
  app.add_option("--memory-max-events", opts.memory_max_events, "cap on the events of one in-memory run (bounds RAM)");
  app.add_option("--notify", notify,
                 "notify mode of the PostgreSQL subject store (pg_append_single_notify_*: the subject's mode, "
                 "per_append when none)")
      ->check(CLI::IsMember({"none", "per_append", "coalesced"}));
  CLI11_PARSE(app, argc, argv);
  opts.notify = notify == "per_append" ? eventcore::NotifyMode::per_append
                : notify == "coalesced" ? eventcore::NotifyMode::coalesced
                                        : eventcore::NotifyMode::none;

  if (list) {
    for (const auto& c : cases) std::cout << c.name << "\t" << c.description << "\n";
    return 0;
  }
  std::vector<std::string> wanted;
  {
    std::stringstream ss(selection);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) wanted.push_back(item);
  }
  auto selected = [&](const Case& c) {
    if (wanted.empty()) return true;
    for (const auto& w : wanted)
      if (c.name.rfind(w, 0) == 0) return true;
    return false;
  };

  int failures = 0, ran = 0;
  for (const auto& c : cases) {
    if (!selected(c)) continue;
    if (c.needs_postgres && opts.database_url.empty()) {
      std::cerr << "[bench] skipping " << c.name << ": no --database-url / EVENTCORE_DATABASE_URL\n";
      continue;
    }
    std::cerr << "[bench] === " << c.name << ": " << c.description << std::endl;
    ++ran;
    try {
      c.run(opts);
    } catch (const std::exception& e) {
      std::cerr << "[bench] " << c.name << " FAILED: " << e.what() << std::endl;
      ++failures;
    }
  }
  if (ran == 0) {
    std::cerr << "[bench] no case selected (see --list)\n";
    return 2;
  }
  return failures == 0 ? 0 : 1;
}
