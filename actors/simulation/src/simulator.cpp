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
// coordinator). It resubmits keyed commands after ambiguous outcomes (a
// killed coordinator answers its commands so; never a keyless one: that
// could write it twice), and
// records every answer; the invariants are checked at the end with faults
// off. Beside the runtime, the real projection runtime (cooperative, on the
// same scheduler) folds the workload's projection into a durable sink, with
// lost wake-ups, failed checkpoint writes and killed projection actors; at
// the end it must catch up and equal a fold of the log, no event applied twice.

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/projections/projection.hpp"
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

enum class ActorKind { other, stream, coordinator, io, projection };

// A read model that outlives the runtime's instances, as a sink outside the
// process would (a table elsewhere): instances fold into it, and a restarted
// one resumes at its position (start_position). It notes the first event it
// was given twice or out of order.
struct DurableSink {
  std::unique_ptr<Projection> model;
  GlobalPosition position;
  std::set<EventId> applied;
  std::string violation;
  std::size_t instances = 0;
};

class SinkProjection final : public projections::Projection {
 public:
  explicit SinkProjection(std::shared_ptr<DurableSink> sink) : sink_(std::move(sink)) {}
  void apply(const StoredEvent& event) override {
    auto& sink = *sink_;
    if (sink.violation.empty()) {
      if (!sink.applied.insert(event.id).second)
        sink.violation = "event " + event.id.str() + " at " + to_string(event.position) + " applied twice (instance " +
                         std::to_string(sink.instances) + ")";
      else if (!(sink.position < event.position))
        sink.violation = "event at " + to_string(event.position) + " applied after " + to_string(sink.position);
    }
    sink.model->apply(event);
    sink.position = std::max(sink.position, event.position);
  }
  GlobalPosition start_position() const override { return sink_->position; }

 private:
  std::shared_ptr<DurableSink> sink_;
};

// Checkpoints in memory whose writes fail when `fail` says so.
class FaultyCheckpoints final : public projections::CheckpointStore {
 public:
  explicit FaultyCheckpoints(std::function<bool(const char*)> fail) : fail_(std::move(fail)) {}
  Result<std::optional<projections::Checkpoint>> load(std::string_view name) override { return inner_->load(name); }
  Status save(std::string_view name, const projections::Checkpoint& c) override {
    if (fail_("save")) return failure();
    return inner_->save(name, c);
  }
  Status compare_and_set(std::string_view name, const std::optional<projections::Checkpoint>& expected,
                         const projections::Checkpoint& next) override {
    if (fail_("compare_and_set")) return failure();
    return inner_->compare_and_set(name, expected, next);
  }
  Status remove(std::string_view name) override { return inner_->remove(name); }
  Status report(std::string_view name, std::string_view state, std::string_view error,
                std::string_view owner) override {
    if (fail_("report")) return failure();
    return inner_->report(name, state, error, owner);
  }
  Status dead_letter(std::string_view name, const StoredEvent& event, std::string_view error,
                     int attempts) override {
    if (fail_("dead_letter")) return failure();
    return inner_->dead_letter(name, event, error, attempts);
  }
  Result<std::uint64_t> dead_letter_count(std::string_view name) override { return inner_->dead_letter_count(name); }
  Result<std::vector<projections::ProjectionRecord>> list() override { return inner_->list(); }

 private:
  static Error failure() { return Error{ErrorCode::unavailable, "simulated: the checkpoint write failed"}; }
  std::function<bool(const char*)> fail_;
  std::shared_ptr<projections::CheckpointStore> inner_ = projections::memory_checkpoint_store();
};

// The projection runtime's clock: simulated time; backoff sleeps are not
// waited (the actor's own timers pace its retries).
class SimClock final : public projections::Clock {
 public:
  explicit SimClock(std::function<std::chrono::nanoseconds()> elapsed) : elapsed_(std::move(elapsed)) {}
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::time_point(elapsed_()); }
  std::chrono::system_clock::time_point wall_now() override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(epoch.time_since_epoch() + elapsed_()));
  }
  void sleep_for(std::chrono::nanoseconds) override {}

 private:
  std::function<std::chrono::nanoseconds()> elapsed_;
};

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
  void start_projections();
  void catch_up_projection();

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
  std::map<std::uint64_t, std::size_t> live_;  // command -> its submission awaiting an answer
  std::multimap<TimePoint, std::uint64_t> wakeups_;  // commands to submit again then
  std::uint64_t initial_end_ = 0;
  std::size_t open_ = 0, initial_open_ = 0, issued_ = 0, concurrency_ = 1;
  double keyless_ = 0;  // share of commands submitted without an idempotency key
  std::chrono::microseconds mean_gap_{0};
  TimePoint next_arrival_;

  std::unordered_map<caf::resumable*, JobInfo> jobs_;
  std::vector<std::size_t> ready_;
  std::size_t steps_ = 0, crashes_ = 0;

  std::shared_ptr<DurableSink> sink_;
  std::unique_ptr<projections::ProjectionRuntime> projections_;
  bool faults_on_ = true;
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
  faults_.crash_projection = pick(max.crash_projection);
  faults_.lost_wakeup = pick(max.lost_wakeup);
  faults_.checkpoint_failure = pick(max.checkpoint_failure);
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
  so.faults.lost_wakeup = faults_.lost_wakeup;
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

void Run::start_projections() {
  auto model = workload_->make_projection();
  if (!model) return;
  sink_ = std::make_shared<DurableSink>();
  sink_->model = std::move(model);
  projections::ProjectionRuntimeConfig config;
  config.cooperative = true;
  config.clock = std::make_shared<SimClock>([this] { return elapsed(); });
  config.poll_interval = milliseconds(rng_.between(5, 200));
  config.retry_interval = milliseconds(rng_.between(1, 20));
  config.owner = "sim";
  config.checkpoints = std::make_shared<FaultyCheckpoints>([this](const char* what) {
    if (!faults_on_ || !rng_.chance(faults_.checkpoint_failure)) return false;
    log(std::string("FAULT checkpoint ") + what + " failed");
    return true;
  });
  auto runtime = projections::ProjectionRuntime::start(*system_, store_, config);
  if (!runtime) {
    check_.fail("the projection runtime starts", to_string(runtime.error()));
    return;
  }
  projections_ = std::move(runtime).value();
  projections::ProjectionOptions options;
  options.name = "sim";
  options.page_size = static_cast<std::size_t>(rng_.between(1, 16));
  if (auto added = projections_->add(options, [sink = sink_] {
        ++sink->instances;
        return std::make_unique<SinkProjection>(sink);
      });
      !added)
    check_.fail("the projection runtime starts", to_string(added.error()));
  log("projection page=" + std::to_string(options.page_size) + " poll_ms=" +
      std::to_string(config.poll_interval.count()) + " retry_ms=" + std::to_string(config.retry_interval.count()));
}

// After the run, with faults off: the scheduler runs (timers included: the
// poll) until the sink holds the last event of the log, or gives up.
void Run::catch_up_projection() {
  if (!sink_ || !projections_) return;
  const auto log_events = store_->log();
  if (log_events.empty()) return;
  const GlobalPosition last = log_events.back().position;
  for (std::size_t i = 0; i < 200'000 && sink_->position < last; ++i) {
    client_tick();  // retires the client's stale wake-ups (it sends nothing new now)
    if (step()) continue;
    auto due = next_due();
    if (!due) break;
    sched_->advance_time(*due > now() ? *due - now() : caf::timespan{0});
  }
  if (sink_->position < last)
    check_.fail("every projection catches up", "the sink is at " + to_string(sink_->position) + ", the log ends at " +
                                                   to_string(last) + " (" + std::to_string(sink_->instances) +
                                                   " instance(s))");
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
  live_[id] = submission;
  executor_->submit(std::move(job),
                    [this, id, submission](const ExecuteResult& result) { on_result(id, submission, result); });
  log("submit #" + std::to_string(id) + "." + std::to_string(submission) + " " + record.description +
      (record.key.empty() ? " (no key)" : ""));
}

void Run::on_result(std::uint64_t id, std::size_t submission, const ExecuteResult& result) {
  auto& record = records_[id];
  record.results.push_back(result);
  if (auto it = live_.find(id); it != live_.end() && it->second == submission) live_.erase(it);
  // Its coordinator was killed (it answers its runs as it dies): an append
  // of it may land later than any read of the streams.
  if (!result.ok() && result.error().reason == "coordinator_stopped") ++record.killed;
  log("answer #" + std::to_string(id) + "." + std::to_string(submission) + " " + summarize(result));
  if (!result.ok() && result.error().code == CommandErrorCode::timeout)
    check_.fail("the run terminates", "command #" + std::to_string(id) + " (" + record.description +
                                          ") timed out after 60 s of simulated time: " + to_string(result.error()));
  const bool ambiguous = !result.ok() && result.error().code == CommandErrorCode::store_unavailable;
  if (ambiguous && !record.key.empty() && record.submissions < max_submissions) {
    wakeups_.emplace(now() + microseconds(rng_.between(100, 20'000)), id);
    return;
  }
  close(id);
}

void Run::client_tick() {
  while (!wakeups_.empty() && wakeups_.begin()->first <= now()) {
    const auto id = wakeups_.begin()->second;
    wakeups_.erase(wakeups_.begin());
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
      else if (std::strcmp(name, "eventcore.projection") == 0) kind = ActorKind::projection;
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
  if (!faults_on_) {
    // The end of the run: no crash any more.
  } else if (info.kind == ActorKind::projection && rng_.chance(faults_.crash_projection)) {
    auto handle = caf::actor_cast<caf::actor>(static_cast<caf::abstract_actor*>(dynamic_cast<caf::local_actor*>(job)));
    caf::anon_send_exit(handle, caf::exit_reason::kill);
    ++crashes_;
    log("FAULT crash the projection actor");
  } else if (info.kind == ActorKind::stream && rng_.chance(faults_.crash_stream)) {
    auto handle = caf::actor_cast<caf::actor>(static_cast<caf::abstract_actor*>(dynamic_cast<caf::local_actor*>(job)));
    caf::anon_send_exit(handle, caf::exit_reason::kill);  // handled first when it runs now
    ++crashes_;
    log("FAULT crash a stream actor");
  } else if (info.kind == ActorKind::coordinator && rng_.chance(faults_.crash_coordinator)) {
    // It answers its unfinished commands as it dies (coordinator_stopped);
    // another coordinator takes its place.
    auto handle = caf::actor_cast<caf::actor>(static_cast<caf::abstract_actor*>(dynamic_cast<caf::local_actor*>(job)));
    caf::anon_send_exit(handle, caf::exit_reason::kill);
    ++crashes_;
    log("FAULT crash a write coordinator");
  }
  jobs_.erase(job);
  std::rotate(sched_->jobs.begin(), sched_->jobs.begin() + static_cast<std::ptrdiff_t>(i),
              sched_->jobs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  sched_->run_once();
  ++steps_;
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

RunReport Run::execute() {
  workload_->setup(rng_);
  choose_faults();
  start_runtime();
  start_projections();
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
  faults_on_ = false;
  catch_up_projection();
  const auto simulated = elapsed();
  if (projections_) projections_->stop();
  executor_->shutdown();
  sched_->run();
  while (sched_->trigger_timeouts() > 0) sched_->run();
  executor_.reset();
  projections_.reset();
  live_.clear();

  auto log_events = store_->log();
  detail::attribute_log(log_events, records_);
  RunView view{log_events, records_, *store_, crashes_ > 0};
  detail::check_generic(view, *store_, check_);
  if (sink_) detail::check_projection(view, *store_, *workload_, *sink_->model, sink_->violation, check_);
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
