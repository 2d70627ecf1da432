// runtime_bench: commands through the actor runtime (CommandExecutor) against
// the same appends made straight to the store, in the JSON line format of
// report.hpp. Cases (--cases picks some, --list shows them):
//
//   mem_single        single-stream commands, in-memory store, each client on a stream of its own
//                     for 1,000 commands (warm stream actors); baseline: MemoryStore::append, no actors
//   mem_single_churn  the same with a fresh stream every 16 commands: every 16th command pays for
//                     spawning a stream actor and loading its stream, and an old one is passivated
//   mem_transfer      2-stream commands (one event per stream), fresh streams every 16, same baseline
//   pg_single_cN    single-stream commands, PostgreSQL (durable), N = 1, 16, 64 commands in flight;
//                   baseline: raw libpq single-statement INSERT per command on N connections
//   pg_transfer_cN  2-stream commands, same baseline with a 2-row INSERT
//
// Each command reads its streams' cached per-stream states (PerStream). Each
// client moves to fresh streams every `stream_length` commands (16 unless a
// case says otherwise), which makes stream actors come and go; the baseline
// writes the same stream pattern. Long-lived streams: history_bench.
// Commands are submitted asynchronously: a client is a chain that submits
// its next command from the previous one's callback.
//
// Tuning experiments (RuntimeConfig of the subject): RUNTIME_BENCH_THREADS
// (scheduler_threads), RUNTIME_BENCH_IO (io_actors), RUNTIME_BENCH_TIMEOUT_MS
// (command_timeout, 0 = none), RUNTIME_BENCH_MAX_LIVE (max_live_streams),
// RUNTIME_BENCH_POOL (the PostgresStore's pool_size, default 8);
// RUNTIME_BENCH_DIRECT=0 (direct_store_calls_when_idle off);
// RUNTIME_BENCH_STREAM_LENGTH (commands per stream, every case);
// RUNTIME_BENCH_MODERATE_POLLS,
// RUNTIME_BENCH_MODERATE_SLEEP_US and RUNTIME_BENCH_RELAXED_SLEEP_US (CAF's
// work-stealing polling); RUNTIME_BENCH_SCHEDULER=sharing (CAF's other
// scheduler: one queue, workers woken through a condition variable).
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <prometheus/metric_family.h>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/actors/metrics.hpp"
#include "eventcore/actors/scheduler_tuning.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "bench_domain.hpp"
#include "chains.hpp"
#include "harness.hpp"
#include "raw_pg.hpp"
#include "report.hpp"
#include "selection.hpp"

namespace eventcore::bench {
namespace {

// Where the subject's commands spent their time: the executor's histograms
// (RuntimeMetrics: the total and each phase), summed over its runs and
// reported as mean microseconds per command, warm-up included.
class PhaseTotals {
 public:
  void add(const RuntimeMetrics& metrics) {
    for (const auto& family : metrics.collect()) {
      const bool total = family.name == "eventcore_command_duration_seconds";
      if (!total && family.name != "eventcore_command_phase_seconds") continue;
      for (const auto& m : family.metric) {
        std::string phase = "total";
        for (const auto& label : m.label)
          if (label.name == "phase") phase = label.value;
        auto& [seconds, count] = sums_[phase];
        seconds += m.histogram.sample_sum;
        count += static_cast<double>(m.histogram.sample_count);
      }
    }
  }
  nlohmann::json means_us() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [phase, sum] : sums_)
      if (sum.second > 0) out[phase] = std::round(sum.first / sum.second * 1e7) / 10;
    return out;
  }

 private:
  std::map<std::string, std::pair<double, double>> sums_;  // phase: seconds, commands
};

// Commands per stream before a client moves on: the case's, unless
// RUNTIME_BENCH_STREAM_LENGTH says otherwise.
std::uint64_t stream_length(std::uint64_t case_default) {
  const char* v = std::getenv("RUNTIME_BENCH_STREAM_LENGTH");
  return v && std::atoll(v) > 0 ? static_cast<std::uint64_t>(std::atoll(v)) : case_default;
}
constexpr std::uint64_t kStreamLength = 16;

// Appends one event to each of its streams (one stream or two).
struct Record {
  using Event = BenchEvent;
  using State = PerStream<Count>;
  static constexpr std::string_view command_type = "Record";
  std::vector<StreamId> targets;
  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State& state) const {
    std::vector<Emit<Event>> out;
    for (const auto& s : targets) out.push_back({s, Recorded{static_cast<std::int64_t>(state[s].events)}});
    return out;
  }
};

StreamId sid(const std::string& s) { return StreamId::try_new(s).value(); }

// The streams of client `c`'s n-th command.
std::vector<StreamId> streams_for(const std::string& run, int c, std::uint64_t n, int width, std::uint64_t length) {
  std::vector<StreamId> out;
  const std::string base = "rb-" + run + "-" + std::to_string(c) + "-" + std::to_string(n / length);
  out.push_back(sid(base + "-a"));
  if (width == 2) out.push_back(sid(base + "-b"));
  return out;
}

struct Config {
  double seconds = 5;
  int reps = 3;
  double warmup_seconds = 0.3;
  std::string database_url;
  IoMode memory_io = IoMode::automatic;  // MemoryStore: cooperative
};

std::string unique_run() { return EventId::generate().str().substr(24); }

RunStats run_chains(const CommandExecutor& executor, int clients, int width, std::uint64_t length, const Config& cfg) {
  const std::string run = unique_run();
  return bench::run_chains(
      executor, clients,
      [&](int client, std::uint64_t n) { return make_job(Record{streams_for(run, client, n, width, length)}); },
      {cfg.seconds, cfg.warmup_seconds, static_cast<std::uint64_t>(width)});
}

// RUNTIME_BENCH_MODERATE_POLLS / RUNTIME_BENCH_MODERATE_SLEEP_US: CAF's
// work-stealing polling after the short spin (configure_scheduler turns it
// off; CAF's defaults are 500 polls, 50 us apart), for experiments. The
// system starts from the runtime's own tuning, with one setting changed.
std::unique_ptr<caf::actor_system> tuned_system() {
  const char* polls = std::getenv("RUNTIME_BENCH_MODERATE_POLLS");
  const char* sleep_us = std::getenv("RUNTIME_BENCH_MODERATE_SLEEP_US");
  const char* relaxed_us = std::getenv("RUNTIME_BENCH_RELAXED_SLEEP_US");
  const char* scheduler = std::getenv("RUNTIME_BENCH_SCHEDULER");
  if (!polls && !sleep_us && !relaxed_us && !scheduler) return nullptr;
  static caf::actor_system_config cfg;
  const char* threads = std::getenv("RUNTIME_BENCH_THREADS");
  configure_scheduler(cfg, threads ? static_cast<std::size_t>(std::atoi(threads)) : 0);
  if (polls) cfg.set("work-stealing.moderate-poll-attempts", static_cast<std::size_t>(std::atoi(polls)));
  if (sleep_us) cfg.set("work-stealing.moderate-sleep-duration", caf::timespan(std::chrono::microseconds(std::atoi(sleep_us))));
  if (relaxed_us) cfg.set("work-stealing.relaxed-sleep-duration", caf::timespan(std::chrono::microseconds(std::atoi(relaxed_us))));
  if (scheduler) cfg.set("scheduler.policy", caf::atom_from_string(scheduler));
  return std::make_unique<caf::actor_system>(cfg);
}

CommandExecutor make_executor(std::shared_ptr<EventStore> store, IoMode io) {
  RuntimeConfig config;
  config.io_mode = io;
  if (const char* v = std::getenv("RUNTIME_BENCH_THREADS")) config.scheduler_threads = std::atoi(v);
  if (const char* v = std::getenv("RUNTIME_BENCH_IO")) config.io_actors = std::atoi(v);
  if (const char* v = std::getenv("RUNTIME_BENCH_MAX_LIVE")) config.max_live_streams = std::atoi(v);
  if (const char* v = std::getenv("RUNTIME_BENCH_TIMEOUT_MS")) config.command_timeout = std::chrono::milliseconds(std::atoi(v));
  if (const char* v = std::getenv("RUNTIME_BENCH_DIRECT")) config.direct_store_calls_when_idle = std::atoi(v) != 0;
  static std::unique_ptr<caf::actor_system> system = tuned_system();
  auto builder = CommandExecutor::builder();
  if (system) builder.with_system(*system);
  return builder.with_store(std::move(store)).with_config(config).build().value();
}

// ---- in-memory ------------------------------------------------------------

// The baseline: the appends a command would make, on one thread, no actors.
class MemoryAppendClient final : public Client {
 public:
  MemoryAppendClient(MemoryStore& store, int width, std::uint64_t length)
      : store_(store), width_(width), length_(length), run_(unique_run()) {}
  std::uint64_t op(std::string& error) override {
    AppendRequest request;
    for (const auto& s : streams_for(run_, 0, n_, width_, length_))
      request.streams.push_back(
          {s, ExpectedVersion::exact(StreamVersion{n_ % length_}),
           {EventCodec<BenchEvent>::encode(Recorded{static_cast<std::int64_t>(n_)}, {})}});
    ++n_;
    auto r = store_.append(request);
    if (!r) error = to_string(r.error());
    return static_cast<std::uint64_t>(width_);
  }

 private:
  MemoryStore& store_;
  int width_;
  std::uint64_t length_;
  std::string run_;
  std::uint64_t n_ = 0;
};

void memory_case(const std::string& name, int width, int clients, std::uint64_t length, const Config& cfg,
                 double target) {
  Side baseline{"memory_store_append", [&] {
                  auto store = std::make_shared<MemoryStore>();
                  std::vector<std::unique_ptr<Client>> cs;
                  cs.push_back(std::make_unique<MemoryAppendClient>(*store, width, length));
                  const double cpu0 = process_cpu_seconds();
                  auto stats = run_clients(cs, cfg.seconds, 100);
                  stats.cpu_seconds = process_cpu_seconds() - cpu0;
                  return stats;
                }};
  PhaseTotals phases;
  Side subject{"runtime", [&] {
                 auto executor = make_executor(std::make_shared<MemoryStore>(), cfg.memory_io);
                 auto stats = run_chains(executor, clients, width, length, cfg);
                 phases.add(*executor.metrics());
                 executor.shutdown();
                 return stats;
               }};
  auto c = alternate(name, cfg.reps, baseline, subject, false, "commands/s");
  CaseReport report{name, width == 1 ? "single_stream_commands" : "two_stream_transfers", "commands/s", clients,
                    "MemoryStore::append on one thread, no actors (ratio = 1 / actor overhead)"};
  if (target > 0) report.target_value = target;
  report.extra["stream_length"] = length;
  report.extra["io_mode"] = cfg.memory_io == IoMode::detached ? "detached" : "cooperative";  // automatic: cooperative
  report.extra["phase_mean_us"] = phases.means_us();
  emit(report, c);
}

// ---- PostgreSQL -----------------------------------------------------------

// One autocommit INSERT of `width` rows per command: the irreducible cost of
// a durable commit of the command's events.
class RawCommandClient final : public Client {
 public:
  RawCommandClient(const std::string& url, const std::string& schema, int id, int width, std::uint64_t length)
      : conn_(url), id_(id), width_(width), length_(length), run_(unique_run()) {
    std::string sql = "INSERT INTO " + schema + ".events (event_id, stream_id, stream_version, event_type, payload) VALUES ";
    for (int r = 0; r < width; ++r) {
      const int n = r * 5;
      sql += std::string(r ? ", " : "") + "($" + std::to_string(n + 1) + "::uuid, $" + std::to_string(n + 2) +
             "::text, $" + std::to_string(n + 3) + "::bigint, $" + std::to_string(n + 4) + "::text, $" +
             std::to_string(n + 5) + "::bytea)";
    }
    conn_.prepare("append", sql);
  }
  std::uint64_t op(std::string& error) override {
    params_.clear();
    ids_.clear();
    const auto streams = streams_for(run_, id_, n_, width_, length_);
    const auto event = EventCodec<BenchEvent>::encode(Recorded{static_cast<std::int64_t>(n_)}, {});
    for (const auto& s : streams) {
      ids_.push_back(EventId::generate());
      params_.binary(ids_.back().bytes().data(), 16);
      params_.text(s.str());
      params_.int8(static_cast<std::int64_t>(n_ % length_ + 1));
      params_.text(event.type);
      params_.binary(event.payload.data(), event.payload.size());
    }
    ++n_;
    payload_keepalive_ = event.payload;
    if (!conn_.run("append", params_, false, error)) return 0;
    return static_cast<std::uint64_t>(width_);
  }

 private:
  RawConnection conn_;
  int id_, width_;
  std::uint64_t length_;
  std::string run_;
  std::uint64_t n_ = 0;
  ParamList params_;
  std::vector<EventId> ids_;
  Payload payload_keepalive_;
};

// The store's connection pool (RUNTIME_BENCH_POOL, default 8).
std::size_t bench_pool_size() {
  const char* v = std::getenv("RUNTIME_BENCH_POOL");
  return v && std::atoi(v) > 0 ? static_cast<std::size_t>(std::atoi(v)) : 8;
}

void postgres_case(const std::string& name, int width, int clients, const Config& cfg) {
  const std::string pid = std::to_string(::getpid());
  const std::string raw_schema = "rbench_raw_" + pid, store_schema = "rbench_rt_" + pid;
  exec_once(cfg.database_url, raw_schema_sql(raw_schema));
  exec_once(cfg.database_url, "DROP SCHEMA IF EXISTS " + store_schema + " CASCADE", true);
  auto opened = PostgresStore::open({.conninfo = cfg.database_url, .schema = store_schema,
                                     .pool_size = bench_pool_size(), .notify = NotifyMode::none});
  if (!opened) throw std::runtime_error("store unavailable: " + opened.error().message);
  std::shared_ptr<EventStore> store(std::move(opened).value());

  Side baseline{"raw_libpq_insert", [&] {
                  std::vector<std::unique_ptr<Client>> cs;
                  for (int c = 0; c < clients; ++c)
                    cs.push_back(std::make_unique<RawCommandClient>(cfg.database_url, raw_schema, c, width, stream_length(kStreamLength)));
                  return run_clients(cs, cfg.seconds, 3);
                }};
  PhaseTotals phases;
  Side subject{"runtime", [&] {
                 auto executor = make_executor(store, IoMode::detached);
                 auto stats = run_chains(executor, clients, width, stream_length(kStreamLength), cfg);
                 phases.add(*executor.metrics());
                 executor.shutdown();
                 return stats;
               }};
  auto c = alternate(name, cfg.reps, baseline, subject, false, "commands/s");
  CaseReport report{name, width == 1 ? "single_stream_commands" : "two_stream_transfers", "commands/s", clients,
                    "raw libpq autocommit INSERT of the command's rows, one per command, same concurrency"};
  if (width == 1 && clients == 64) report.target_ratio = 1.0;
  if (width == 2 && clients == 64) report.target_value = 8000;
  if (clients == 1) {
    // Latency target: the runtime's median at most twice the raw INSERT's.
    auto p50 = [](const std::vector<RunStats>& runs) {
      std::vector<double> v;
      for (const auto& r : runs) v.push_back(r.p50_us);
      return median(v);
    };
    const double ratio = p50(c.baseline) > 0 ? p50(c.subject) / p50(c.baseline) : 0;
    report.extra["p50_ratio"] = std::round(ratio * 1000) / 1000;
    report.extra["p50_target"] = "<= 2x baseline p50";
    report.extra["p50_target_met"] = ratio <= 2.0;
  }
  report.extra["stream_length"] = stream_length(kStreamLength);
  report.extra["durable"] = true;
  report.extra["phase_mean_us"] = phases.means_us();
  emit(report, c);
  store.reset();
  exec_once(cfg.database_url, "DROP SCHEMA IF EXISTS " + raw_schema + " CASCADE; DROP SCHEMA IF EXISTS " +
                                  store_schema + " CASCADE", true);
}

}  // namespace
}  // namespace eventcore::bench

int main(int argc, char** argv) {
  using namespace eventcore::bench;
  Config cfg;
  if (const char* v = std::getenv("EVENTCORE_BENCH_SECONDS"); v && *v) cfg.seconds = std::atof(v);
  if (const char* v = std::getenv("EVENTCORE_DATABASE_URL")) cfg.database_url = v;
  std::string cases = "mem,pg";
  bool list = false, cooperative = false;
  CLI::App app{"EventCore command runtime benchmarks (JSON lines on stdout)"};
  app.add_option("--cases", cases, "comma-separated case names or prefixes (default: mem,pg)");
  app.add_option("--seconds", cfg.seconds, "seconds per timed run (default: $EVENTCORE_BENCH_SECONDS or 5)");
  app.add_option("--reps", cfg.reps, "runs of each side, alternating; medians are reported")->check(CLI::PositiveNumber);
  app.add_option("--database-url", cfg.database_url, "PostgreSQL (default: $EVENTCORE_DATABASE_URL)");
  bool detached = false;
  app.add_flag("--memory-cooperative-io", cooperative, "in-memory cases: store calls on the scheduler (the default for MemoryStore)");
  app.add_flag("--memory-detached-io", detached, "in-memory cases: store calls on detached actors (the default before)");
  app.add_flag("--list", list, "list the cases");
  CLI11_PARSE(app, argc, argv);
  if (cooperative) cfg.memory_io = eventcore::IoMode::cooperative;
  if (detached) cfg.memory_io = eventcore::IoMode::detached;

  std::vector<NamedCase> all = {
      {"mem_single", [&] { memory_case("mem_single", 1, 64, stream_length(1000), cfg, 400'000); }, false},
      {"mem_single_churn", [&] { memory_case("mem_single_churn", 1, 64, stream_length(kStreamLength), cfg, 0); }, false},
      {"mem_transfer", [&] { memory_case("mem_transfer", 2, 64, stream_length(kStreamLength), cfg, 0); }, false},
  };
  for (int width : {1, 2})
    for (int clients : {1, 16, 64}) {
      std::string name = std::string(width == 1 ? "pg_single_c" : "pg_transfer_c") + std::to_string(clients);
      all.push_back({name, [&, name, width, clients] { postgres_case(name, width, clients, cfg); }, true});
    }
  if (list) {
    for (const auto& e : all) std::cout << e.name << "\n";
    return 0;
  }
  const int failures = run_selected(all, cases, !cfg.database_url.empty());
  return failures == 0 ? 0 : 1;
}
