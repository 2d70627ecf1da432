#pragma once

// The work of one projection, without actors: open (leadership, checkpoint,
// read model), step (read one page after the checkpoint through the
// EventStore and apply it with the delivery guarantee of its kind), status.
// The projection actor drives it; tests can drive it directly.
//
// Two kinds of read model:
// - Projection (in memory or any sink): at-least-once with a position guard;
//   its checkpoint in the CheckpointStore is a progress report.
// - PostgresProjection: exactly-once; each page is one transaction on the
//   engine's own session that writes the read model and moves the checkpoint
//   (compare-and-set), with the store's connection settings and its
//   checkpoint SQL (postgres_checkpoints.hpp).

#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "eventcore/projections/projection.hpp"
#include "postgres_session.hpp"

namespace eventcore::projections::detail {

// The live in-memory instance, shared with ProjectionRuntime::instance().
struct InstanceSlot {
  mutable std::mutex mutex;
  std::shared_ptr<Projection> instance;
  std::shared_ptr<Projection> get() const {
    std::lock_guard lock(mutex);
    return instance;
  }
  void set(std::shared_ptr<Projection> p) {
    std::lock_guard lock(mutex);
    instance = std::move(p);
  }
};

// Where the live engine is, published after every step, for
// ProjectionRuntime::wait_until_caught_up.
struct LiveCell {
  std::mutex mutex;
  std::condition_variable changed;
  GlobalPosition position;
  ProjectionState state = ProjectionState::starting;
  std::string error;
  std::uint64_t steps = 0;
};

// Progress of a rebuild, written by the rebuild and live actors, read by the runtime.
struct ProgressCell {
  mutable std::mutex mutex;
  RebuildProgress progress;
};

// What a finished rebuild hands to the live projection.
struct Handover {
  int generation = 0;                      // PostgreSQL: the rebuilt tables' generation
  GlobalPosition position;                 // the rebuilt model includes every event up to here
  std::shared_ptr<Projection> instance;    // in memory: the rebuilt instance
  std::shared_ptr<ProgressCell> progress;  // finished (or the error) once the switch is decided
};

// What a projection runs on: the log, its checkpoints, its leadership, and
// for a PostgresProjection the database its read model lives in.
struct Backend {
  std::shared_ptr<EventStore> store;
  std::shared_ptr<CheckpointStore> checkpoints;
  std::shared_ptr<Leadership> leadership;
  std::shared_ptr<const pg::ConnectionSettings> postgres;  // null unless the store is a PostgresStore
  std::string schema;                                      // the PostgresStore's schema
};

struct EngineConfig {
  ProjectionOptions options;
  std::string owner;
  std::shared_ptr<Clock> clock;
  // While catching up on a store that blocks, read the next page while this one is applied.
  bool read_ahead = true;
  // A rebuild folds a fresh model from rebuild_from (PostgreSQL: generation
  // `rebuild_generation` under the checkpoint "<name>~rebuild"); it takes no
  // leadership and touches no views.
  bool rebuild = false;
  int rebuild_generation = 0;
  GlobalPosition rebuild_from;
};

class Engine {
 public:
  enum class Outcome {
    more,       // a full page was applied: there may be more right now
    caught_up,  // the last read returned less than a page
    standby,    // another instance holds the projection
    transient,  // the store or database failed; try again later
    stopped,    // stopped with an error (see status().error)
  };

  Engine(EngineConfig config, Backend backend, ProjectionRuntime::ProjectionFactory memory_factory,
         ProjectionRuntime::PostgresProjectionFactory pg_factory, std::shared_ptr<InstanceSlot> slot,
         std::shared_ptr<LiveCell> live);
  ~Engine();

  Outcome step();
  // Switches to a rebuilt model (see Handover); Outcome::transient to retry.
  Outcome adopt(const Handover& handover);
  ProjectionStatus status();
  // Reports the projection stopped (best effort).
  void mark_stopped();

  bool is_postgres() const { return static_cast<bool>(pg_factory_); }
  int generation() const { return generation_; }
  GlobalPosition position() const { return position_; }
  std::shared_ptr<Projection> memory_instance() const { return memory_; }
  const std::string& last_error() const { return error_; }
  std::uint64_t applied() const { return applied_; }
  ProjectionState state() const { return state_; }

 private:
  struct TxResult {
    bool ok = false;
    bool lost = false;
    std::size_t failed = 0;  // index of the event whose apply threw
    std::string error;
  };
  Outcome run_step();
  Outcome open();
  Outcome open_postgres();
  Outcome apply_postgres(const std::vector<StoredEvent>& events);
  Outcome apply_memory(const std::vector<StoredEvent>& events);
  void report_progress();
  TxResult postgres_tx(const std::vector<StoredEvent>& events, std::size_t begin, std::size_t end,
                       int generation);
  Outcome poison(const StoredEvent& event, int attempts, const std::string& error, int generation);
  Outcome dead_letter(const StoredEvent& event, int attempts, const std::string& description,
                      const std::string& error);
  Outcome stop_with(const std::string& error);
  void backoff(int attempt);
  Outcome lost(const std::string& message);
  Outcome abandon(const Handover& handover, const std::string& error);
  Outcome adopt_postgres(const Handover& handover);
  void finish_rebuild(const Handover& handover, const std::string& error);
  void create_generation(int generation, bool with_views);
  void point_views(int generation);
  void report(const char* state, const std::string& error);
  void publish();
  bool exclusive() const;
  std::string checkpoint_name() const;

  EngineConfig config_;
  Backend backend_;
  ProjectionRuntime::ProjectionFactory memory_factory_;
  ProjectionRuntime::PostgresProjectionFactory pg_factory_;
  std::shared_ptr<InstanceSlot> slot_;
  std::shared_ptr<LiveCell> live_;

  std::unique_ptr<LeaderGuard> guard_;
  pg::Session session_;  // PostgresProjection only
  bool opened_ = false;
  bool stopped_ = false;
  ProjectionState state_ = ProjectionState::starting;
  std::unique_ptr<PostgresProjection> pg_;
  std::shared_ptr<Projection> memory_;
  GlobalPosition position_;
  int generation_ = 1;
  std::uint64_t applied_ = 0;
  std::chrono::steady_clock::time_point last_report_{};
  GlobalPosition reported_;  // the last progress report saved (in-memory models)
  // While catching up, the next page is read while this one is applied.
  std::future<Result<ReadAllPage>> prefetch_;
  GlobalPosition prefetch_from_;
  std::unique_ptr<Result<ReadAllPage>> retired_;  // the last page applied, freed by the next reader
  std::uint64_t dead_letters_ = 0;
  std::string error_;
};

// The Sql a PostgresProjection writes through: the engine's session in a
// transaction, table names mapped to one generation.
class GenerationSql final : public Sql {
 public:
  GenerationSql(pg::Session& session, std::string schema, int generation)
      : session_(session), schema_(std::move(schema)), generation_(generation) {}
  std::vector<std::vector<std::string>> exec(
      std::string_view statement, std::initializer_list<std::optional<std::string_view>> params) override {
    try {
      return session_.exec(statement, params);
    } catch (const pg::SqlFailure& e) {
      throw SqlError(e.what(), e.connection_lost);
    }
  }
  std::string table(std::string_view name) const override {
    return pg::quote_ident(schema_) + "." + pg::quote_ident(std::string(name) + "_g" + std::to_string(generation_));
  }

 private:
  pg::Session& session_;
  std::string schema_;
  int generation_;
};

}  // namespace eventcore::projections::detail
