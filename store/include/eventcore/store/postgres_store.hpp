#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "eventcore/store/event_store.hpp"

namespace eventcore {

// How appends wake readers that LISTEN on notify_channel (projections). A
// notification is a wake-up, never data: listeners read with read_all.
enum class NotifyMode {
  // The default. Every successful append (and append_batch with at least one
  // success) signals the store's notifier: a thread with a connection of its
  // own that sends `pg_notify(channel, '')` at most once per notify_interval,
  // merging the signals in between, always with a trailing send. Guarantee:
  // every append that returns success is followed, within about
  // notify_interval plus one round trip, by a notification sent after its
  // commit, so a listener woken by it can read it. Appends never wait for the
  // notifier; it connects on the first signal and, while the database is
  // unreachable, retries every 100 ms (signals are merged, never lost). Each
  // process notifies for its own appends only.
  coalesced,
  // pg_notify(channel, '') inside every append transaction. Slow: PostgreSQL
  // holds its notify lock through the commit's WAL flush, so notifying
  // commits serialize (0.07-0.13x of the append throughput without it at
  // 16 clients, docs/PERFORMANCE.md). For tests and benchmarks.
  per_append,
  // Appends send nothing; listeners rely on their poll.
  none,
};

struct PostgresStoreConfig {
  std::string conninfo;                // a libpq connection string or URI
  std::string schema = "eventcore";    // every table lives in this schema (a plain identifier)
  std::size_t pool_size = 8;           // connections held open for appends and reads
  std::string notify_channel = "eventcore_events";
  NotifyMode notify = NotifyMode::coalesced;
  // coalesced: the least time between two notifications (0: send as soon as
  // the previous send is done).
  std::chrono::microseconds notify_interval{1000};
  StoreLimits limits;
  std::chrono::seconds connect_timeout{5};
  // watch_appends' listening connection: a keepalive query this often must
  // answer within another interval, or the connection is replaced.
  std::chrono::milliseconds listen_keepalive{1000};

  // A hot standby of this database (streaming replication) to read the log
  // from. Empty: none. When set, read_all and backlog (what projections
  // read) go to the standby; appends, stream reads, snapshots, command
  // records and notifications stay on conninfo (the primary), so commands
  // never decide on a lagging copy.
  // - watch_appends listens on the primary (a standby cannot LISTEN) and
  //   wakes only once the standby has replayed the primary's WAL as of the
  //   notification (or after replica_wait), so a woken reader finds what
  //   woke it.
  // - read_all stays gap-free on the standby: it takes the standby's own
  //   snapshot, in which the primary's transactions that were in progress
  //   at the replayed point are still in progress.
  // - Long reads on a standby can be cancelled by replay conflicts (a read
  //   then fails and is retried by the projection engine); run the standby
  //   with hot_standby_feedback=on (docs/OPERATIONS.md).
  std::string replica_conninfo;
  std::size_t replica_pool_size = 2;
  std::chrono::milliseconds replica_wait{2000};
};

// An EventStore in PostgreSQL (15 or later), through libpq.
//
// One append is one transaction and one round trip. Version checks are row
// locks on a per-stream row (UPDATE ... WHERE version = expected, or an
// INSERT ... ON CONFLICT for new streams), so they hold under READ COMMITTED
// against writers in any number of processes. read_all is gap-free: it
// returns only events of transactions older than every transaction still in
// progress (pg_snapshot_xmin), ordered by (transaction id, position); see
// docs/ARCHITECTURE.md. Every method is thread-safe; calls block on a pooled
// connection. A lost connection is re-established on the next call; while the
// database is down, calls fail fast with ErrorCode::unavailable. Wake-ups
// for listeners: see NotifyMode (by default coalesced, one extra connection).
class PostgresStore final : public EventStore {
 public:
  // Connects, applies pending schema migrations (safe when several processes
  // start at once) and returns a ready store. Errors: invalid_argument (bad
  // schema name, malformed connection string), unavailable (cannot connect:
  // the message names host, port and database, never a password). With
  // NotifyMode::coalesced it also starts the notifier's thread.
  static Result<std::unique_ptr<PostgresStore>> open(PostgresStoreConfig config);
  // With NotifyMode::coalesced: makes one last attempt at a pending
  // notification (at most connect_timeout when the database is unreachable).
  ~PostgresStore() override;

  Result<AppendResult> append(const AppendRequest& request) override;
  // One round trip and one transaction for the whole batch (group commit):
  // stream rows are locked in one global order first, then each request is
  // checked and applied on its own; see eventcore_append_batch in
  // postgres_migrations.cpp. A batch of one valid request is append().
  std::vector<Result<AppendResult>> append_batch(const std::vector<AppendRequest>& requests) override;
  Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                 StreamVersion to = StreamVersion{~std::uint64_t{0}}) override;
  Result<ReadAllPage> read_all(GlobalPosition after, std::size_t max_count,
                               const EventFilter& filter = {}) override;
  Result<StreamVersion> stream_version(const StreamId& stream) override;
  Result<std::vector<StreamInfo>> list_streams(std::string_view prefix, std::string_view after,
                                               std::size_t max_count) override;
  Result<StoreTotals> totals() override;
  Result<std::optional<Snapshot>> load_snapshot(const StreamId& stream, std::string_view type,
                                                std::uint32_t schema) override;
  Status save_snapshot(const Snapshot& snapshot) override;
  Result<std::optional<CommandRecord>> load_command_record(std::string_view key) override;
  Result<std::uint64_t> expire_command_records(std::chrono::seconds older_than) override;
  // LISTENs on notify_channel (see EventStore::watch_appends and NotifyMode);
  // the first watch starts a thread with a connection of its own.
  std::unique_ptr<AppendWatch> watch_appends(std::function<void()> wake) override;
  // One round trip; held_back and held_by name the oldest open transaction on the server.
  Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& filter = {}) override;

  const PostgresStoreConfig& config() const noexcept;
  // The schema version open() migrates to (the number of the last migration).
  static int schema_version() noexcept;

  // The connection pool, for metrics: connections in use out of pool_size,
  // and how often and how long callers waited for one.
  struct PoolStats {
    std::size_t size = 0, in_use = 0;
    std::uint64_t waits = 0;
    double waited_seconds = 0;
  };
  PoolStats pool_stats() const;

  // Notifications the coalesced notifier has sent so far (0 in the other
  // modes), for tests and benchmarks.
  std::uint64_t notifications_sent() const noexcept;

 private:
  struct Impl;
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The connection string with any password replaced by "***", for messages.
std::string redact_conninfo(const std::string& conninfo);

}  // namespace eventcore
