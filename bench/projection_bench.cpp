// projection_bench: the projection benchmarks (docs/PERFORMANCE.md, "Projections").
// One JSON line per case on stdout, each against a baseline measured in the same run:
//   proj_catchup             a projection counting events by type over N events (EVENTCORE_BENCH_EVENTS,
//                            default 1,000,000) vs a raw paged SELECT of the same rows through libpq
//   proj_live_lag            commit-to-applied p50/p99 at a steady 5,000 events/s, store notify mode
//                            coalesced (the default) vs a 100 ms poll (how the Rust EventCore follows the log)
//   proj_append_throughput   16 clients appending single events with a projection running (notify
//                            coalesced) vs with no projection and no notifications
//   proj_append_per_append   the same with pg_notify in every append, for reference
//   mem_proj_catchup         the same counting projection over N events of a MemoryStore, through the
//                            runtime, vs a plain loop over read_all counting the same way
//   mem_proj_live_lag        commit-to-applied p50/p99 at 5,000 events/s on a MemoryStore (its wake-up
//                            after each append) vs the same runtime polling every 100 ms
// EVENTCORE_BENCH_SECONDS bounds each timed run; EVENTCORE_DATABASE_URL names the server (the
// mem_ cases need none).

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "eventcore/projections/projection.hpp"
#include "eventcore/store/memory_store.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "harness.hpp"
#include "raw_pg.hpp"
#include "report.hpp"

using namespace eventcore;
using namespace eventcore::bench;
using namespace std::chrono;

namespace {

struct Settings {
  std::string url;
  double seconds = 5;
  int reps = 3;
  std::size_t events = 1'000'000;
  std::size_t page_size = 1000;
  std::size_t catchup_page_size = 10'000;  // the store's largest page: catch-up is about throughput
  int clients = 16;
  double lag_rate = 5000;
  std::chrono::microseconds notify_interval{1000};
  std::vector<std::string> cases;
};

bool wanted(const Settings& s, const std::string& name) {
  if (s.cases.empty()) return true;
  for (const auto& c : s.cases)
    if (name.rfind(c, 0) == 0) return true;
  return false;
}

std::string fresh_schema(const Settings& s, const std::string& hint) {
  const std::string name = "bench_" + hint + "_" + std::to_string(::getpid());
  exec_once(s.url, "DROP SCHEMA IF EXISTS " + name + " CASCADE");
  return name;
}

std::shared_ptr<PostgresStore> open_store(const Settings& s, const std::string& schema, NotifyMode mode,
                                          std::size_t pool) {
  PostgresStoreConfig config;
  config.conninfo = s.url;
  config.schema = schema;
  config.pool_size = pool;
  config.notify = mode;
  config.notify_interval = s.notify_interval;
  config.notify_channel = schema;
  auto store = PostgresStore::open(config);
  if (!store) throw std::runtime_error("PostgresStore::open: " + to_string(store.error()));
  return std::shared_ptr<PostgresStore>(std::move(store).value());
}

class CountByType final : public projections::Projection {
 public:
  void apply(const StoredEvent& e) override {
    ++counts_[e.type];
    total_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t total() const { return total_.load(std::memory_order_acquire); }

 private:
  std::unordered_map<std::string, std::uint64_t> counts_;
  std::atomic<std::uint64_t> total_{0};
};

// ---- catch-up ----------------------------------------------------------------

RunStats raw_catchup(const Settings& s, const std::string& schema) {
  RawConnection conn(s.url);
  // The statement read_all runs, with the same page size, binary results.
  conn.prepare("page",
               "SELECT event_id, stream_id, stream_version, tx_id, position, event_type, payload, correlation_id, "
               "causation_id, user_id, metadata, recorded_at FROM " + schema + ".events "
               "WHERE (tx_id, position) > ($1::text::xid8, $2::bigint) "
               "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx_id, position LIMIT $3::bigint");
  std::unordered_map<std::string, std::uint64_t> counts;
  std::string tx = "0";
  std::int64_t pos = 0;
  std::uint64_t total = 0;
  const auto start = Clock::now();
  for (;;) {
    ParamList p;
    p.text(tx);
    p.int8(pos);
    p.int8(static_cast<std::int64_t>(s.catchup_page_size));
    std::string error;
    auto r = conn.run("page", p, true, error);
    if (!r) throw std::runtime_error("raw page: " + error);
    const int n = PQntuples(r.get());
    for (int i = 0; i < n; ++i) ++counts[std::string(PQgetvalue(r.get(), i, 5), PQgetlength(r.get(), i, 5))];
    total += static_cast<std::uint64_t>(n);
    if (n == 0) break;
    tx = std::to_string(read_int8(PQgetvalue(r.get(), n - 1, 3)));
    pos = read_int8(PQgetvalue(r.get(), n - 1, 4));
  }
  RunStats st;
  st.seconds = duration<double>(Clock::now() - start).count();
  st.ops = 1;
  st.units = total;
  return st;
}

// The whole log through a plain loop over read_all, counting by type as
// CountByType does: what a projection costs without the runtime.
RunStats read_all_loop(EventStore& store, std::size_t page_size) {
  const auto start = Clock::now();
  std::unordered_map<std::string, std::uint64_t> counts;
  std::uint64_t total = 0;
  GlobalPosition at;
  for (;;) {
    auto page = store.read_all(at, page_size);
    if (!page || page->events.empty()) break;
    for (const auto& e : page->events) ++counts[e.type];
    total += page->events.size();
    at = page->next;
  }
  RunStats st;
  st.seconds = duration<double>(Clock::now() - start).count();
  st.ops = 1;
  st.units = total;
  return st;
}

// A projection counting by type through the runtime, from the start of `store`'s log until it holds s.events.
RunStats projection_catchup(const Settings& s, caf::actor_system& sys, std::shared_ptr<EventStore> store, int run) {
  auto runtime = projections::ProjectionRuntime::start(sys, store, projections::ProjectionRuntimeConfig{}).value();
  projections::ProjectionOptions o;
  o.name = "counts_" + std::to_string(run);
  o.page_size = s.catchup_page_size;
  const auto start = Clock::now();
  if (auto st = runtime->add(o, [] { return std::make_unique<CountByType>(); }); !st)
    throw std::runtime_error(to_string(st.error()));
  auto model = std::dynamic_pointer_cast<CountByType>(runtime->instance(o.name));
  const auto deadline = start + seconds(600);
  while (model->total() < s.events && Clock::now() < deadline) std::this_thread::sleep_for(microseconds(200));
  RunStats st;
  st.seconds = duration<double>(Clock::now() - start).count();
  st.ops = 1;
  st.units = model->total();
  st.complete = model->total() == s.events;
  runtime->stop();
  return st;
}

void catchup_case(const Settings& s, caf::actor_system& sys) {
  const std::string schema = fresh_schema(s, "proj_catchup");
  auto store = open_store(s, schema, NotifyMode::none, 2);
  std::cerr << "[proj_catchup] filling " << with_commas(static_cast<double>(s.events)) << " events\n";
  for (std::size_t from = 0; from < s.events; from += 100'000) {
    const std::size_t to = std::min(s.events, from + 100'000) - 1;
    exec_once(s.url, "INSERT INTO " + schema + ".events (event_id, stream_id, stream_version, event_type, payload) "
                     "SELECT gen_random_uuid(), 'stream-' || (g % 10000), g / 10000 + 1, 'Type' || (g % 8), "
                     "decode(repeat('ab', 64), 'hex') FROM generate_series(" + std::to_string(from) + ", " +
                     std::to_string(to) + ") g");
  }
  exec_once(s.url, "VACUUM (ANALYZE) " + schema + ".events");
  int run = 0;
  Side baseline{"raw paged SELECT", [&] { return raw_catchup(s, schema); }};
  Side subject{"projection", [&] { return projection_catchup(s, sys, store, run++); }};
  auto c = alternate("proj_catchup", s.reps, baseline, subject, true, "events/s");
  CaseReport r;
  r.bench = "proj_catchup";
  r.metric = "catchup_throughput";
  r.unit = "events/s";
  r.clients = 1;
  r.baseline = "raw_libpq_paged_select";
  r.per_event = true;
  r.target_ratio = 0.7;
  r.extra["events"] = s.events;
  r.extra["page_size"] = s.catchup_page_size;
  r.extra["target_absolute"] = ">= 200,000 events/s";
  const double value = median([&] {
    std::vector<double> v;
    for (auto& x : c.subject) v.push_back(x.units_per_s());
    return v;
  }());
  r.extra["target_absolute_met"] = value >= 200'000;
  // Where the projection's time goes: the store's read_all alone (decoding into StoredEvent), once.
  r.extra["store_read_all_events_per_s"] = std::round(read_all_loop(*store, s.catchup_page_size).units_per_s());
  emit(r, c);
  store.reset();
  exec_once(s.url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
}

// The catch-up on a MemoryStore: the runtime against a plain read_all loop
// that counts the same way.
void memory_catchup_case(const Settings& s, caf::actor_system& sys) {
  auto store = std::make_shared<MemoryStore>();
  std::cerr << "[mem_proj_catchup] filling " << with_commas(static_cast<double>(s.events)) << " events\n";
  for (std::size_t at = 0; at < s.events;) {
    AppendRequest request;
    const std::size_t n = std::min<std::size_t>(100, s.events - at);
    StreamWrite write{StreamId::try_new("stream-" + std::to_string(at / 100 % 10'000)).value(), ExpectedVersion::any(), {}};
    for (std::size_t k = 0; k < n; ++k, ++at)
      write.events.push_back(EventToWrite{EventId::generate(), "Type" + std::to_string(at % 8), Payload(64, 0xab), {}});
    request.streams.push_back(std::move(write));
    if (auto r = store->append(request); !r) throw std::runtime_error(to_string(r.error()));
  }
  int run = 0;
  Side baseline{"read_all loop", [&] { return read_all_loop(*store, s.catchup_page_size); }};
  Side subject{"projection", [&] { return projection_catchup(s, sys, store, run++); }};
  auto c = alternate("mem_proj_catchup", s.reps, baseline, subject, true, "events/s");
  CaseReport r;
  r.bench = "mem_proj_catchup";
  r.metric = "catchup_throughput";
  r.unit = "events/s";
  r.clients = 1;
  r.baseline = "read_all_loop";
  r.per_event = true;
  r.target_value = 1'000'000;
  r.extra["events"] = s.events;
  r.extra["page_size"] = s.catchup_page_size;
  emit(r, c);
}

// ---- live lag ------------------------------------------------------------------

// Records when each event was applied, by position.
class LagProbe final : public projections::Projection {
 public:
  explicit LagProbe(std::shared_ptr<std::mutex> m, std::shared_ptr<std::map<GlobalPosition, Clock::time_point>> applied)
      : mutex_(std::move(m)), applied_(std::move(applied)) {}
  void apply(const StoredEvent& e) override {
    const auto now = Clock::now();
    std::lock_guard lock(*mutex_);
    applied_->emplace(e.position, now);
  }

 private:
  std::shared_ptr<std::mutex> mutex_;
  std::shared_ptr<std::map<GlobalPosition, Clock::time_point>> applied_;
};

struct LagResult {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::uint64_t samples = 0, missing = 0;
  double rate = 0;
  std::uint64_t notifications = 0;
};

// Appends at lag_rate events/s for s.seconds and measures, per event, the
// time from the append's return to its apply by a projection of `store`.
LagResult measure_lag(const Settings& s, caf::actor_system& sys, const std::shared_ptr<EventStore>& store,
                      const projections::ProjectionRuntimeConfig& rc) {
  auto runtime = projections::ProjectionRuntime::start(sys, store, rc).value();
  auto m = std::make_shared<std::mutex>();
  auto applied = std::make_shared<std::map<GlobalPosition, Clock::time_point>>();
  projections::ProjectionOptions o;
  o.name = "lag";
  o.page_size = s.page_size;
  (void)runtime->add(o, [&] { return std::make_unique<LagProbe>(m, applied); });
  std::this_thread::sleep_for(milliseconds(300));  // LISTEN is in place

  // Open loop: 16 writers, each on a fixed schedule, together lag_rate events/s
  // (enough of them that durable commits keep up with the schedule).
  const int writers = 16;
  const double per_writer = s.lag_rate / writers;
  std::mutex cm;
  std::vector<std::pair<GlobalPosition, Clock::time_point>> committed;
  std::vector<std::thread> threads;
  const auto start = Clock::now() + milliseconds(50);
  const auto end = start + duration_cast<Clock::duration>(duration<double>(s.seconds));
  std::atomic<std::uint64_t> written{0};
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      std::vector<std::pair<GlobalPosition, Clock::time_point>> mine;
      for (std::uint64_t k = 0;; ++k) {
        const auto due = start + duration_cast<Clock::duration>(duration<double>((k + w / double(writers)) / per_writer));
        if (due >= end) break;
        std::this_thread::sleep_until(due);
        AppendRequest req;
        req.streams.push_back(StreamWrite{StreamId::try_new("lag-" + std::to_string(w) + "-" + std::to_string(k % 100)).value(),
                                          ExpectedVersion::any(),
                                          {EventToWrite{EventId::generate(), "LagEvent", Payload(64, 7), {}}}});
        auto r = store->append(req);
        const auto now = Clock::now();
        if (r) {
          mine.emplace_back(r->positions.at(0), now);
          ++written;
        }
      }
      std::lock_guard lock(cm);
      committed.insert(committed.end(), mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  const double elapsed = duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(milliseconds(500));  // let the last ones land
  LagResult res;
  res.rate = static_cast<double>(written) / elapsed;
  std::vector<float> lags;
  {
    std::lock_guard lock(*m);
    for (const auto& [pos, t] : committed) {
      auto it = applied->find(pos);
      if (it == applied->end()) {
        ++res.missing;
        continue;
      }
      lags.push_back(static_cast<float>(std::max(0.0, duration<double, std::milli>(it->second - t).count())));
    }
  }
  res.samples = lags.size();
  if (!lags.empty()) {
    res.max_ms = *std::max_element(lags.begin(), lags.end());
    res.p50_ms = percentile(lags, 0.5);
    res.p99_ms = percentile(lags, 0.99);
  }
  runtime->stop();
  return res;
}

LagResult run_lag(const Settings& s, caf::actor_system& sys, bool coalesced, int run) {
  const std::string schema = fresh_schema(s, "proj_lag" + std::to_string(run));
  auto pg = open_store(s, schema, coalesced ? NotifyMode::coalesced : NotifyMode::none, 8);
  auto rc = projections::ProjectionRuntimeConfig{};
  if (!coalesced) rc.poll_interval = milliseconds(100);  // the polling baseline
  auto res = measure_lag(s, sys, pg, rc);
  res.notifications = pg->notifications_sent();
  pg.reset();
  exec_once(s.url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
  return res;
}

// A MemoryStore seen without its wake-ups: the polling baseline.
class WithoutWakeups final : public EventStore {
 public:
  explicit WithoutWakeups(std::shared_ptr<EventStore> inner) : inner_(std::move(inner)) {}
  bool blocking() const override { return inner_->blocking(); }
  Result<AppendResult> append(const AppendRequest& r) override { return inner_->append(r); }
  Result<StreamPage> read_stream(const StreamId& id, StreamVersion from, std::size_t n, StreamVersion to) override {
    return inner_->read_stream(id, from, n, to);
  }
  Result<ReadAllPage> read_all(GlobalPosition after, std::size_t n, const EventFilter& f) override {
    return inner_->read_all(after, n, f);
  }
  Result<StreamVersion> stream_version(const StreamId& id) override { return inner_->stream_version(id); }
  Result<std::vector<StreamInfo>> list_streams(std::string_view prefix, std::string_view after,
                                               std::size_t max_count) override {
    return inner_->list_streams(prefix, after, max_count);
  }
  Result<StoreTotals> totals() override { return inner_->totals(); }
  Result<std::optional<Snapshot>> load_snapshot(const StreamId& id, std::string_view t, std::uint32_t v) override {
    return inner_->load_snapshot(id, t, v);
  }
  Status save_snapshot(const Snapshot& snapshot) override { return inner_->save_snapshot(snapshot); }
  Result<std::optional<CommandRecord>> load_command_record(std::string_view key) override {
    return inner_->load_command_record(key);
  }
  Result<std::uint64_t> expire_command_records(std::chrono::seconds age) override {
    return inner_->expire_command_records(age);
  }
  Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& f) override { return inner_->backlog(after, f); }

 private:
  std::shared_ptr<EventStore> inner_;
};

LagResult run_memory_lag(const Settings& s, caf::actor_system& sys, bool wakeups) {
  std::shared_ptr<EventStore> store = std::make_shared<MemoryStore>();
  auto rc = projections::ProjectionRuntimeConfig{};
  if (!wakeups) {
    store = std::make_shared<WithoutWakeups>(store);
    rc.poll_interval = milliseconds(100);
  }
  return measure_lag(s, sys, store, rc);
}

// `run(true, n)` is the subject (wake-ups), `run(false, n)` the 100 ms poll; alternated.
void lag_case(const Settings& s, const std::string& bench, double target_p99_ms,
              const std::function<LagResult(bool, int)>& run) {
  std::vector<LagResult> subject, baseline;
  for (int i = 0; i < s.reps; ++i) {
    const bool subject_first = i % 2 == 1;
    for (int k = 0; k < 2; ++k) {
      const bool woken = (k == 0) == subject_first;
      auto r = run(woken, i * 2 + k);
      std::cerr << "[" << bench << "] " << (woken ? "wake-ups" : "poll 100 ms") << ": p50 " << r.p50_ms
                << " ms, p99 " << r.p99_ms << " ms, " << r.samples << " samples, " << r.rate << " events/s\n";
      (woken ? subject : baseline).push_back(r);
    }
  }
  auto med = [](const std::vector<LagResult>& v, auto f) {
    std::vector<double> x;
    for (const auto& r : v) x.push_back(f(r));
    return median(x);
  };
  auto round3 = [](double v) { return std::round(v * 1000) / 1000; };
  const double p99 = med(subject, [](const LagResult& r) { return r.p99_ms; });
  const double base_p99 = med(baseline, [](const LagResult& r) { return r.p99_ms; });
  nlohmann::json line;
  line["bench"] = bench;
  line["metric"] = "commit_to_applied_p99";
  line["value"] = round3(p99);
  line["unit"] = "ms";
  line["clients"] = 16;
  line["baseline"] = "poll_100ms";
  line["baseline_value"] = round3(base_p99);
  line["ratio"] = base_p99 > 0 ? round3(p99 / base_p99) : 0;
  line["p50_ms"] = round3(med(subject, [](const LagResult& r) { return r.p50_ms; }));
  line["baseline_p50_ms"] = round3(med(baseline, [](const LagResult& r) { return r.p50_ms; }));
  line["max_ms"] = round3(med(subject, [](const LagResult& r) { return r.max_ms; }));
  line["append_rate"] = std::round(med(subject, [](const LagResult& r) { return r.rate; }));
  line["target_rate"] = s.lag_rate;
  line["samples"] = med(subject, [](const LagResult& r) { return double(r.samples); });
  line["missing"] = med(subject, [](const LagResult& r) { return double(r.missing); });
  if (bench == "proj_live_lag") {
    line["notifications"] = med(subject, [](const LagResult& r) { return double(r.notifications); });
    line["notify_interval_us"] = s.notify_interval.count();
  }
  line["reps"] = subject.size();
  char target[64];
  std::snprintf(target, sizeof target, "p99 <= %g ms", target_p99_ms);
  line["target"] = target;
  line["target_met"] = p99 <= target_p99_ms;
  line["loadavg_1m"] = load_average();
  std::cout << line.dump() << std::endl;
}

// ---- append throughput with a projection running ------------------------------------

class AppendClient final : public Client {
 public:
  AppendClient(std::shared_ptr<EventStore> store, int id) : store_(std::move(store)), id_(id) {}
  std::uint64_t op(std::string& error) override {
    AppendRequest req;
    req.streams.push_back(StreamWrite{StreamId::try_new("c" + std::to_string(id_) + "-" + std::to_string(n_++ % 50)).value(),
                                      ExpectedVersion::any(),
                                      {EventToWrite{EventId::generate(), "BenchEvent", Payload(64, 1), {}}}});
    auto r = store_->append(req);
    if (!r) {
      error = to_string(r.error());
      return 0;
    }
    return 1;
  }

 private:
  std::shared_ptr<EventStore> store_;
  int id_;
  std::uint64_t n_ = 0;
};

enum class AppendSetup { bare, coalesced_projection, per_append_projection };

RunStats run_append(const Settings& s, caf::actor_system& sys, AppendSetup setup, int run,
                    std::uint64_t* applied_out, std::uint64_t* notifications_out) {
  const std::string schema = fresh_schema(s, "proj_append" + std::to_string(run));
  const NotifyMode mode = setup == AppendSetup::bare                  ? NotifyMode::none
                          : setup == AppendSetup::coalesced_projection ? NotifyMode::coalesced
                                                                       : NotifyMode::per_append;
  auto pg = open_store(s, schema, mode, static_cast<std::size_t>(s.clients));
  std::shared_ptr<EventStore> store = pg;
  std::unique_ptr<projections::ProjectionRuntime> runtime;
  std::shared_ptr<CountByType> model;
  if (setup != AppendSetup::bare) {
    runtime = projections::ProjectionRuntime::start(sys, pg, projections::ProjectionRuntimeConfig{}).value();
    projections::ProjectionOptions o;
    o.name = "counts";
    o.page_size = s.page_size;
    (void)runtime->add(o, [] { return std::make_unique<CountByType>(); });
    model = std::dynamic_pointer_cast<CountByType>(runtime->instance("counts"));
  }
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < s.clients; ++i) clients.push_back(std::make_unique<AppendClient>(store, i));
  auto stats = run_clients(clients, s.seconds, 5);
  if (model) {
    std::this_thread::sleep_for(milliseconds(300));
    if (applied_out) *applied_out = model->total();
  }
  if (notifications_out) *notifications_out = pg->notifications_sent();
  if (runtime) runtime->stop();
  runtime.reset();
  clients.clear();
  store.reset();
  pg.reset();
  exec_once(s.url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
  return stats;
}

void append_case(const Settings& s, caf::actor_system& sys, bool per_append) {
  int run = 0;
  std::uint64_t applied = 0, notifications = 0;
  Side baseline{"no projection, notify none", [&] { return run_append(s, sys, AppendSetup::bare, run++, nullptr, nullptr); }};
  Side subject{per_append ? "projection, notify per_append" : "projection, notify coalesced", [&] {
                 return run_append(s, sys, per_append ? AppendSetup::per_append_projection : AppendSetup::coalesced_projection,
                                   run++, &applied, &notifications);
               }};
  const std::string name = per_append ? "proj_append_per_append" : "proj_append_throughput";
  auto c = alternate(name, s.reps, baseline, subject, false, "tx/s");
  CaseReport r;
  r.bench = name;
  r.metric = "append_throughput";
  r.unit = "tx/s";
  r.clients = s.clients;
  r.baseline = "no_projection_notify_none";
  if (!per_append) r.target_ratio = 0.9;
  r.extra["notify"] = per_append ? "per_append" : "coalesced";
  if (!per_append) {
    r.extra["notify_interval_us"] = s.notify_interval.count();
    r.extra["notifications_last_run"] = notifications;
  }
  r.extra["projection_applied_last_run"] = applied;
  emit(r, c);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  if (const char* v = std::getenv("EVENTCORE_DATABASE_URL")) s.url = v;
  if (const char* v = std::getenv("EVENTCORE_BENCH_SECONDS")) s.seconds = std::atof(v);
  if (const char* v = std::getenv("EVENTCORE_BENCH_EVENTS")) s.events = std::strtoull(v, nullptr, 10);
  std::string cases;
  long notify_us = 1000;
  CLI::App app{"EventCore projection benchmarks"};
  app.add_option("--database-url", s.url);
  app.add_option("--cases", cases,
                 "comma-separated prefixes: mem_proj_catchup, mem_proj_live_lag, proj_catchup, proj_live_lag, proj_append");
  app.add_option("--reps", s.reps);
  app.add_option("--events", s.events);
  app.add_option("--seconds", s.seconds);
  app.add_option("--clients", s.clients);
  app.add_option("--page-size", s.page_size, "events per page (live lag and append cases)");
  app.add_option("--catchup-page-size", s.catchup_page_size, "events per page in the catch-up case (both sides)");
  app.add_option("--lag-rate", s.lag_rate, "events/s of the live-lag load");
  app.add_option("--notify-interval-us", notify_us, "the store's notify_interval (NotifyMode::coalesced)");
  CLI11_PARSE(app, argc, argv);
  s.notify_interval = microseconds(notify_us);
  for (std::size_t at = 0; !cases.empty() && at != std::string::npos;) {
    const auto comma = cases.find(',', at);
    s.cases.push_back(cases.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    at = comma == std::string::npos ? comma : comma + 1;
  }
  const bool postgres_wanted = wanted(s, "proj_catchup") || wanted(s, "proj_live_lag") ||
                               wanted(s, "proj_append_throughput") || wanted(s, "proj_append_per_append");
  if (s.url.empty() && postgres_wanted) {
    std::cerr << "set EVENTCORE_DATABASE_URL or --database-url (or pick only mem_ cases with --cases)\n";
    return 2;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  try {
    if (wanted(s, "mem_proj_catchup")) memory_catchup_case(s, sys);
    if (wanted(s, "mem_proj_live_lag"))
      lag_case(s, "mem_proj_live_lag", 2.0, [&](bool wakeups, int) { return run_memory_lag(s, sys, wakeups); });
    if (wanted(s, "proj_catchup")) catchup_case(s, sys);
    if (wanted(s, "proj_live_lag"))
      lag_case(s, "proj_live_lag", 20.0, [&](bool coalesced, int n) { return run_lag(s, sys, coalesced, n); });
    if (wanted(s, "proj_append_throughput")) append_case(s, sys, false);
    if (wanted(s, "proj_append_per_append")) append_case(s, sys, true);
  } catch (const std::exception& e) {
    std::cerr << "projection_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
