#include "projection_engine.hpp"

#include <algorithm>

#include "postgres_checkpoints.hpp"

namespace eventcore::projections::detail {

namespace {

// Runs statements of the engine's own on its session, with failures as the
// SqlError a PostgresProjection's statements throw: one kind to handle.
template <class F>
decltype(auto) sql(F&& f) {
  try {
    return f();
  } catch (const pg::SqlFailure& e) {
    throw SqlError(e.what(), e.connection_lost);
  }
}

// Thrown inside a page transaction when the checkpoint moved under us: another
// instance applied these events (it can only happen after losing leadership).
struct CheckpointMoved : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string describe(const StoredEvent& event) {
  return "event " + event.id.str() + " (" + event.type + ", stream '" + event.stream.str() + "' version " +
         std::to_string(event.version.value) + ", position " + to_string(event.position) + ")";
}

}  // namespace

Engine::Engine(EngineConfig config, Backend backend, ProjectionRuntime::ProjectionFactory memory_factory,
               ProjectionRuntime::PostgresProjectionFactory pg_factory, std::shared_ptr<InstanceSlot> slot,
               std::shared_ptr<LiveCell> live)
    : config_(std::move(config)),
      backend_(std::move(backend)),
      memory_factory_(std::move(memory_factory)),
      pg_factory_(std::move(pg_factory)),
      slot_(std::move(slot)),
      live_(std::move(live)) {
  if (!config_.clock) config_.clock = Clock::system();
  // An in-memory instance exists (and is visible through the runtime) from the start.
  if (memory_factory_) {
    memory_ = std::shared_ptr<Projection>(memory_factory_());
    position_ = config_.rebuild ? config_.rebuild_from : memory_->start_position();
    if (slot_ && !config_.rebuild) slot_->set(memory_);
  }
}

Engine::~Engine() = default;

std::string Engine::checkpoint_name() const {
  return config_.rebuild ? config_.options.name + "~rebuild" : config_.options.name;
}

bool Engine::exclusive() const { return !config_.rebuild && (is_postgres() || config_.options.one_instance); }

void Engine::publish() {
  if (!live_) return;
  {
    std::lock_guard lock(live_->mutex);
    live_->position = position_;
    live_->state = state_;
    live_->error = error_;
    ++live_->steps;
  }
  live_->changed.notify_all();
}

Engine::Outcome Engine::lost(const std::string& message) {
  session_.rollback_if_open();
  session_.close();
  // A PostgreSQL read model reloads the committed checkpoint (the outcome of
  // the last commit is unknown); an in-memory one keeps its position guard.
  opened_ = false;
  if (guard_ && !guard_->held()) guard_.reset();
  error_ = message;
  return Outcome::transient;
}

void Engine::report(const char* state, const std::string& error) {
  // Status only: a failure here is written again by the next open.
  if (is_postgres()) {
    try {
      pg_checkpoints::report(session_, checkpoint_name(), state, error, config_.owner);
    } catch (const pg::SqlFailure&) {
    }
    return;
  }
  (void)backend_.checkpoints->report(checkpoint_name(), state, error, config_.owner);
}

void Engine::point_views(int generation) {
  if (!pg_) return;
  GenerationSql gen(session_, backend_.schema, generation);
  for (const auto& table : pg_->tables()) {
    const std::string view = pg::quote_ident(backend_.schema) + "." + pg::quote_ident(table);
    sql([&] { return session_.exec("DROP VIEW IF EXISTS " + view); });
    sql([&] { return session_.exec("CREATE VIEW " + view + " AS SELECT * FROM " + gen.table(table)); });
  }
}

void Engine::create_generation(int generation, bool with_views) {
  GenerationSql gen(session_, backend_.schema, generation);
  for (const auto& table : pg_->tables())
    sql([&] { return session_.exec("DROP TABLE IF EXISTS " + gen.table(table) + " CASCADE"); });
  pg_->create(gen);
  if (with_views) point_views(generation);
}

Engine::Outcome Engine::open() {
  if (exclusive() && !guard_) {
    auto guard = backend_.leadership->try_acquire(config_.options.name);
    if (!guard) {
      error_ = guard.error().message;
      return Outcome::transient;
    }
    if (!*guard) {
      state_ = ProjectionState::standby;
      return Outcome::standby;
    }
    guard_ = std::move(guard).value();
  }
  if (is_postgres()) return open_postgres();
  // In memory: the position guard is the instance's own (start_position, then
  // what it applied); the stored checkpoint reports progress.
#ifdef EVENTCORE_PLANTED_BUG_resume_from_report
  // Planted bug: resume from the stored checkpoint, a progress report that
  // lags what the instance applied, instead of the instance's position.
  if (auto saved = backend_.checkpoints->load(checkpoint_name()); !config_.rebuild && saved && *saved)
    position_ = (*saved)->position;
#endif
  if (!config_.rebuild) {
    if (auto saved = backend_.checkpoints->save(checkpoint_name(), Checkpoint{position_, 1}); !saved) {
      error_ = saved.error().message;
      return Outcome::transient;
    }
    report("running", "");
  }
  opened_ = true;
  state_ = ProjectionState::catching_up;
  return Outcome::more;
}

Engine::Outcome Engine::open_postgres() {
  if (!session_.connected()) {
    if (auto connected = session_.connect(*backend_.postgres); !connected) {
      error_ = connected.error().message;
      return Outcome::transient;
    }
  }
  try {
    // Safe for exactly-once: a crash can lose only the newest commits, and
    // each loses its read-model writes and its checkpoint together, so those
    // events are applied again. It saves a WAL flush per page.
    sql([&] { return session_.exec("SET synchronous_commit = off"); });
    std::optional<Checkpoint> checkpoint;
    if (config_.rebuild) {
      checkpoint = Checkpoint{config_.rebuild_from, config_.rebuild_generation};
      sql([&] { pg_checkpoints::save(session_, checkpoint_name(), *checkpoint); });
    } else {
      checkpoint = sql([&] { return pg_checkpoints::load(session_, checkpoint_name()); });
      if (!checkpoint) {
        // A first start: create it (another process may race us: then read theirs).
        sql([&] { return pg_checkpoints::compare_and_set(session_, checkpoint_name(), std::nullopt, Checkpoint{}); });
        checkpoint = sql([&] { return pg_checkpoints::load(session_, checkpoint_name()); });
        if (!checkpoint) throw SqlError("the checkpoint of '" + checkpoint_name() + "' vanished", true);
      }
    }
    position_ = checkpoint->position;
    generation_ = checkpoint->generation;
    if (!pg_) pg_ = pg_factory_();
    sql([&] { return session_.exec("BEGIN"); });
    if (config_.rebuild) {
      create_generation(generation_, false);
    } else {
      // A first start creates generation 1; later starts find it.
      GenerationSql gen(session_, backend_.schema, generation_);
      bool exists = true;
      for (const auto& t : pg_->tables())
        if (sql([&] { return session_.exec("SELECT to_regclass($1) IS NOT NULL", {gen.table(t)}); }).at(0).at(0) !=
            "t")
          exists = false;
      if (!exists) create_generation(generation_, true);
    }
    sql([&] { return session_.exec("COMMIT"); });
    report("running", "");
    opened_ = true;
    state_ = ProjectionState::catching_up;
    return Outcome::more;
  } catch (const SqlError& e) {
    if (e.connection_lost) return lost(e.what());
    session_.rollback_if_open();
    error_ = std::string("cannot start projection '") + config_.options.name + "': " + e.what();
    return Outcome::transient;
  } catch (const std::exception& e) {
    session_.rollback_if_open();
    return stop_with(std::string("cannot start projection '") + config_.options.name + "': " + e.what());
  }
}

Engine::Outcome Engine::step() {
  const auto outcome = run_step();
  publish();
  return outcome;
}

Engine::Outcome Engine::run_step() {
  if (stopped_) return Outcome::stopped;
  if (guard_ && !guard_->held()) {
    // Someone else may hold it now: start over, from the committed checkpoint.
    guard_.reset();
    return lost("lost the leadership of projection '" + config_.options.name + "'");
  }
  if (!opened_) {
    auto outcome = open();
    if (outcome != Outcome::more) return outcome;
  }
  const auto& store = backend_.store;
  std::unique_ptr<Result<ReadAllPage>> read;
  if (prefetch_.valid()) {
    auto prefetched = prefetch_.get();
    if (prefetch_from_ == position_)  // else stale: a page was retried or skipped
      read = std::make_unique<Result<ReadAllPage>>(std::move(prefetched));
  }
  if (!read)
    read = std::make_unique<Result<ReadAllPage>>(
        store->read_all(position_, config_.options.page_size, config_.options.filter));
  // Whatever happens below, this page is retired when step returns.
  struct Retire {
    std::unique_ptr<Result<ReadAllPage>>& from;
    std::unique_ptr<Result<ReadAllPage>>& to;
    ~Retire() { to = std::move(from); }
  } retire{read, retired_};
  auto& page = *read;
  if (!page) {
    error_ = "read_all failed: " + page.error().message;
    return Outcome::transient;
  }
  const auto& events = page->events;
  if (events.size() >= config_.options.page_size && store->blocking() && config_.read_ahead) {
    // Catching up: read the next page (from where this one ends, which is
    // where the checkpoint will be once it is applied) while applying this
    // one. The reading thread also frees the page before last: pages are
    // allocated and freed by the same kind of thread, not across the two.
    // (A store in memory answers at once: nothing to overlap.)
    prefetch_from_ = events.back().position;
    prefetch_ = std::async(std::launch::async, [store, from = prefetch_from_, old = std::move(retired_),
                                                size = config_.options.page_size,
                                                filter = config_.options.filter]() mutable {
      old.reset();
      return store->read_all(from, size, filter);
    });
  }
  Outcome outcome = Outcome::caught_up;
  if (!events.empty()) {
    outcome = is_postgres() ? apply_postgres(events) : apply_memory(events);
    if (outcome != Outcome::more) return outcome;
  }
  if (events.size() >= config_.options.page_size) {
    state_ = ProjectionState::catching_up;
    return Outcome::more;
  }
  state_ = ProjectionState::running;
  error_.clear();
  if (!is_postgres()) report_progress();
  return Outcome::caught_up;
}

void Engine::backoff(int attempt) {
  auto delay = config_.options.errors.initial_backoff;
  for (int i = 1; i < attempt && delay < config_.options.errors.max_backoff; ++i) delay *= 2;
  config_.clock->sleep_for(std::min(delay, config_.options.errors.max_backoff));
}

Engine::TxResult Engine::postgres_tx(const std::vector<StoredEvent>& events, std::size_t begin,
                                     std::size_t end, int generation) {
  TxResult result;
  std::size_t i = begin;
  try {
    sql([&] { return session_.exec("BEGIN"); });
    GenerationSql gen(session_, backend_.schema, generation);
    for (; i < end; ++i) pg_->apply(gen, events[i]);
    const GlobalPosition last = events[end - 1].position;
    const bool moved = sql([&] {
      return pg_checkpoints::compare_and_set(session_, checkpoint_name(), Checkpoint{position_, generation},
                                             Checkpoint{last, generation});
    });
    if (!moved) throw CheckpointMoved("the checkpoint of '" + checkpoint_name() + "' moved");
    sql([&] { return session_.exec("COMMIT"); });
    position_ = last;
    applied_ += end - begin;
    result.ok = true;
  } catch (const SqlError& e) {
    result.lost = e.connection_lost;
    result.failed = i;
    result.error = e.what();
    session_.rollback_if_open();
  } catch (const CheckpointMoved& e) {
    result.lost = true;  // reload the checkpoint: treat like a lost session
    result.error = e.what();
    session_.rollback_if_open();
  } catch (const std::exception& e) {
    result.failed = i;
    result.error = e.what();
    session_.rollback_if_open();
  } catch (...) {
    result.failed = i;
    result.error = "unknown exception";
    session_.rollback_if_open();
  }
  if (!result.ok && result.failed >= end) result.lost = true;  // the commit itself failed
  return result;
}

Engine::Outcome Engine::apply_postgres(const std::vector<StoredEvent>& events) {
  std::size_t i = 0;
  const std::size_t n = events.size();
  while (i < n) {
    auto r = postgres_tx(events, i, n, generation_);
    if (r.ok) break;
    if (r.lost) return lost(r.error);
    // Events before the failing one applied fine: commit them on their own.
    if (r.failed > i) {
      auto before = postgres_tx(events, i, r.failed, generation_);
      if (!before.ok) {
        if (before.lost) return lost(before.error);
        continue;  // failed elsewhere this time: start over from i
      }
      i = r.failed;
    }
    auto outcome = poison(events[i], 1, r.error, generation_);
    if (outcome != Outcome::more) return outcome;
    ++i;
  }
  return Outcome::more;
}

Engine::Outcome Engine::stop_with(const std::string& error) {
  stopped_ = true;
  state_ = ProjectionState::stopped_with_error;
  error_ = error;
  report("stopped_with_error", error_);
  return Outcome::stopped;
}

Engine::Outcome Engine::poison(const StoredEvent& event, int attempts, const std::string& first_error,
                               int generation) {
  const auto& policy = config_.options.errors;
  std::string error = first_error;
  while (attempts < std::max(1, policy.max_attempts)) {
    backoff(attempts);
    ++attempts;
    if (is_postgres()) {
      std::vector<StoredEvent> one{event};
      auto r = postgres_tx(one, 0, 1, generation);
      if (r.ok) return Outcome::more;
      if (r.lost) return lost(r.error);
      error = r.error;
    } else {
      try {
        memory_->apply(event);
        return Outcome::more;
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown exception";
      }
    }
  }
  const std::string description = describe(event) + " failed " + std::to_string(attempts) + " times: " + error;
  if (policy.on_poison == PoisonPolicy::stop)
    return stop_with("projection '" + config_.options.name + "' stopped: " + description);
  return dead_letter(event, attempts, description, error);
}

Engine::Outcome Engine::dead_letter(const StoredEvent& event, int attempts, const std::string& description,
                                    const std::string& error) {
  if (!is_postgres()) {
    if (auto recorded = backend_.checkpoints->dead_letter(config_.options.name, event, error, attempts); !recorded) {
      if (recorded.error().code == ErrorCode::unavailable) return lost(recorded.error().message);
      return stop_with("projection '" + config_.options.name + "' stopped: cannot dead-letter " + description + ": " +
                       recorded.error().message);
    }
  } else {
    // The dead letter and the checkpoint past the event, in one transaction.
    try {
      sql([&] { return session_.exec("BEGIN"); });
      sql([&] { pg_checkpoints::dead_letter(session_, config_.options.name, event, error, attempts); });
      const bool moved = sql([&] {
        return pg_checkpoints::compare_and_set(session_, checkpoint_name(), Checkpoint{position_, generation_},
                                               Checkpoint{event.position, generation_});
      });
      if (!moved) {
        session_.rollback_if_open();
        return lost("the checkpoint of '" + checkpoint_name() + "' moved");
      }
      sql([&] { return session_.exec("COMMIT"); });
    } catch (const SqlError& e) {
      if (e.connection_lost) return lost(e.what());
      session_.rollback_if_open();
      return stop_with("projection '" + config_.options.name + "' stopped: cannot dead-letter " + description + ": " +
                       e.what());
    }
  }
  position_ = event.position;
  ++dead_letters_;
  return Outcome::more;
}

Engine::Outcome Engine::apply_memory(const std::vector<StoredEvent>& events) {
  for (const auto& event : events) {
    if (event.position <= position_) continue;  // the position guard
    try {
      memory_->apply(event);
      position_ = event.position;
      ++applied_;
      continue;
    } catch (const std::exception& e) {
      auto outcome = poison(event, 1, e.what(), 0);
      if (outcome != Outcome::more) return outcome;
    } catch (...) {
      auto outcome = poison(event, 1, "unknown exception", 0);
      if (outcome != Outcome::more) return outcome;
    }
    position_ = std::max(position_, event.position);
    ++applied_;
  }
  report_progress();
  return Outcome::more;
}

// The checkpoint of an in-memory model is only its progress report (status()
// answers from memory): saved at most once a second, so that following a busy
// log costs no extra write per page, and again once idle (the poll's empty
// read), so that a quiet log does not leave a stale report behind.
void Engine::report_progress() {
  const auto now = config_.clock->now();
  if (config_.rebuild || position_ == reported_ || now - last_report_ < std::chrono::seconds(1)) return;
  last_report_ = now;
  if (backend_.checkpoints->save(checkpoint_name(), Checkpoint{position_, 1})) reported_ = position_;
}

Engine::Outcome Engine::adopt(const Handover& handover) {
  const auto outcome = [&] {
    if (!opened_) {
      auto opened = open();
      if (opened == Outcome::transient) return opened;
      if (opened != Outcome::more)
        return abandon(handover, "projection '" + config_.options.name + "' is no longer active in this process");
    }
    if (is_postgres()) return adopt_postgres(handover);
    // Bring the new instance up to the head, then swap: the old one served
    // readers until this moment.
    auto instance = handover.instance;
    GlobalPosition at = handover.position;
    for (;;) {
      auto page = backend_.store->read_all(at, config_.options.page_size, config_.options.filter);
      if (!page) return lost("read_all failed: " + page.error().message);
      for (const auto& e : page->events) {
        try {
          instance->apply(e);
        } catch (const std::exception& ex) {
          return abandon(handover, describe(e) + " failed while catching the rebuilt model up: " + ex.what());
        } catch (...) {
          return abandon(handover, describe(e) + " failed while catching the rebuilt model up");
        }
        at = e.position;
      }
      if (page->events.size() < config_.options.page_size) break;
    }
    memory_ = instance;
    position_ = at;
    finish_rebuild(handover, "");
    if (slot_) slot_->set(memory_);
    return Outcome::more;
  }();
  publish();
  return outcome;
}

Engine::Outcome Engine::adopt_postgres(const Handover& handover) {
  // Catch the new generation up and switch, in one transaction.
  try {
    GlobalPosition at = handover.position;
    sql([&] { return session_.exec("BEGIN"); });
    GenerationSql gen(session_, backend_.schema, handover.generation);
    for (;;) {
      auto page = backend_.store->read_all(at, config_.options.page_size, config_.options.filter);
      if (!page) throw SqlError("read_all failed: " + page.error().message, true);
      for (const auto& e : page->events) {
        pg_->apply(gen, e);
        at = e.position;
      }
      if (page->events.size() < config_.options.page_size) break;
    }
    const bool moved = sql([&] {
      return pg_checkpoints::compare_and_set(session_, checkpoint_name(), Checkpoint{position_, generation_},
                                             Checkpoint{at, handover.generation});
    });
    if (!moved) throw SqlError("the checkpoint of '" + checkpoint_name() + "' moved", true);
    point_views(handover.generation);
    sql([&] { pg_checkpoints::remove(session_, checkpoint_name() + "~rebuild"); });
    sql([&] { return session_.exec("COMMIT"); });
    const int old = generation_;
    generation_ = handover.generation;
    position_ = at;
    finish_rebuild(handover, "");
    try {
      GenerationSql old_gen(session_, backend_.schema, old);
      for (const auto& t : pg_->tables()) session_.exec("DROP TABLE IF EXISTS " + old_gen.table(t) + " CASCADE");
    } catch (const pg::SqlFailure&) {
      // The switch is committed; an old generation left behind is only garbage.
    }
    return Outcome::more;
  } catch (const SqlError& e) {
    if (e.connection_lost) return lost(e.what());
    session_.rollback_if_open();
    return abandon(handover, std::string("switch to the rebuilt model failed: ") + e.what());
  } catch (const std::exception& e) {
    session_.rollback_if_open();
    return abandon(handover, std::string("switch to the rebuilt model failed: ") + e.what());
  }
}

void Engine::finish_rebuild(const Handover& handover, const std::string& error) {
  if (!handover.progress) return;
  std::lock_guard lock(handover.progress->mutex);
  handover.progress->progress.active = false;
  handover.progress->progress.finished = error.empty();
  handover.progress->progress.error = error;
}

Engine::Outcome Engine::abandon(const Handover& handover, const std::string& error) {
  // The live model stays; the rebuild is reported failed, never half-applied.
  error_ = "rebuild abandoned: " + error;
  finish_rebuild(handover, error);
  return Outcome::caught_up;
}

ProjectionStatus Engine::status() {
  ProjectionStatus s;
  s.name = config_.options.name;
  s.state = state_;
  s.position = position_;
  s.events_applied = applied_;
  s.dead_letters = dead_letters_;
  s.error = error_;
  if (state_ == ProjectionState::standby || state_ == ProjectionState::starting) return s;
  // Everything else comes from the store: the engine never reads its tables.
  auto backlog = backend_.store->backlog(position_, config_.options.filter);
  if (!backlog) {
    if (s.error.empty()) s.error = "status: " + backlog.error().message;
    return s;
  }
  s.head = std::max(backlog->head, position_);
  s.lag_events = backlog->readable;
  s.lag_ms = backlog->oldest_ms;
  s.held_back_events = backlog->held_back;
  s.stalled_ms = backlog->held_back_ms;
  s.blocked_by = backlog->held_by;
  return s;
}

void Engine::mark_stopped() {
  // Only an active instance reports: a standby stopping says nothing about the active one.
  if (opened_ && !stopped_ && !config_.rebuild) report("stopped", "");
}

}  // namespace eventcore::projections::detail
