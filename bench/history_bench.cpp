// history_bench: what a command costs on streams that already hold history,
// and what a runtime holding many long streams costs in memory. JSON lines
// (report.hpp) on stdout, progress on stderr. Cases (--cases picks some by
// prefix, --list shows them):
//
//   history_mem_hNk  2-stream transfers (one event per stream, PerStream
//                    state) on 8 pairs of streams that hold H events each
//                    before the run, 64 clients, in memory; baseline: the
//                    same on empty streams (H = 0), alternating in this
//                    process. H = 1,000 (1k) and 100,000 (100k).
//   history_pg_hNk   the same on PostgreSQL (durable), H = 1,000 and 100,000.
//   live_streams_rss RSS of a runtime holding 10,000 live streams of 1,000
//                    events each (10M events), above the same runtime empty.
//   live_transfers_rss RSS of a runtime after 1,000,000 transfers among
//                    10,000 live streams (pseudo-random pairs), against the
//                    same after single-stream commands writing as many events.
//   cold_start_mem   the first command on a stream of 1,000,000 events after
//   cold_start_pg    a restart (a new runtime), p50 over restarts, with a
//                    snapshotted state; baseline: the same state without
//                    snapshots (a fold of the whole stream).
//
// The streams keep growing during a run (every transfer adds an event to
// two of them); the preloaded history is what differs between the sides.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <unordered_map>

#include <CLI/CLI.hpp>

#include "bench_domain.hpp"
#include "chains.hpp"
#include "eventcore/actors/command_executor.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "harness.hpp"
#include "raw_pg.hpp"
#include "report.hpp"
#include "selection.hpp"

namespace eventcore::bench {
namespace {

// Moves a unit from one stream to the other: reads both streams' states.
struct Move {
  using Event = BenchEvent;
  using State = PerStream<Count>;
  static constexpr std::string_view command_type = "Move";
  StreamId from, to;
  std::vector<StreamId> streams() const { return {from, to}; }
  Decision<Event> handle(const State& state) const {
    return {{from, Recorded{-static_cast<std::int64_t>(state[from].events)}},
            {to, Recorded{static_cast<std::int64_t>(state[to].events)}}};
  }
};

struct SnapshotCount : Count {
  static constexpr std::string_view snapshot_type = "bench.Count";
  static constexpr std::uint32_t snapshot_schema = 1;
  template <class Archive> void serialize(Archive& ar) { ar(events); }
};

// Reads one stream's state and writes nothing.
template <class S = Count>
struct Peek {
  using Event = BenchEvent;
  using State = PerStream<S>;
  static constexpr std::string_view command_type = "Peek";
  StreamId stream;
  std::vector<StreamId> streams() const { return {stream}; }
  Decision<Event> handle(const State& state) const {
    if (state[stream].events == 0) return reject("stream '" + stream.str() + "' is empty");
    return std::vector<Emit<Event>>{};
  }
};

StreamId sid(const std::string& s) { return StreamId::try_new(s).value(); }

constexpr int kPairs = 8;
constexpr int kClients = 64;

struct Config {
  double seconds = 5;
  int reps = 3;
  std::string database_url;
};

// 2 * kPairs streams named after `run`, each given `history` events.
std::vector<StreamId> preload(EventStore& store, const std::string& run, std::uint64_t history) {
  std::vector<StreamId> streams;
  for (int i = 0; i < 2 * kPairs; ++i) streams.push_back(sid("hb-" + run + "-" + std::to_string(i)));
  const auto event = EventCodec<BenchEvent>::encode(Recorded{1});
  constexpr std::uint64_t batch = 1000;
  std::uint64_t written = 0;
  for (const auto& stream : streams)
    for (std::uint64_t version = 0; version < history;) {
      StreamWrite write{stream, ExpectedVersion::exact(StreamVersion{version}), {}};
      for (std::uint64_t i = 0; i < batch && version + i < history; ++i) {
        auto e = event;
        e.id = EventId::generate();
        write.events.push_back(std::move(e));
      }
      version += write.events.size();
      written += write.events.size();
      if (auto r = store.append(AppendRequest{{std::move(write)}}); !r)
        throw std::runtime_error("preloading failed: " + to_string(r.error()));
      if (written % 200'000 == 0)
        std::cerr << "[bench] preloading: " << with_commas(static_cast<double>(written)) << " of "
                  << with_commas(static_cast<double>(history * streams.size())) << " events" << std::endl;
    }
  return streams;
}

RunStats run_transfers(std::shared_ptr<EventStore> store, const std::vector<StreamId>& streams, IoMode io,
                       double seconds) {
  RuntimeConfig config;
  config.io_mode = io;
  auto executor = CommandExecutor::builder().with_store(std::move(store)).with_config(config).build().value();
  // The first command on each stream loads its history: that is the cold
  // start (another figure), made here before the clock starts.
  const auto load_started = Clock::now();
  for (std::size_t pair = 0; pair < kPairs; ++pair)
    if (auto r = executor.execute_sync(Move{streams[2 * pair], streams[2 * pair + 1]}); !r)
      throw std::runtime_error("loading the streams failed: " + to_string(r.error()));
  std::cerr << "[bench] streams loaded in " << std::chrono::duration<double>(Clock::now() - load_started).count()
            << " s" << std::endl;
  auto stats = run_chains(
      executor, kClients,
      [&](int client, std::uint64_t n) {
        const auto pair = static_cast<std::size_t>(client % kPairs);
        const auto& a = streams[2 * pair];
        const auto& b = streams[2 * pair + 1];
        return make_job(n % 2 ? Move{a, b} : Move{b, a});
      },
      {seconds, 0.3, 2});
  executor.shutdown();
  return stats;
}

std::string unique_run() { return EventId::generate().str().substr(24); }

void history_case(const std::string& name, std::shared_ptr<EventStore> base_store, std::shared_ptr<EventStore> store,
                  std::uint64_t history, IoMode io, const Config& cfg) {
  std::cerr << "[bench] " << name << ": preloading " << 2 * kPairs << " streams with "
            << with_commas(static_cast<double>(history)) << " events each" << std::endl;
  const auto streams = preload(*store, unique_run(), history);
  Side baseline{"history_0", [&] { return run_transfers(base_store, preload(*base_store, unique_run(), 0), io, cfg.seconds); }};
  Side subject{"history_" + std::to_string(history), [&] { return run_transfers(store, streams, io, cfg.seconds); }};
  auto c = alternate(name, cfg.reps, baseline, subject, false, "commands/s");
  CaseReport report{name, "two_stream_transfers_on_long_streams", "commands/s", kClients,
                    "the same transfers on streams with no history (H = 0)"};
  report.target_ratio = 0.9;
  report.extra["history"] = history;
  report.extra["pairs"] = kPairs;
  emit(report, c);
}

// ---- memory ----------------------------------------------------------------

// The parts of a benchmark's store that the runtime does not use here: no
// listing, no totals, no snapshots kept, no command records.
class BenchStore : public EventStore {
 public:
  bool blocking() const override { return false; }
  Result<ReadAllPage> read_all(GlobalPosition after, std::size_t, const EventFilter&) override {
    return ReadAllPage{{}, after};
  }
  Result<std::vector<StreamInfo>> list_streams(std::string_view, std::string_view, std::size_t) override {
    return Error{ErrorCode::failed, "a benchmark store lists no streams"};
  }
  Result<StoreTotals> totals() override { return Error{ErrorCode::failed, "a benchmark store has no totals"}; }
  Result<std::optional<Snapshot>> load_snapshot(const StreamId&, std::string_view, std::uint32_t) override {
    return std::optional<Snapshot>{};
  }
  Status save_snapshot(const Snapshot&) override { return {}; }
  Result<std::optional<CommandRecord>> load_command_record(std::string_view) override {
    return std::optional<CommandRecord>{};
  }
  Result<std::uint64_t> expire_command_records(std::chrono::seconds) override { return std::uint64_t{0}; }
};

// Every stream holds `length` events, generated on read: the store itself
// takes no memory, so RSS measures the runtime alone.
class SyntheticStore final : public BenchStore {
 public:
  explicit SyntheticStore(std::uint64_t length) : length_(length), event_(EventCodec<BenchEvent>::encode(Recorded{1})) {}
  // Only the version checks of commands that write nothing (every decision
  // goes to the store, and a Peek's confirms the version it read).
  Result<AppendResult> append(const AppendRequest& request) override {
    AppendResult result;
    for (const auto& write : request.streams) {
      if (!write.events.empty()) return Error{ErrorCode::failed, "the synthetic store is read-only"};
      if (!write.expected.accepts(StreamVersion{length_}))
        return Error{ErrorCode::conflict, "stream '" + write.stream.str() + "' is at version " + std::to_string(length_)};
      result.streams.push_back({write.stream, StreamVersion{length_}});
    }
    return result;
  }
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to) override {
    StreamPage page{{}, StreamVersion{std::max<std::uint64_t>(from.value, 1)}, false};
    const std::uint64_t last = std::min(to.value, length_);
    for (std::uint64_t v = page.next.value; v <= last && page.events.size() < max_count; ++v)
      page.events.push_back(StoredEvent{EventId::generate(), stream, StreamVersion{v}, GlobalPosition{v, 0},
                                        event_.type, event_.payload, {}, {}});
    if (!page.events.empty()) page.next = page.events.back().version.next();
    page.end_of_stream = page.next.value > last;
    return page;
  }
  Result<StreamVersion> stream_version(const StreamId&) override { return StreamVersion{length_}; }

 private:
  std::uint64_t length_;
  EventToWrite event_;
};

double rss_mib() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// How a batch of commands went: how many failed (and the first error), and
// the seconds from the first submission to the last answer.
struct BatchOutcome {
  std::size_t failed = 0;
  std::string first_error;
  double seconds = 0;
};

// Submits job(0) .. job(total - 1) in order, at most 512 in flight, and
// waits for every answer; progress on stderr every `progress_every`.
BatchOutcome run_batch(const CommandExecutor& executor, std::size_t total,
                       const std::function<CommandJobPtr(std::size_t)>& job, const std::string& label,
                       std::size_t progress_every) {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t finished = 0;
  BatchOutcome out;
  auto answered = [&](const ExecuteResult& r) {
    std::lock_guard lock(mutex);
    if (!r.ok() && out.failed++ == 0) out.first_error = to_string(r.error());
    if (++finished % progress_every == 0)
      std::cerr << "[bench] " << label << ": " << finished << " of " << total << " commands" << std::endl;
    done.notify_all();
  };
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < total; ++i) {
    executor.submit(job(i), answered);
    if (i % 512 == 511) {  // bounded in flight
      std::unique_lock lock(mutex);
      done.wait(lock, [&] { return finished + 256 > i; });
    }
  }
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return finished == total; });
  out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

void live_streams_case() {
  constexpr std::size_t streams = 10'000, length = 1'000;
  RuntimeConfig config;
  config.max_live_streams = streams + 100;
  auto executor = CommandExecutor::builder()
                      .with_store(std::make_shared<SyntheticStore>(length))
                      .with_config(config)
                      .build()
                      .value();
  const double empty = rss_mib();
  const auto [failed, first_error, seconds] = run_batch(
      executor, streams, [](std::size_t i) { return make_job(Peek<>{sid("live-" + std::to_string(i))}); },
      "live_streams_rss (loading streams)", 2000);
  const double loaded = rss_mib();
  nlohmann::json line;
  line["bench"] = "live_streams_rss";
  line["metric"] = "rss_above_empty_runtime";
  line["value"] = std::round((loaded - empty) * 10) / 10;
  line["unit"] = "MiB";
  line["baseline"] = "the same runtime before any stream was loaded";
  line["baseline_value"] = std::round(empty * 10) / 10;
  line["streams"] = streams;
  line["events_per_stream"] = length;
  line["load_seconds"] = std::round(seconds * 100) / 100;
  line["failed"] = failed;
  if (!first_error.empty()) line["first_error"] = first_error;
  line["target"] = "<= 256 MiB";
  line["target_met"] = failed == 0 && loaded - empty <= 256;
  std::cout << line.dump() << std::endl;
  executor.shutdown();
}

// Keeps each stream's version only: appends are checked and counted, reads
// find nothing. RSS then measures the runtime, not the log.
class VersionsOnlyStore final : public BenchStore {
 public:
  Result<AppendResult> append(const AppendRequest& request) override {
    std::lock_guard lock(mutex_);
    for (const auto& write : request.streams)
      if (!write.expected.accepts(StreamVersion{versions_[write.stream]}))
        return Error{ErrorCode::conflict, "stream '" + write.stream.str() + "' moved"};
    AppendResult result;
    for (const auto& write : request.streams) {
      auto& version = versions_[write.stream];
      for (std::size_t i = 0; i < write.events.size(); ++i) result.positions.push_back(GlobalPosition{++appends_, 0});
      version += write.events.size();
      result.streams.push_back({write.stream, StreamVersion{version}});
    }
    return result;
  }
  Result<StreamPage> read_stream(const StreamId&, StreamVersion from, std::size_t, StreamVersion) override {
    return StreamPage{{}, from, true};
  }
  Result<StreamVersion> stream_version(const StreamId& stream) override {
    std::lock_guard lock(mutex_);
    const auto it = versions_.find(stream);
    return StreamVersion{it == versions_.end() ? 0 : it->second};
  }

 private:
  std::mutex mutex_;
  std::unordered_map<StreamId, std::uint64_t> versions_;
  std::uint64_t appends_ = 0;
};

// One event on one stream.
struct Bump {
  using Event = BenchEvent;
  using State = PerStream<Count>;
  static constexpr std::string_view command_type = "Bump";
  StreamId stream;
  std::vector<StreamId> streams() const { return {stream}; }
  Decision<Event> handle(const State& state) const {
    return {{stream, Recorded{static_cast<std::int64_t>(state[stream].events)}}};
  }
};

// RSS above the empty runtime (MiB) after `commands` commands over
// `streams` live streams, and the commands' rate: transfers between
// pseudo-random pairs, or single-stream commands writing as many events
// (`transfers` false).
std::pair<double, double> rss_after_commands(std::size_t streams, std::size_t commands, bool transfers) {
  RuntimeConfig config;
  config.max_live_streams = streams + 100;
  auto executor = CommandExecutor::builder()
                      .with_store(std::make_shared<VersionsOnlyStore>())
                      .with_config(config)
                      .build()
                      .value();
  const double empty = rss_mib();
  std::vector<StreamId> ids;
  for (std::size_t i = 0; i < streams; ++i) ids.push_back(sid("lt-" + std::to_string(i)));
  std::uint64_t x = 88172645463325252ULL;  // xorshift: the same pairs every run
  const std::size_t total = transfers ? commands : 2 * commands;
  const auto batch = run_batch(
      executor, total,
      [&](std::size_t) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const auto a = static_cast<std::size_t>(x % streams);
        const auto b = (a + 1 + static_cast<std::size_t>((x >> 32) % (streams - 1))) % streams;
        return transfers ? make_job(Move{ids[a], ids[b]}) : make_job(Bump{ids[a]});
      },
      std::string("live_transfers_rss (") + (transfers ? "transfers" : "single-stream") + ")", 200'000);
  const double loaded = rss_mib();
  executor.shutdown();
  if (batch.failed > 0)
    throw std::runtime_error(std::to_string(batch.failed) + " commands failed, first: " + batch.first_error);
  return {loaded - empty, static_cast<double>(total) / batch.seconds};
}

// What multi-stream commands leave behind in a runtime with many live
// streams (each stream actor monitors the leading actors that acquired it,
// once each), against single-stream commands writing as many events.
void live_transfers_case() {
  constexpr std::size_t streams = 10'000, transfers = 1'000'000;
  const auto [single, single_rate] = rss_after_commands(streams, transfers, false);
  const auto [multi, multi_rate] = rss_after_commands(streams, transfers, true);
  nlohmann::json line;
  line["bench"] = "live_transfers_rss";
  line["metric"] = "rss_above_empty_runtime";
  line["value"] = std::round(multi * 10) / 10;
  line["unit"] = "MiB";
  line["baseline"] = "the same runtime after single-stream commands writing as many events";
  line["baseline_value"] = std::round(single * 10) / 10;
  line["streams"] = streams;
  line["transfers"] = transfers;
  line["extra_bytes_per_transfer"] = std::round((multi - single) * 1024 * 1024 / transfers * 10) / 10;
  line["transfers_per_s"] = std::round(multi_rate);  // 512 in flight at most
  line["single_stream_commands_per_s"] = std::round(single_rate);
  std::cout << line.dump() << std::endl;
}

// ---- cold start --------------------------------------------------------------

// Milliseconds from a new runtime's first command on `stream` to its answer.
template <class S>
double first_command_ms(std::shared_ptr<EventStore> store, const StreamId& stream, IoMode io) {
  RuntimeConfig config;
  config.io_mode = io;
  auto executor = CommandExecutor::builder().with_store(std::move(store)).with_config(config).build().value();
  const auto t0 = Clock::now();
  auto result = executor.execute_sync(Peek<S>{stream});
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  executor.shutdown();
  if (!result) throw std::runtime_error("the first command failed: " + to_string(result.error()));
  return ms;
}

void cold_start_case(const std::string& name, std::shared_ptr<EventStore> store, IoMode io, int restarts) {
  constexpr std::uint64_t length = 1'000'000;
  const auto stream = sid("cold-" + unique_run());
  std::cerr << "[bench] " << name << ": preloading a stream of " << with_commas(length) << " events" << std::endl;
  {
    const auto event = EventCodec<BenchEvent>::encode(Recorded{1});
    for (std::uint64_t version = 0; version < length; version += 1000) {
      StreamWrite write{stream, ExpectedVersion::exact(StreamVersion{version}), {}};
      for (int i = 0; i < 1000; ++i) {
        auto e = event;
        e.id = EventId::generate();
        write.events.push_back(std::move(e));
      }
      if (auto r = store->append(AppendRequest{{std::move(write)}}); !r)
        throw std::runtime_error("preloading failed: " + to_string(r.error()));
      if ((version + 1000) % 200'000 == 0)
        std::cerr << "[bench] preloading: " << with_commas(static_cast<double>(version + 1000)) << " events" << std::endl;
    }
  }
  // A first runtime folds the whole stream once and saves the snapshot.
  std::cerr << "[bench] " << name << ": first load (no snapshot yet): "
            << std::lround(first_command_ms<SnapshotCount>(store, stream, io)) << " ms" << std::endl;
  std::vector<double> with, without;
  for (int r = 0; r < restarts; ++r) {
    with.push_back(first_command_ms<SnapshotCount>(store, stream, io));
    without.push_back(first_command_ms<Count>(store, stream, io));
    std::cerr << "[bench] " << name << " restart " << r + 1 << "/" << restarts << ": " << std::lround(with.back())
              << " ms with the snapshot, " << std::lround(without.back()) << " ms without" << std::endl;
  }
  const double p50 = median(with), baseline = median(without);
  nlohmann::json line;
  line["bench"] = name;
  line["metric"] = "first_command_after_restart_p50";
  line["value"] = std::round(p50 * 100) / 100;
  line["unit"] = "ms";
  line["baseline"] = "the same state without snapshots (a fold of the whole stream)";
  line["baseline_value"] = std::round(baseline * 100) / 100;
  line["ratio"] = baseline > 0 ? std::round(p50 / baseline * 1000) / 1000 : 0;
  line["values"] = with;
  line["baseline_values"] = without;
  line["stream_events"] = length;
  line["restarts"] = restarts;
  line["target"] = "p50 <= 20 ms";
  line["target_met"] = p50 <= 20;
  std::cout << line.dump() << std::endl;
}

}  // namespace
}  // namespace eventcore::bench

int main(int argc, char** argv) {
  using namespace eventcore;
  using namespace eventcore::bench;
  Config cfg;
  if (const char* v = std::getenv("EVENTCORE_BENCH_SECONDS"); v && *v) cfg.seconds = std::atof(v);
  if (const char* v = std::getenv("EVENTCORE_DATABASE_URL")) cfg.database_url = v;
  std::string cases = "history_mem,live_streams,cold_start,history_pg";
  bool list = false;
  CLI::App app{"EventCore: command cost and memory on long-lived streams (JSON lines on stdout)"};
  app.add_option("--cases", cases, "comma-separated case names or prefixes");
  app.add_option("--seconds", cfg.seconds, "seconds per timed run (default: $EVENTCORE_BENCH_SECONDS or 5)");
  app.add_option("--reps", cfg.reps, "runs of each side, alternating; medians are reported")->check(CLI::PositiveNumber);
  app.add_option("--database-url", cfg.database_url, "PostgreSQL (default: $EVENTCORE_DATABASE_URL)");
  app.add_flag("--list", list, "list the cases");
  CLI11_PARSE(app, argc, argv);

  std::vector<NamedCase> all;
  for (std::uint64_t h : {1'000u, 100'000u}) {
    const std::string mem = "history_mem_h" + std::to_string(h / 1000) + "k";
    all.push_back({mem, [&, mem, h] {
                     history_case(mem, std::make_shared<MemoryStore>(), std::make_shared<MemoryStore>(), h,
                                  IoMode::automatic, cfg);
                   },
                   false});
  }
  all.push_back({"live_streams_rss", [] { live_streams_case(); }, false});
  all.push_back({"live_transfers_rss", [] { live_transfers_case(); }, false});
  all.push_back({"cold_start_mem", [&] { cold_start_case("cold_start_mem", std::make_shared<MemoryStore>(), IoMode::automatic, cfg.reps * 2 + 1); }, false});
  for (std::uint64_t h : {1'000u, 100'000u}) {
    const std::string pg = "history_pg_h" + std::to_string(h / 1000) + "k";
    all.push_back({pg, [&, pg, h] {
                     const std::string schema = "hbench_" + std::to_string(::getpid());
                     exec_once(cfg.database_url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
                     auto opened = PostgresStore::open(
                         {.conninfo = cfg.database_url, .schema = schema, .pool_size = 8, .notify = NotifyMode::none});
                     if (!opened) throw std::runtime_error("store unavailable: " + opened.error().message);
                     std::shared_ptr<EventStore> store(std::move(opened).value());
                     history_case(pg, store, store, h, IoMode::detached, cfg);
                     store.reset();
                     exec_once(cfg.database_url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
                   },
                   true});
  }
  all.push_back({"cold_start_pg", [&] {
                   const std::string schema = "cbench_" + std::to_string(::getpid());
                   exec_once(cfg.database_url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
                   auto opened = PostgresStore::open(
                       {.conninfo = cfg.database_url, .schema = schema, .pool_size = 4, .notify = NotifyMode::none});
                   if (!opened) throw std::runtime_error("store unavailable: " + opened.error().message);
                   cold_start_case("cold_start_pg", std::move(opened).value(), IoMode::detached, cfg.reps * 2 + 1);
                   exec_once(cfg.database_url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
                 },
                 true});
  if (list) {
    for (const auto& e : all) std::cout << e.name << "\n";
    return 0;
  }
  const int failures = run_selected(all, cases, !cfg.database_url.empty());
  return failures == 0 ? 0 : 1;
}
