#pragma once

// Projections: read models folded from the event log, kept up to date by
// actors that follow the log through the store's wake-ups.
//
// What a user writes: a ProjectionOptions (a name and the events wanted) and
// either a Projection (a read model in memory or any sink outside
// PostgreSQL) or a PostgresProjection (a read model in PostgreSQL tables).
// A ProjectionRuntime runs any number of them in one process, on any
// EventStore. Test a projection on a MemoryStore, run it on PostgreSQL:
//
//   auto runtime = ProjectionRuntime::start(system, store).value();
//   runtime->add({.name = "balances", .filter = {.stream_prefix = "account-"}},
//                [] { return std::make_unique<Balances>(); });
//   ... executor.execute_sync(...) ...
//   runtime->wait_until_caught_up("balances", position, 5s);
//   ... runtime->instance("balances"), runtime->status("balances") ...
//   runtime->stop();
//
// How it runs: every projection reads pages of events after its checkpoint
// with the store's gap-free read_all, so no event is skipped and none is
// delivered out of order. The store's wake-ups (EventStore::watch_appends:
// after each append in memory; LISTEN/NOTIFY on PostgreSQL, where the
// writers' PostgresStore notifies on the same notify_channel) wake the
// projections; a slow poll (ProjectionRuntimeConfig::poll_interval) wakes them too, so
// a lost wake-up delays a projection by at most that long. Checkpoints live
// in a CheckpointStore and leadership in a Leadership (checkpoint_store.hpp,
// leadership.hpp): by default in memory, or in the PostgresStore's schema
// when the store is one. The runtime never reads a store's tables itself.
//
// Guarantees:
// - Order: a projection sees the events it wants in the store's global order.
// - PostgresProjection, exactly-once: a page of events is applied in one
//   transaction on a connection the runtime owns, and the same transaction
//   moves the checkpoint (compare-and-set on the previous checkpoint). A crash
//   at any moment leaves the read model and the checkpoint consistent: no
//   event is applied twice, none is missed.
// - Projection, at-least-once with a position guard: the runtime never hands
//   an instance an event at or before the last position it applied, so within
//   a process every event is applied exactly once; an instance starts from
//   start_position() (the start of the log unless it says otherwise). Its
//   checkpoint row is a progress report only (written at most once a second);
//   a sink that survives restarts persists its own position and returns it
//   from start_position().
// - Durability: the runtime's sessions commit with synchronous_commit = off.
//   A server crash can lose the newest page commits, but always a page's
//   read-model writes together with its checkpoint: those events are applied
//   again, never twice.
// - One active instance per PostgresProjection name and schema across all
//   processes (and per Projection with one_instance): the runtime takes its
//   Leadership first (PostgreSQL: a session advisory lock); other instances
//   wait as standbys and take over (from the committed checkpoint) when the
//   active one's guard is released or its session ends, however it ends.
// - Poison events: an apply that throws is retried ErrorPolicy::max_attempts
//   times with exponential backoff; then, per ErrorPolicy::on_poison, the
//   projection stops with state stopped_with_error and the event in the
//   error message, or records the event as a dead letter and moves
//   on (in the CheckpointStore's dead letters; PostgreSQL:
//   projection_dead_letters). An event is never skipped silently. A stopped projection stays
//   stopped until it is started again (a new runtime or process), which
//   retries the event from the checkpoint.
// - Supervision: a projection actor that ends unexpectedly (killed, or an
//   error that escaped) is started again with a new engine: a
//   PostgresProjection resumes from its committed checkpoint, a Projection
//   gets a new instance from its factory, which starts at start_position().
// - Rebuild: a fresh read model (a new generation of a PostgresProjection's
//   tables, or a new Projection instance) is folded from a position in pages
//   (memory bounded by page_size whatever the log size) while the live one
//   keeps running; when it has caught up, the live actor switches to it
//   atomically (for PostgreSQL: one transaction moves the checkpoint and points
//   the views at the new tables). If catching the new model up fails, the
//   rebuild is abandoned (RebuildProgress::error) and the live model stays.
// - Catch-up reads the next page while the current one is applied.
//
// Tables (PostgreSQL, in the store's schema, created by its migrations):
// projection_checkpoints (one row per projection: position, generation,
// state, owner), projection_dead_letters, and each PostgresProjection's
// tables: <table>_g<generation>, read through a view named <table> that
// always points at the live generation.
//
// Threads: apply() is called from one thread at a time (the projection's
// actor, a thread of its own); an instance that is also read from other
// threads must synchronize those reads itself. Runtime methods are thread-safe
// and block the calling thread (status and rebuild ask the actors, up to a
// timeout): call them from threads, not from inside a cooperative actor.
// Nothing here throws across the runtime's interface: failures are Results.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/projections/checkpoint_store.hpp"
#include "eventcore/projections/leadership.hpp"
#include "eventcore/store/event_codec.hpp"
#include "eventcore/store/event_store.hpp"

namespace caf {
class actor_system;
}

namespace eventcore::projections {

// Time, injected so that backoff and lag can be tested without waiting.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual std::chrono::system_clock::time_point wall_now() = 0;
  virtual void sleep_for(std::chrono::nanoseconds duration) = 0;
  static std::shared_ptr<Clock> system();
};

enum class PoisonPolicy {
  stop,         // the projection stops (state stopped_with_error) at the event
  dead_letter,  // the event goes to projection_dead_letters; the projection moves on
};

struct ErrorPolicy {
  int max_attempts = 3;  // attempts per event (>= 1) before the policy applies
  std::chrono::milliseconds initial_backoff{50};  // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{2000};
  PoisonPolicy on_poison = PoisonPolicy::stop;
};

struct ProjectionOptions {
  std::string name;    // unique within the schema: 1..60 bytes of [a-z0-9_]
  EventFilter filter;  // the events it wants (empty: all)
  std::size_t page_size = 1000;  // events per read and per transaction
  ErrorPolicy errors;
  // A Projection whose sink is shared between processes (a table elsewhere,
  // a mail sender) runs as one active instance, like a PostgresProjection.
  bool one_instance = false;
};

// A read model outside PostgreSQL. At-least-once with a position guard (see above).
class Projection {
 public:
  virtual ~Projection() = default;
  // Folds one event into the model. Throwing marks the event as failed (retry, then policy).
  virtual void apply(const StoredEvent& event) = 0;
  // Where this instance's model already is (e.g. restored from a snapshot);
  // the runtime delivers only later events. Default: the start of the log.
  virtual GlobalPosition start_position() const { return {}; }
};

// A statement failed. connection_lost distinguishes an outage (retried
// without counting against the event) from a rejected statement (a failed apply).
struct SqlError : std::runtime_error {
  SqlError(const std::string& message, bool lost) : std::runtime_error(message), connection_lost(lost) {}
  bool connection_lost;
};

// The open transaction a PostgresProjection writes through. Parameters are
// text ($1, $2...; std::nullopt is NULL); statements throw SqlError.
class Sql {
 public:
  virtual ~Sql() = default;
  // Runs one statement; returns the rows' values as text (NULL as "").
  virtual std::vector<std::vector<std::string>> exec(
      std::string_view statement, std::initializer_list<std::optional<std::string_view>> params = {}) = 0;
  // The physical, schema-qualified name of one of the projection's tables in
  // the generation being written (e.g. "eventcore"."counts_g2").
  virtual std::string table(std::string_view name) const = 0;
};

// A read model in PostgreSQL tables. Exactly-once (see above).
class PostgresProjection {
 public:
  virtual ~PostgresProjection() = default;
  // The logical names of its tables; each is readable as a view of that name.
  virtual std::vector<std::string> tables() const = 0;
  // Creates the tables (named through sql.table()) of a new, empty generation.
  virtual void create(Sql& sql) = 0;
  // Folds one event into the tables, inside the page's transaction.
  virtual void apply(Sql& sql, const StoredEvent& event) = 0;
};

// Typed projections: written over a domain's event variant (the Event of
// its commands, an EventCodec<Event> variant), decoded by the runtime's
// thread before the projection sees it. What to do with an event of a type
// the variant does not know (a newer writer's type, another domain's event
// under the same prefix) is the projection's choice:
enum class UnknownEvents {
  skip,    // ignore it; the checkpoint moves past it
  poison,  // treat it as a failed apply: retried, then the ErrorPolicy (stop or dead letter)
};
// An event that is known but does not decode (malformed_event) is always poison.

namespace detail {
// The decoded event, or none when it is of an unknown type to skip; throws
// (a failed apply) otherwise.
template <class Event>
std::optional<Event> decode_for_projection(const StoredEvent& stored, UnknownEvents unknown) {
  auto decoded = EventCodec<Event>::decode(stored);
  if (decoded) return std::move(decoded).value();
  if (decoded.error().code == ErrorCode::unknown_event_type && unknown == UnknownEvents::skip) return std::nullopt;
  throw std::runtime_error(to_string(decoded.error()));
}
}  // namespace detail

// A Projection over Event, e.g.
//
//   class Balances final : public TypedProjection<bank::Event> {
//     void apply_event(const bank::Event& event, const StoredEvent& stored) override { ... }
//   };
template <class Event>
class TypedProjection : public Projection {
 public:
  explicit TypedProjection(UnknownEvents unknown = UnknownEvents::skip) : unknown_(unknown) {}
  // Folds one decoded event; `stored` carries its stream, version, position and metadata.
  virtual void apply_event(const Event& event, const StoredEvent& stored) = 0;
  void apply(const StoredEvent& stored) final {
    if (auto event = detail::decode_for_projection<Event>(stored, unknown_)) apply_event(*event, stored);
  }

 private:
  UnknownEvents unknown_;
};

// A PostgresProjection over Event (exactly-once, as PostgresProjection).
template <class Event>
class TypedPostgresProjection : public PostgresProjection {
 public:
  explicit TypedPostgresProjection(UnknownEvents unknown = UnknownEvents::skip) : unknown_(unknown) {}
  virtual void apply_event(Sql& sql, const Event& event, const StoredEvent& stored) = 0;
  void apply(Sql& sql, const StoredEvent& stored) final {
    if (auto event = detail::decode_for_projection<Event>(stored, unknown_)) apply_event(sql, *event, stored);
  }

 private:
  UnknownEvents unknown_;
};

enum class ProjectionState {
  starting,
  standby,             // another process holds this projection; waiting to take over
  catching_up,         // behind the head of the log
  running,             // at the head, following notifications
  stopped_with_error,  // a poison event under PoisonPolicy::stop, or a fatal setup error
  stopped,
};
std::string_view to_string(ProjectionState state) noexcept;

struct ProjectionStatus {
  std::string name;
  ProjectionState state = ProjectionState::starting;
  GlobalPosition position;   // the last event applied (the checkpoint)
  GlobalPosition head;       // the last event read_all can return now
  std::uint64_t lag_events = 0;  // events it wants after position (its filter applied)
  double lag_ms = 0;         // age of the oldest of those, committed or not (0 when none)
  std::uint64_t events_applied = 0;  // by this runtime since it started
  std::uint64_t dead_letters = 0;    // recorded by this runtime since it started
  std::uint64_t restarts = 0;        // times its actor ended unexpectedly and was started again
  // Gap-free reading returns an event only once every transaction that began
  // before it has ended, on the whole server (any database). An open
  // transaction therefore stalls every projection: events committed after it
  // began stay invisible. How many of the wanted events are held back that
  // way, for how long (the oldest's age), and which transaction holds them
  // (its pid, database, state and age). Remedy: end it; prevent it with
  // idle_in_transaction_session_timeout (and short transactions) on every
  // database of the cluster.
  std::uint64_t held_back_events = 0;
  double stalled_ms = 0;
  std::string blocked_by;  // e.g. "pid 4242 (database 'reports', idle in transaction, transaction open 31.2 s)"
  std::string error;         // why it stopped, or the last transient failure
};

struct RebuildProgress {
  bool active = false;    // a rebuild is running (until the live projection has switched)
  bool finished = false;  // the last rebuild switched the live projection over
  std::uint64_t events_done = 0;
  double events_per_s = 0;
  GlobalPosition position;
  GlobalPosition head;
  std::string error;
};

struct ProjectionRuntimeConfig {
  std::chrono::milliseconds poll_interval{1000};     // safety-net wake-up of every projection
  std::chrono::milliseconds standby_interval{500};   // how often a standby tries to take over
  std::chrono::milliseconds retry_interval{200};     // after a transient failure (doubling, to 2 s)
  std::string owner;  // who runs a projection, reported beside its checkpoint (default host:pid)
  std::shared_ptr<Clock> clock;  // default Clock::system()
  // Default: postgres_checkpoint_store/postgres_leadership when the store is
  // a PostgresStore, else memory_checkpoint_store/memory_leadership (one per runtime).
  std::shared_ptr<CheckpointStore> checkpoints;
  std::shared_ptr<Leadership> leadership;
  // Runs the actors on the actor system's scheduler instead of threads of
  // their own, and reads no page ahead: for stores that answer at once and
  // for deterministic simulation (CAF's test coordinator). stop() then does
  // not wait for the actors; the caller's scheduler runs their exits.
  bool cooperative = false;
};

// Runs projections in this process. See the top of this file.
class ProjectionRuntime {
 public:
  // Starts following `store` (watch_appends and the poll). A
  // PostgresProjection needs a PostgresStore: its tables live in the store's
  // database and schema. Errors: invalid_argument.
  static Result<std::unique_ptr<ProjectionRuntime>> start(caf::actor_system& system,
                                                          std::shared_ptr<EventStore> store,
                                                          ProjectionRuntimeConfig config = {});
  ~ProjectionRuntime();  // stop()

  using ProjectionFactory = std::function<std::unique_ptr<Projection>()>;
  using PostgresProjectionFactory = std::function<std::unique_ptr<PostgresProjection>()>;

  // Starts a projection. The factory makes the instance (and, on rebuild, a
  // fresh one). Errors: invalid_argument (bad or duplicate name, a
  // PostgresProjection on a store that is not a PostgresStore).
  Status add(ProjectionOptions options, ProjectionFactory factory);
  Status add(ProjectionOptions options, PostgresProjectionFactory factory);

  // The live instance of an in-memory projection (nullptr for unknown names).
  // It changes when a rebuild switches over.
  std::shared_ptr<Projection> instance(const std::string& name) const;

  // Current status; errors: invalid_argument (unknown name), timeout.
  Result<ProjectionStatus> status(const std::string& name,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Waits until projection `name` has applied every event it wants at or
  // before `position` (e.g. an AppendResult's or a command's position), so a
  // test or a read-your-writes request can read its model. Errors:
  // invalid_argument (unknown name), timeout (saying where it is), failed
  // (it stopped with an error, which the message gives).
  Status wait_until_caught_up(const std::string& name, GlobalPosition position,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Rebuilds into a fresh read model from `from`, then switches (see above).
  // Errors: invalid_argument (unknown name, a rebuild already running).
  Status rebuild(const std::string& name, GlobalPosition from = {});
  RebuildProgress rebuild_progress(const std::string& name) const;

  // Stops every actor; returns when they have stopped.
  void stop();

  struct Impl;

 private:
  explicit ProjectionRuntime(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the supervision of its actors
};

}  // namespace eventcore::projections
