#pragma once

// The work of one projection, without actors: open (connect, lock, load the
// checkpoint, create the read model), step (read one page after the
// checkpoint and apply it with the delivery guarantee of its kind), status.
// The projection actor drives it; tests can drive it directly.

#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "eventcore/projections/projection.hpp"
#include "sql_session.hpp"

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

struct EngineConfig {
  ProjectionOptions options;
  std::string conninfo;
  std::string schema;
  std::string owner;
  std::shared_ptr<Clock> clock;
  // A rebuild writes generation `rebuild_generation` under the checkpoint
  // row "<name>~rebuild", starting after rebuild_from; no lock, no views.
  bool rebuild = false;
  int rebuild_generation = 0;
  GlobalPosition rebuild_from;
};

class Engine {
 public:
  enum class Outcome {
    more,       // a full page was applied: there may be more right now
    caught_up,  // the last read returned less than a page
    standby,    // another process holds the projection
    transient,  // the database failed; try again later
    stopped,    // stopped with an error (see status().error)
  };

  Engine(EngineConfig config, std::shared_ptr<EventStore> store,
         ProjectionRuntime::ProjectionFactory memory_factory,
         ProjectionRuntime::PostgresProjectionFactory pg_factory, std::shared_ptr<InstanceSlot> slot);
  ~Engine();

  Outcome step();
  // Switches to a rebuilt model (see Handover); Outcome::transient to retry.
  Outcome adopt(const Handover& handover);
  ProjectionStatus status();
  // Marks the projection stopped in its checkpoint row (best effort).
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
  Outcome open();
  Outcome apply_postgres(const std::vector<StoredEvent>& events);
  Outcome apply_memory(const std::vector<StoredEvent>& events);
  TxResult postgres_tx(const std::vector<StoredEvent>& events, std::size_t begin, std::size_t end,
                       int generation);
  Outcome poison(const StoredEvent& event, int attempts, const std::string& error, int generation);
  void backoff(int attempt);
  Outcome lost(const std::string& message);
  Outcome abandon(const Handover& handover, const std::string& error);
  void finish_rebuild(const Handover& handover, const std::string& error);
  void create_generation(int generation, bool with_views);
  void point_views(int generation);
  void save_state(const char* state, const std::string& error);
  std::string checkpoint_name() const;

  EngineConfig config_;
  std::shared_ptr<EventStore> store_;
  ProjectionRuntime::ProjectionFactory memory_factory_;
  ProjectionRuntime::PostgresProjectionFactory pg_factory_;
  std::shared_ptr<InstanceSlot> slot_;

  Session session_;
  bool opened_ = false;
  bool stopped_ = false;
  ProjectionState state_ = ProjectionState::starting;
  std::unique_ptr<PostgresProjection> pg_;
  std::shared_ptr<Projection> memory_;
  GlobalPosition position_;
  int generation_ = 1;
  std::uint64_t applied_ = 0;
  std::chrono::steady_clock::time_point last_report_{};
  // While catching up, the next page is read while this one is applied.
  std::future<Result<ReadAllPage>> prefetch_;
  GlobalPosition prefetch_from_;
  std::unique_ptr<Result<ReadAllPage>> retired_;  // the last page applied, freed by the next reader
  std::uint64_t dead_letters_ = 0;
  std::string error_;
};

// The Sql a PostgresProjection writes through: a session in a transaction,
// table names mapped to one generation.
class GenerationSql final : public Sql {
 public:
  GenerationSql(Session& session, int generation) : session_(session), generation_(generation) {}
  std::vector<std::vector<std::string>> exec(
      std::string_view statement, std::initializer_list<std::optional<std::string_view>> params) override {
    return session_.exec(statement, params);
  }
  std::string table(std::string_view name) const override {
    return session_.quoted_schema() + "." + quote_ident(std::string(name) + "_g" + std::to_string(generation_));
  }

 private:
  Session& session_;
  int generation_;
};

}  // namespace eventcore::projections::detail
