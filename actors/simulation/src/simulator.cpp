// One simulation run: the runtime on CAF's test_coordinator, driven step by
// step by this file instead of sched.run().
//
// Each step runs one actor for one message. The actor is picked at random
// (seeded) among the ready ones, so every seed explores another interleaving
// of the stream actors, coordinators, registry and store I/O actors. An I/O
// actor that becomes ready may be delayed in simulated time (store latency);
// when nothing is ready, simulated time jumps to the next due thing: a
// delayed actor, a timer (retry backoff, sweeps, timeouts), the client's
// next command or resubmission. Crashes are kill exits sent to the picked
// actor. In half of the runs the client submits every command with an
// idempotency key; in the other half a random share goes without one (the
// single-stream ones then take the stream actors' fast path, no
// coordinator). It resubmits keyed commands after ambiguous outcomes and
// lost coordinators (never a keyless one: that could write it twice), and
// records every answer; the invariants are checked at the end with faults
// off.

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/simulation/simulator.hpp"
#include "invariants.hpp"

namespace eventcore::simulation {
namespace {

using TimePoint = caf::actor_clock::time_point;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr std::size_t max_submissions = 6;
constexpr std::size_t max_scheduler_steps = 3'000'000;
constexpr auto epoch = std::chrono::sys_days{std::chrono::year{2025} / 1 / 1};

class Trace {
 public:
  Trace(std::size_t tail, bool full) : tail_(tail), full_(full) {}
  void add(std::chrono::nanoseconds at, const std::string& line) {
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%9.3fms ", static_cast<double>(at.count()) / 1e6);
    std::string text = stamp + line;
    for (unsigned char c : text) hash_ = (hash_ ^ c) * 0x100000001b3ULL;
    hash_ = (hash_ ^ '\n') * 0x100000001b3ULL;
    ++count_;
    lines_.push_back(std::move(text));
    if (!full_ && lines_.size() > tail_) lines_.pop_front();
  }
  std::uint64_t hash() const { return hash_; }
  std::size_t count() const { return count_; }
  std::vector<std::string> lines() const { return {lines_.begin(), lines_.end()}; }

 private:
  std::size_t tail_;
  bool full_;
  std::deque<std::string> lines_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  std::size_t count_ = 0;
};

enum class ActorKind { other, stream, coordinator, io };

struct JobInfo {
  TimePoint ready;
  ActorKind kind;
};

std::string summarize(const ExecuteResult& r) {
  if (!r.ok()) return to_string(r.error());
  const auto& v = r.value();
  std::string out = std::string(v.replayed ? "replayed" : "ok") + " attempts=" + std::to_string(v.attempts) +
                    " events=" + std::to_string(v.events_written);
  for (const auto& sv : v.stream_versions) out += " " + sv.stream.str() + "@" + std::to_string(sv.version.value);
  if (!v.positions.empty()) out += " tx=" + std::to_string(v.positions.front().transaction);
  return out;
}

const char* op_name(SimulatedStoreOp::Kind kind) {
  switch (kind) {
    case SimulatedStoreOp::Kind::append: return "store append";
    case SimulatedStoreOp::Kind::append_failed: return "store append failed";
    case SimulatedStoreOp::Kind::transient_append: return "FAULT transient append";
    case SimulatedStoreOp::Kind::ambiguous_append: return "FAULT ambiguous append (committed, reply lost)";
    case SimulatedStoreOp::Kind::transient_read: return "FAULT transient read";
    case SimulatedStoreOp::Kind::foreign_write: return "FAULT foreign write";
    case SimulatedStoreOp::Kind::lost_wakeup: return "FAULT lost wake-up";
  }
  return "?";
}

class Run {
 public:
  Run(const WorkloadFactory& factory, const RunOptions& options)
      : options_(options), rng_(options.seed), trace_(options.trace_tail, options.full_trace),
        workload_(factory()) {}

  RunReport execute();

 private:
  // ---- time ----
  TimePoint now() const { return sched_->clock().current_time; }
  std::chrono::nanoseconds elapsed() const { return now() - t0_; }
  Timestamp wall() const { return Timestamp{std::chrono::duration_cast<microseconds>(epoch.time_since_epoch() + elapsed())}; }
  void log(const std::string& line) { trace_.add(elapsed(), line); }

  // ---- setup ----
  void choose_faults();
  void start_runtime();

  // ---- client ----
  std::uint64_t add_command(CommandSpec spec);
  void submit(std::uint64_t id);
  void on_result(std::uint64_t id, std::size_t submission, const ExecuteResult& result);
  void client_tick();
  void close(std::uint64_t id) {
    if (id < initial_end_) --initial_open_;
    else --open_;
  }
  bool client_done() const { return open_ == 0 && initial_open_ == 0 && issued_ >= options_.steps; }

  // ---- scheduler ----
  void register_jobs();
  bool step();
  std::optional<TimePoint> next_due();
  void project(std::size_t page, bool all);

  RunOptions options_;
  SimRandom rng_;
  Trace trace_;
  std::unique_ptr<Workload> workload_;
  FaultRates faults_;

  std::unique_ptr<EventId::ScopedGenerator> ids_;
  std::uint16_t id_counter_ = 0;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  TimePoint t0_;
  std::shared_ptr<SimulatedStore> store_;
  std::optional<CommandExecutor> executor_;

  std::vector<CommandSpec> specs_;
  std::vector<CommandRecord> records_;
  struct Live {
    std::size_t submission;
    caf::actor coordinator;
    bool kill_sent = false;
  };
  std::map<std::uint64_t, Live> live_;                  // submissions awaiting an answer
  std::multimap<TimePoint, std::pair<std::uint64_t, std::size_t>> wakeups_;  // (id, lost submission or 0)
  std::uint64_t initial_end_ = 0;
  std::size_t open_ = 0, initial_open_ = 0, issued_ = 0, concurrency_ = 1;
  double keyless_ = 0;  // share of commands submitted without an idempotency key
  std::chrono::microseconds mean_gap_{0};
  TimePoint next_arrival_;

  std::unordered_map<caf::resumable*, JobInfo> jobs_;
  std::vector<std::size_t> ready_;
  std::size_t steps_ = 0, crashes_ = 0;

  std::unique_ptr<Projection> projection_;
  GlobalPosition checkpoint_{};
  Checker check_;
};

void Run::choose_faults() {
  // Swarm testing: each fault kind is on in 3 of 4 runs, at a random share
  // of its configured rate, so that runs differ in kind and not only in luck.
  const FaultRates& max = options_.faults;
  auto pick = [&](double rate) { return rng_.below(4) == 0 ? 0.0 : rate * rng_.unit(); };
  faults_.transient = pick(max.transient);
  faults_.ambiguous = pick(max.ambiguous);
  faults_.foreign = pick(max.foreign);
  faults_.latency = pick(max.latency);
  faults_.max_latency = max.max_latency;
  faults_.crash_stream = pick(max.crash_stream);
  faults_.crash_coordinator = pick(max.crash_coordinator);
}

void Run::start_runtime() {
  cfg_.set("scheduler.policy", caf::atom("testing"));
  system_ = std::make_unique<caf::actor_system>(cfg_);
  sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
  t0_ = now();
  ids_ = std::make_unique<EventId::ScopedGenerator>([this] {
    const auto ms = std::chrono::duration_cast<milliseconds>(wall().time_since_epoch()).count();
    return EventId::from_parts(static_cast<std::uint64_t>(ms), id_counter_++ & 0xfff, rng_.next());
  });

  SimulatedStoreOptions so;
  so.faults.transient_append = faults_.transient;
  so.faults.transient_read = faults_.transient;
  so.faults.ambiguous = faults_.ambiguous;
  so.faults.foreign = faults_.foreign;
  so.random = [r = rng_]() mutable { return r.next(); };
  so.clock = [this] { return wall(); };
  so.foreign_writer = [this](const StreamId& stream, const std::vector<StoredEvent>& events) {
    return workload_->foreign_event(stream, events, rng_);
  };
  so.observer = [this](const SimulatedStoreOp& op) { log(std::string(op_name(op.kind)) + " " + op.detail); };
  store_ = std::make_shared<SimulatedStore>(std::move(so));

  RuntimeConfig config;
  config.io_mode = IoMode::cooperative;
  config.io_actors = static_cast<std::size_t>(rng_.between(1, 3));
  config.max_live_streams = static_cast<std::size_t>(rng_.between(2, 40));
  config.idle_sweep_interval = rng_.chance(0.5) ? milliseconds(0) : milliseconds(rng_.between(5, 200));
  config.command_timeout = std::chrono::seconds(60);  // never reached in a healthy run: a timeout is a hang
  config.read_page_size = static_cast<std::size_t>(rng_.between(1, 16));
  // Snapshots every few events, so that reloads (passivation, crashes) start from them.
  config.snapshot_every = rng_.chance(0.2) ? 0 : static_cast<std::uint64_t>(rng_.between(1, 8));
  keyless_ = rng_.chance(0.5) ? 0.2 + 0.6 * rng_.unit() : 0.0;
  // Transient failures are retried, keyed or not: before each retry the
  // runtime looks for the events of an append reported failed, which may
  // have landed (exactly once: "no event written twice" checks it).
  auto retry = RetryPolicy::exponential(microseconds(rng_.between(0, 2000)), 2.0, milliseconds(50), 8)
                   .retry_transient(true);
  executor_ = CommandExecutor::builder()
                  .with_system(*system_)
                  .with_store(store_)
                  .with_config(config)
                  .with_retry_policy(retry)
                  .with_random_source(rng_.source())
                  .with_clock([this] { return now(); })
                  .with_wall_clock([this] { return wall(); })
                  .build()
                  .value();
  concurrency_ = static_cast<std::size_t>(rng_.between(1, 12));
  mean_gap_ = microseconds(rng_.between(0, 3000));
  log("run seed=" + std::to_string(options_.seed) + " workload=" + workload_->name() + " faults " + faults_.str() +
      " io_actors=" + std::to_string(config.io_actors) + " max_live=" + std::to_string(config.max_live_streams) +
      " sweep_ms=" + std::to_string(config.idle_sweep_interval.count()) + " page=" +
      std::to_string(config.read_page_size) + " snapshot_every=" + std::to_string(config.snapshot_every) +
      " concurrency=" + std::to_string(concurrency_) +
      " gap_us=" + std::to_string(mean_gap_.count()) + " keyless=" + std::to_string(keyless_));
}

std::uint64_t Run::add_command(CommandSpec spec) {
  const std::uint64_t id = records_.size();
  CommandRecord record;
  record.id = id;
  record.description = spec.description;
  if (!rng_.chance(keyless_)) record.key = "sim-" + std::to_string(id);
  records_.push_back(std::move(record));
  specs_.push_back(std::move(spec));
  return id;
}

void Run::submit(std::uint64_t id) {
  auto& record = records_[id];
  const std::size_t submission = ++record.submissions;
  ExecuteOptions options;
  if (!record.key.empty()) options.idempotency_key = record.key;
  options.metadata.extra["sim.cmd"] = std::to_string(id);
  auto job = specs_[id].make(std::move(options));
  const std::size_t before = sched_->jobs.size();
  executor_->submit(std::move(job),
                    [this, id, submission](const ExecuteResult& result) { on_result(id, submission, result); });
  caf::actor coordinator;
  for (std::size_t i = sched_->jobs.size(); i > before; --i) {
    auto* local = dynamic_cast<caf::local_actor*>(sched_->jobs[i - 1]);
    if (local && std::strcmp(local->name(), "eventcore.write_coordinator") == 0) {
      coordinator = caf::actor_cast<caf::actor>(static_cast<caf::abstract_actor*>(local));
      break;
    }
  }
  live_[id] = Live{submission, std::move(coordinator)};
  log("submit #" + std::to_string(id) + "." + std::to_string(submission) + " " + record.description +
      (record.key.empty() ? " (no key)" : ""));
}

void Run::on_result(std::uint64_t id, std::size_t submission, const ExecuteResult& result) {
  auto& record = records_[id];
  record.results.push_back(result);
  if (auto it = live_.find(id); it != live_.end() && it->second.submission == submission) live_.erase(it);
  log("answer #" + std::to_string(id) + "." + std::to_string(submission) + " " + summarize(result));
  if (!result.ok() && result.error().code == CommandErrorCode::timeout)
    check_.fail("the run terminates", "command #" + std::to_string(id) + " (" + record.description +
                                          ") timed out after 60 s of simulated time: " + to_string(result.error()));
  const bool ambiguous = !result.ok() && result.error().code == CommandErrorCode::store_unavailable;
  if (ambiguous && !record.key.empty() && record.submissions < max_submissions) {
    wakeups_.emplace(now() + microseconds(rng_.between(100, 20'000)), std::make_pair(id, std::size_t{0}));
    return;
  }
  close(id);
}

void Run::client_tick() {
  while (!wakeups_.empty() && wakeups_.begin()->first <= now()) {
    auto [id, lost] = wakeups_.begin()->second;
    wakeups_.erase(wakeups_.begin());
    if (lost != 0) {
      auto it = live_.find(id);
      if (it == live_.end() || it->second.submission != lost) continue;  // it was answered after all
      live_.erase(it);
      log("client: #" + std::to_string(id) + "." + std::to_string(lost) + " got no answer (its coordinator died)");
      if (records_[id].key.empty() || records_[id].submissions >= max_submissions) {
        log("client: gives up on #" + std::to_string(id));
        close(id);
        continue;
      }
    }
    submit(id);
  }
  if (initial_open_ > 0) return;
  while (issued_ < options_.steps && open_ < concurrency_ && next_arrival_ <= now()) {
    const auto id = add_command(workload_->next_command(records_.size(), rng_));
    ++issued_;
    ++open_;
    submit(id);
    next_arrival_ = now() + microseconds(rng_.between(0, 2 * mean_gap_.count()));
  }
}

void Run::register_jobs() {
  for (auto* job : sched_->jobs) {
    if (jobs_.contains(job)) continue;
    ActorKind kind = ActorKind::other;
    if (auto* local = dynamic_cast<caf::local_actor*>(job)) {
      const char* name = local->name();
      if (std::strcmp(name, "eventcore.stream") == 0) kind = ActorKind::stream;
      else if (std::strcmp(name, "eventcore.write_coordinator") == 0) kind = ActorKind::coordinator;
      else if (std::strcmp(name, "eventcore.store_io") == 0) kind = ActorKind::io;
    }
    TimePoint ready = now();
    // Store latency: the I/O actor (the "connection") answers later.
    if (kind == ActorKind::io && rng_.chance(faults_.latency))
      ready += microseconds(rng_.between(100, std::chrono::duration_cast<microseconds>(faults_.max_latency).count()));
    jobs_.emplace(job, JobInfo{ready, kind});
  }
}

bool Run::step() {
  register_jobs();
  ready_.clear();
  const auto t = now();
  for (std::size_t i = 0; i < sched_->jobs.size(); ++i)
    if (jobs_.at(sched_->jobs[i]).ready <= t) ready_.push_back(i);
  if (ready_.empty()) return false;
  const std::size_t i = ready_[rng_.below(ready_.size())];
  auto* job = sched_->jobs[i];
  const JobInfo info = jobs_.at(job);
  if (info.kind == ActorKind::stream && rng_.chance(faults_.crash_stream)) {
    auto handle = caf::actor_cast<caf::actor>(static_cast<caf::abstract_actor*>(dynamic_cast<caf::local_actor*>(job)));
    caf::anon_send_exit(handle, caf::exit_reason::kill);  // handled first when it runs now
    ++crashes_;
    log("FAULT crash a stream actor");
  } else if (info.kind == ActorKind::coordinator && rng_.chance(faults_.crash_coordinator)) {
    auto handle = caf::actor_cast<caf::actor>(static_cast<caf::abstract_actor*>(dynamic_cast<caf::local_actor*>(job)));
    for (auto& [id, live] : live_) {
      if (live.coordinator != handle || live.kill_sent) continue;
      live.kill_sent = true;
      ++records_[id].killed;
      caf::anon_send_exit(handle, caf::exit_reason::kill);
      ++crashes_;
      log("FAULT crash the coordinator of #" + std::to_string(id) + "." + std::to_string(live.submission));
      wakeups_.emplace(now() + milliseconds(rng_.between(20, 300)), std::make_pair(id, live.submission));
      break;
    }
  }
  jobs_.erase(job);
  std::rotate(sched_->jobs.begin(), sched_->jobs.begin() + static_cast<std::ptrdiff_t>(i),
              sched_->jobs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  sched_->run_once();
  ++steps_;
  if (projection_ && rng_.chance(0.02)) project(static_cast<std::size_t>(rng_.between(1, 8)), false);
  return true;
}

std::optional<TimePoint> Run::next_due() {
  std::optional<TimePoint> due;
  auto consider = [&](TimePoint t) {
    if (!due || t < *due) due = t;
  };
  for (auto* job : sched_->jobs) consider(jobs_.at(job).ready);
  if (const auto& schedule = sched_->clock().schedule(); !schedule.empty()) consider(schedule.begin()->first);
  if (!wakeups_.empty()) consider(wakeups_.begin()->first);
  if (initial_open_ == 0 && issued_ < options_.steps && open_ < concurrency_) consider(next_arrival_);
  return due;
}

void Run::project(std::size_t page, bool all) {
  do {
    auto result = store_->read_all(checkpoint_, page);
    if (!result || result->events.empty()) return;
    for (const auto& e : result->events) projection_->apply(e);
    checkpoint_ = result->next;
  } while (all);
}

RunReport Run::execute() {
  workload_->setup(rng_);
  choose_faults();
  start_runtime();
  projection_ = workload_->make_projection();
  while (auto spec = workload_->initial_command(records_.size(), rng_)) add_command(std::move(*spec));
  initial_end_ = records_.size();
  initial_open_ = initial_end_;
  for (std::uint64_t id = 0; id < initial_end_; ++id) submit(id);
  next_arrival_ = now();

  std::size_t stalls = 0;
  for (;;) {
    client_tick();
    if (step()) {
      if (steps_ > max_scheduler_steps) {
        check_.fail("the run terminates", "no end after " + std::to_string(steps_) + " scheduler steps (livelock)");
        break;
      }
      continue;
    }
    if (client_done() && sched_->jobs.empty()) break;
    auto due = next_due();
    if (!due) {
      check_.fail("the run terminates", "deadlock: " + std::to_string(open_ + initial_open_) +
                                            " command(s) unanswered and nothing left to run or wait for");
      break;
    }
    if (elapsed() > std::chrono::hours(1)) {
      check_.fail("the run terminates", "no end after an hour of simulated time (" +
                                            std::to_string(open_ + initial_open_) + " command(s) unanswered)");
      break;
    }
    if (*due > now()) {
      stalls = 0;
      sched_->advance_time(*due - now());
    } else if (++stalls > 10'000) {
      check_.fail("the run terminates", "the scheduler stalled with work due");
      break;
    } else {
      sched_->advance_time(caf::timespan{0});
    }
  }

  // Checks run with faults off, after the runtime stopped.
  store_->set_faults_enabled(false);
  if (projection_) project(5, true);
  const auto simulated = elapsed();
  executor_->shutdown();
  sched_->run();
  while (sched_->trigger_timeouts() > 0) sched_->run();
  executor_.reset();
  live_.clear();

  auto log_events = store_->log();
  detail::attribute_log(log_events, records_);
  RunView view{log_events, records_, *store_, crashes_ > 0};
  detail::check_generic(view, *store_, check_);
  detail::check_projection(view, *store_, *workload_, projection_.get(), check_);
  workload_->check(view, check_);

  std::uint64_t digest = 0xcbf29ce484222325ULL;
  auto mix = [&](const void* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) digest = (digest ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001b3ULL;
  };
  for (const auto& e : log_events) {
    mix(e.id.bytes().data(), 16);
    mix(e.stream.str().data(), e.stream.str().size());
    mix(&e.version.value, sizeof e.version.value);
    mix(&e.position, sizeof e.position);
    mix(e.type.data(), e.type.size());
    mix(e.payload.data(), e.payload.size());
  }
  char line[96];
  std::snprintf(line, sizeof line, "end: %zu events, log digest %016llx", log_events.size(),
                static_cast<unsigned long long>(digest));
  trace_.add(simulated, line);

  RunReport report;
  report.seed = options_.seed;
  report.violations = check_.violations();
  report.trace_hash = trace_.hash();
  report.trace = trace_.lines();
  report.trace_lines = trace_.count();
  report.commands = records_.size();
  for (const auto& r : records_) {
    report.submissions += r.submissions;
    switch (r.outcome()) {
      case CommandRecord::Outcome::ok: ++report.acknowledged; break;
      case CommandRecord::Outcome::rejected: ++report.rejected; break;
      case CommandRecord::Outcome::failed: ++report.failed; break;
      default: ++report.ambiguous; break;
    }
  }
  report.events = log_events.size();
  report.scheduler_steps = steps_;
  report.crashes = crashes_;
  report.store = store_->stats();
  report.simulated_time = simulated;
  return report;
}

}  // namespace

RunReport run_simulation(const WorkloadFactory& workload, const RunOptions& options) {
  Run run(workload, options);
  return run.execute();
}

}  // namespace eventcore::simulation
