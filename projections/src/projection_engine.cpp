#include "projection_engine.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace eventcore::projections::detail {

namespace {

std::string tx_text(const GlobalPosition& p) { return std::to_string(p.transaction); }
std::string seq_text(const GlobalPosition& p) { return std::to_string(p.sequence); }

// Thrown inside a page transaction when the checkpoint moved under us: another
// instance applied these events (it can only happen after losing the lock).
struct CheckpointMoved : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

Engine::Engine(EngineConfig config, std::shared_ptr<EventStore> store,
               ProjectionRuntime::ProjectionFactory memory_factory,
               ProjectionRuntime::PostgresProjectionFactory pg_factory, std::shared_ptr<InstanceSlot> slot)
    : config_(std::move(config)),
      store_(std::move(store)),
      memory_factory_(std::move(memory_factory)),
      pg_factory_(std::move(pg_factory)),
      slot_(std::move(slot)) {
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

Engine::Outcome Engine::lost(const std::string& message) {
  session_.rollback_if_open();
  session_.close();
  // PostgreSQL read models reload the committed checkpoint on reconnect (the
  // outcome of the last commit is unknown); in-memory ones keep their guard.
  opened_ = false;
  error_ = message;
  return Outcome::transient;
}

void Engine::save_state(const char* state, const std::string& error) {
  try {
    session_.exec(
        "UPDATE projection_checkpoints SET state = $2, error = $3, owner = $4, updated_at = now() "
        "WHERE name = $1",
        {checkpoint_name(), state, error.empty() ? std::nullopt : std::optional<std::string_view>(error),
         config_.owner});
  } catch (const SqlError&) {
    // Status only; the next open writes it again.
  }
}

void Engine::point_views(int generation) {
  if (!pg_) return;
  GenerationSql sql(session_, generation);
  for (const auto& table : pg_->tables()) {
    const std::string view = session_.quoted_schema() + "." + quote_ident(table);
    session_.exec("DROP VIEW IF EXISTS " + view);
    session_.exec("CREATE VIEW " + view + " AS SELECT * FROM " + sql.table(table));
  }
}

void Engine::create_generation(int generation, bool with_views) {
  GenerationSql sql(session_, generation);
  for (const auto& table : pg_->tables()) session_.exec("DROP TABLE IF EXISTS " + sql.table(table) + " CASCADE");
  pg_->create(sql);
  if (with_views) point_views(generation);
}

Engine::Outcome Engine::open() {
  if (!session_.connected()) {
    auto connected = session_.connect(config_.conninfo, config_.schema,
                                      "eventcore-projection:" + config_.options.name);
    if (!connected) {
      error_ = connected.error().message;
      return Outcome::transient;
    }
  }
  try {
    // Safe for exactly-once: a crash can lose only the newest commits, and
    // each loses its read-model writes and its checkpoint together, so those
    // events are applied again. It saves a WAL flush per page.
    session_.exec("SET synchronous_commit = off");
    if (is_postgres() && !config_.rebuild) {
      // The lock lives as long as this session: the session that writes the
      // read model is the one that holds it, so losing one loses both.
      auto got = session_.exec("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))",
                               {config_.schema, config_.options.name});
      if (got.at(0).at(0) != "t") {
        state_ = ProjectionState::standby;
        return Outcome::standby;
      }
    }
    session_.exec("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                  {checkpoint_name()});
    if (config_.rebuild) {
      session_.exec("UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3::bigint, "
                    "generation = $4::int WHERE name = $1",
                    {checkpoint_name(), tx_text(config_.rebuild_from), seq_text(config_.rebuild_from),
                     std::to_string(config_.rebuild_generation)});
    }
    auto row = session_.exec(
        "SELECT tx_id::text, position, generation FROM projection_checkpoints WHERE name = $1",
        {checkpoint_name()});
    const GlobalPosition checkpoint = parse_position(row.at(0).at(0), row.at(0).at(1));
    generation_ = std::atoi(row.at(0).at(2).c_str());

    if (is_postgres()) {
      position_ = checkpoint;
      if (!pg_) pg_ = pg_factory_();
      if (config_.rebuild) {
        session_.exec("BEGIN");
        create_generation(generation_, false);
        session_.exec("COMMIT");
      } else {
        // A first start creates generation 1; later starts find it.
        GenerationSql sql(session_, generation_);
        const auto tables = pg_->tables();
        bool exists = true;
        for (const auto& t : tables)
          if (session_.exec("SELECT to_regclass($1) IS NOT NULL", {sql.table(t)}).at(0).at(0) != "t") exists = false;
        if (!exists) {
          session_.exec("BEGIN");
          create_generation(generation_, true);
          session_.exec("COMMIT");
        }
      }
    }
    save_state("running", "");
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
    error_ = std::string("cannot start projection '") + config_.options.name + "': " + e.what();
    state_ = ProjectionState::stopped_with_error;
    stopped_ = true;
    return Outcome::stopped;
  }
}

Engine::Outcome Engine::step() {
  if (stopped_) return Outcome::stopped;
  if (!opened_) {
    auto outcome = open();
    if (outcome != Outcome::more) return outcome;
  }
  std::unique_ptr<Result<ReadAllPage>> read;
  if (prefetch_.valid()) {
    auto prefetched = prefetch_.get();
    if (prefetch_from_ == position_)  // else stale: a page was retried or skipped
      read = std::make_unique<Result<ReadAllPage>>(std::move(prefetched));
  }
  if (!read)
    read = std::make_unique<Result<ReadAllPage>>(
        store_->read_all(position_, config_.options.page_size, config_.options.filter));
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
  if (events.size() >= config_.options.page_size) {
    // Catching up: read the next page (from where this one ends, which is
    // where the checkpoint will be once it is applied) while applying this
    // one. The reading thread also frees the page before last: pages are
    // allocated and freed by the same kind of thread, not across the two.
    prefetch_from_ = events.back().position;
    prefetch_ = std::async(std::launch::async, [store = store_, from = prefetch_from_, old = std::move(retired_),
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
    session_.exec("BEGIN");
    GenerationSql sql(session_, generation);
    for (; i < end; ++i) pg_->apply(sql, events[i]);
    const GlobalPosition last = events[end - 1].position;
    auto moved = session_.exec(
        "UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3::bigint, updated_at = now() "
        "WHERE name = $1 AND tx_id = $4::xid8 AND position = $5::bigint RETURNING 1",
        {checkpoint_name(), tx_text(last), seq_text(last), tx_text(position_), seq_text(position_)});
    if (moved.size() != 1) throw CheckpointMoved("the checkpoint of '" + checkpoint_name() + "' moved");
    session_.exec("COMMIT");
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
  const std::string description = "event " + event.id.str() + " (" + event.type + ", stream '" +
                                  event.stream.str() + "' version " + std::to_string(event.version.value) +
                                  ", position " + to_string(event.position) + ") failed " +
                                  std::to_string(attempts) + " times: " + error;
  if (policy.on_poison == PoisonPolicy::stop) {
    stopped_ = true;
    state_ = ProjectionState::stopped_with_error;
    error_ = "projection '" + config_.options.name + "' stopped: " + description;
    save_state("stopped_with_error", error_);
    return Outcome::stopped;
  }
  // Dead letter: recorded, and for PostgreSQL read models the checkpoint moves
  // past the event in the same transaction.
  try {
    session_.exec("BEGIN");
    session_.exec(
        "INSERT INTO projection_dead_letters (projection, tx_id, position, event_id, stream_id, "
        "stream_version, event_type, error, attempts) VALUES ($1, $2::xid8, $3::bigint, $4::uuid, $5, "
        "$6::bigint, $7, $8, $9::int)",
        {config_.options.name, tx_text(event.position), seq_text(event.position), event.id.str(),
         event.stream.str(), std::to_string(event.version.value), event.type, error,
         std::to_string(attempts)});
    if (is_postgres()) {
      auto moved = session_.exec(
          "UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3::bigint, updated_at = now() "
          "WHERE name = $1 AND tx_id = $4::xid8 AND position = $5::bigint RETURNING 1",
          {checkpoint_name(), tx_text(event.position), seq_text(event.position), tx_text(position_),
           seq_text(position_)});
      if (moved.size() != 1) {
        session_.rollback_if_open();
        return lost("the checkpoint of '" + checkpoint_name() + "' moved");
      }
    }
    session_.exec("COMMIT");
  } catch (const SqlError& e) {
    if (e.connection_lost) return lost(e.what());
    session_.rollback_if_open();
    stopped_ = true;
    state_ = ProjectionState::stopped_with_error;
    error_ = "projection '" + config_.options.name + "' stopped: cannot dead-letter " + description + ": " + e.what();
    return Outcome::stopped;
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
  // The checkpoint row of an in-memory model is only its progress report
  // (status() answers from memory): written at most once a second, so that
  // following a busy log costs no extra commit per page.
  const auto now = config_.clock->now();
  if (now - last_report_ < std::chrono::seconds(1)) return Outcome::more;
  last_report_ = now;
  try {
    session_.exec(
        "UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3::bigint, updated_at = now() "
        "WHERE name = $1",
        {checkpoint_name(), tx_text(position_), seq_text(position_)});
  } catch (const SqlError& e) {
    if (e.connection_lost) lost(e.what());
  }
  return Outcome::more;
}

Engine::Outcome Engine::adopt(const Handover& handover) {
  if (!opened_) {
    auto outcome = open();
    if (outcome == Outcome::transient) return outcome;
    if (outcome != Outcome::more)
      return abandon(handover, "projection '" + config_.options.name + "' is no longer active in this process");
  }
  if (!is_postgres()) {
    // Bring the new instance up to the head, then swap: the old one served
    // readers until this moment.
    auto instance = handover.instance;
    GlobalPosition at = handover.position;
    for (;;) {
      auto page = store_->read_all(at, config_.options.page_size, config_.options.filter);
      if (!page) return lost("read_all failed: " + page.error().message);
      for (const auto& e : page->events) {
        try {
          instance->apply(e);
        } catch (const std::exception& ex) {
          return abandon(handover, "event " + e.id.str() + " (" + e.type + ", position " + to_string(e.position) +
                                       ") failed while catching the rebuilt model up: " + ex.what());
        } catch (...) {
          return abandon(handover, "event " + e.id.str() + " failed while catching the rebuilt model up");
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
  }
  // PostgreSQL: catch the new generation up and switch in one transaction.
  try {
    GlobalPosition at = handover.position;
    session_.exec("BEGIN");
    GenerationSql sql(session_, handover.generation);
    for (;;) {
      auto page = store_->read_all(at, config_.options.page_size, config_.options.filter);
      if (!page) throw SqlError("read_all failed: " + page.error().message, true);
      for (const auto& e : page->events) {
        pg_->apply(sql, e);
        at = e.position;
      }
      if (page->events.size() < config_.options.page_size) break;
    }
    auto moved = session_.exec(
        "UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3::bigint, generation = $6::int, "
        "updated_at = now() WHERE name = $1 AND tx_id = $4::xid8 AND position = $5::bigint RETURNING 1",
        {checkpoint_name(), tx_text(at), seq_text(at), tx_text(position_), seq_text(position_),
         std::to_string(handover.generation)});
    if (moved.size() != 1) throw SqlError("the checkpoint of '" + checkpoint_name() + "' moved", true);
    point_views(handover.generation);
    session_.exec("DELETE FROM projection_checkpoints WHERE name = $1", {checkpoint_name() + "~rebuild"});
    session_.exec("COMMIT");
    const int old = generation_;
    generation_ = handover.generation;
    position_ = at;
    GenerationSql old_sql(session_, old);
    finish_rebuild(handover, "");
    try {
      for (const auto& t : pg_->tables()) session_.exec("DROP TABLE IF EXISTS " + old_sql.table(t) + " CASCADE");
    } catch (const SqlError&) {
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
  if (!session_.connected()) return s;
  try {
    auto head = session_.exec(
        "SELECT tx_id::text, position FROM events WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) "
        "ORDER BY tx_id DESC, position DESC LIMIT 1");
    if (!head.empty()) s.head = parse_position(head[0][0], head[0][1]);
    // Lag counts the events this projection still has to apply: the wanted ones.
    const auto& filter = config_.options.filter;
    std::optional<std::string> types, prefix;
    if (!filter.types.empty()) {
      std::string literal = "{";
      for (const auto& t : filter.types) {
        if (literal.size() > 1) literal += ',';
        literal += '"';
        for (char c : t) {
          if (c == '"' || c == '\\') literal += '\\';
          literal += c;
        }
        literal += '"';
      }
      types = literal + "}";
    }
    if (!filter.stream_prefix.empty()) prefix = filter.stream_prefix;
    const std::string wanted =
        " AND ($3::text[] IS NULL OR event_type = ANY($3::text[]))"
        " AND ($4::text IS NULL OR starts_with(stream_id, $4::text))";
    const std::vector<std::optional<std::string>> params{tx_text(position_), seq_text(position_), types, prefix};
    if (s.head > s.position) {
      auto lag = session_.exec(
          "SELECT count(*) FROM events WHERE (tx_id, position) > ($1::xid8, $2::bigint) "
          "AND tx_id < pg_snapshot_xmin(pg_current_snapshot())" + wanted,
          params);
      s.lag_events = std::strtoull(lag.at(0).at(0).c_str(), nullptr, 10);
      auto age = session_.exec(
          "SELECT extract(epoch FROM clock_timestamp() - recorded_at) * 1000 FROM events "
          "WHERE (tx_id, position) > ($1::xid8, $2::bigint)" + wanted + " ORDER BY tx_id, position LIMIT 1",
          params);
      if (!age.empty()) s.lag_ms = std::max(0.0, std::atof(age[0][0].c_str()));
    }
    // Committed events that gap-free reading cannot return yet: a transaction
    // that began before them (anywhere on the server) is still open.
    auto held = session_.exec(
        "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at)) * 1000, 0) "
        "FROM events WHERE (tx_id, position) > ($1::xid8, $2::bigint) "
        "AND tx_id >= pg_snapshot_xmin(pg_current_snapshot())" + wanted,
        params);
    s.held_back_events = std::strtoull(held.at(0).at(0).c_str(), nullptr, 10);
    if (s.held_back_events > 0) {
      s.stalled_ms = std::max(0.0, std::atof(held.at(0).at(1).c_str()));
      auto holder = session_.exec(
          "SELECT pid, coalesce(datname, ''), coalesce(state, ''), "
          "coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0) "
          "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
          "ORDER BY age(backend_xid) DESC LIMIT 1");
      if (holder.empty()) {
        s.blocked_by = "a transaction pg_stat_activity does not show (a prepared transaction, or another "
                       "role's session: grant pg_read_all_stats to see it)";
      } else {
        char age[32];
        std::snprintf(age, sizeof age, "%.1f", std::atof(holder[0][3].c_str()));
        s.blocked_by = "pid " + holder[0][0] + " (database '" + holder[0][1] + "', " +
                       (holder[0][2].empty() ? std::string() : holder[0][2] + ", ") + "transaction open " + age +
                       " s)";
      }
    }
  } catch (const SqlError& e) {
    if (e.connection_lost) lost(e.what());
  }
  return s;
}

void Engine::mark_stopped() {
  // Only the holder writes the row: a standby stopping says nothing about the active one.
  if (session_.connected() && opened_ && !stopped_) save_state("stopped", "");
}

}  // namespace eventcore::projections::detail
