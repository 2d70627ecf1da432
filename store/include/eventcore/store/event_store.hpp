#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/store/event.hpp"
#include "eventcore/store/expected_version.hpp"
#include "eventcore/store/result.hpp"

namespace eventcore {

// The events for one stream of an append, and the condition that stream must
// meet. A StreamWrite with no events is a read-only participant: its version
// is checked like any other, nothing is written to it.
struct StreamWrite {
  StreamId stream;
  ExpectedVersion expected = ExpectedVersion::any();
  std::vector<EventToWrite> events;
};

// What a command leaves under its idempotency key: written in the same
// transaction as the command's events, kept beside the log (never in it:
// read_all and read_stream do not see it) until it expires.
struct CommandRecord {
  std::string key;        // the idempotency key, 1 to 200 bytes
  Payload data;           // opaque to the store (the runtime's encoded result)
  Timestamp recorded_at;  // set by the store when it writes the record
};

// One atomic append across one or several distinct streams.
struct AppendRequest {
  std::vector<StreamWrite> streams;
  // Written with the events, all or nothing; its key must be new: an append
  // whose key already has a record fails with duplicate_key and writes nothing.
  std::optional<CommandRecord> record = std::nullopt;
};

struct AppendResult {
  struct StreamResult {
    StreamId stream;
    StreamVersion version;  // the stream's version after the append
  };
  std::vector<StreamResult> streams;    // in the order of the request
  std::vector<GlobalPosition> positions;  // one per event, in the order of the request
};

// Which events read_all returns. An empty filter matches every event.
struct EventFilter {
  std::vector<std::string> types;  // match any of these types (empty: all types)
  std::string stream_prefix;       // match streams whose id starts with this (empty: all)

  bool matches(const StoredEvent& event) const;
};

// One page of a stream. Iterates, and sizes, like its events.
struct StreamPage {
  std::vector<StoredEvent> events;  // ascending, contiguous versions
  // Where the next page starts: the version after the last event returned,
  // or the requested `from` when none was.
  StreamVersion next;
  // No event in [next, to] existed when the page was read: the stream (or
  // the requested range) ends here. A page cut short by max_count or by the
  // store's page limit is not the end, whatever its size.
  bool end_of_stream = false;

  auto begin() const { return events.begin(); }
  auto end() const { return events.end(); }
  std::size_t size() const { return events.size(); }
  bool empty() const { return events.empty(); }
  const StoredEvent& operator[](std::size_t i) const { return events[i]; }
  const StoredEvent& front() const { return events.front(); }
  const StoredEvent& back() const { return events.back(); }
};

struct ReadAllPage {
  std::vector<StoredEvent> events;  // in global order, all after the requested position
  // Where the next read_all should start. It is the position of the last
  // event returned, or the requested position when the page is empty.
  GlobalPosition next;
};

// How far a reader at `after` with a filter is from the end of the log:
// what EventStore::backlog reports, and projection status is built from.
struct ReadBacklog {
  GlobalPosition head;          // the last event read_all can return now (whatever its filter)
  std::uint64_t readable = 0;   // events matching the filter after `after` that read_all can return now
  double oldest_ms = 0;         // age of the oldest matching event after `after`, readable or held back (0: none)
  // Committed matching events read_all cannot return yet because a
  // transaction that began before them is still open (PostgreSQL; always 0
  // in memory), the age of the oldest of them, and that transaction.
  std::uint64_t held_back = 0;
  double held_back_ms = 0;
  std::string held_by;  // e.g. "pid 4242 (database 'reports', idle in transaction, transaction open 31.2 s)"
};

// A stream and its current version (EventStore::list_streams).
struct StreamInfo {
  StreamId stream;
  StreamVersion version;
};

// The size of a store (EventStore::totals).
struct StoreTotals {
  std::uint64_t streams = 0;
  std::uint64_t events = 0;
  GlobalPosition head;                 // the last event read_all can return now
  std::optional<std::uint64_t> bytes;  // on disk, tables and indexes (PostgreSQL); none in memory
};

// A registration of an EventStore::watch_appends callback. Destroying it
// unregisters the callback; once the destructor returns, it is not running
// and is never called again.
class AppendWatch {
 public:
  virtual ~AppendWatch() = default;
};

// A state folded from one stream's events [1, version], saved so that a
// reader can start from it instead of from the stream's first event.
struct Snapshot {
  StreamId stream;
  std::string type;          // which state, e.g. "bank.Account" (1 to 200 bytes)
  std::uint32_t schema = 0;  // the state's schema version: a changed state ignores older schemas
  StreamVersion version;     // the last event the state includes (>= 1)
  Payload state;             // the encoded state
};

// Limits a store enforces before it touches storage.
struct StoreLimits {
  std::size_t max_payload_bytes = 8 * 1024 * 1024;
  std::size_t max_page_size = 10'000;  // a larger page request is clamped to this
};

// An event store: an append-only log of events grouped into streams.
//
// Guarantees, for every implementation:
// - append is atomic across all its streams: every event is written, or none is.
// - Every stream of an append has its expected version checked, and the check
//   holds against concurrent writers in this and other processes: when two
//   appends expect the same version of a stream, at most one succeeds.
// - Event ids are unique in the store: an append carrying an id that already
//   exists fails with ErrorCode::duplicate_event and writes nothing.
// - Versions within a stream are 1, 2, 3... with no gap and no duplicate.
// - read_all returns events in one global order that never changes, and never
//   skips an event: an event committed after a reader passed its position is
//   impossible (positions visible to read_all are final).
// - Pages are bounded: a read returns at most the requested number of events
//   (and at most StoreLimits::max_page_size); asking for 0 returns none.
//
// Every method is safe to call from many threads at once without external
// synchronization. Methods may block on I/O; callers on a cooperative
// scheduler must call them from a thread of their own (see actors/).
// No method throws: failures are returned as Error values.
class EventStore {
 public:
  virtual ~EventStore() = default;

  // Whether calls may block on I/O (the default). The command runtime runs a
  // blocking store's calls on detached actors (threads of their own) and a
  // non-blocking one's (in memory: a short critical section) on the
  // cooperative scheduler, which saves two thread hand-offs per command.
  virtual bool blocking() const { return true; }

  // Appends events to one or several streams atomically.
  // On success returns each stream's new version and each event's position.
  // Errors: invalid_argument (empty request, a stream listed twice, an event
  // id repeated, an empty event type), payload_too_large, conflict (names the
  // stream, the expected and the actual version), duplicate_event,
  // unavailable (the outcome may be unknown: retry with the same event ids),
  // failed. On any error nothing was written.
  virtual Result<AppendResult> append(const AppendRequest& request) = 0;

  // Appends several independent requests, each atomically and on its own:
  // the failure of one (a conflict, say) neither fails nor undoes the others.
  // Returns one result per request, in the order of `requests`, each with the
  // errors of append. Requests should be stream-disjoint; when two name the
  // same stream they apply in order. The default calls append for each in
  // turn; a store may do the whole batch in one round trip (group commit).
  virtual std::vector<Result<AppendResult>> append_batch(const std::vector<AppendRequest>& requests);

  // Returns up to max_count events of `stream` with versions in [from, to],
  // in version order, and says where to continue or that the stream ends
  // there (StreamPage). Every version in the type's range is valid: from > to
  // or beyond the stream reads as an empty page at its end. A stream that
  // does not exist reads as empty.
  virtual Result<StreamPage> read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                         StreamVersion to = StreamVersion{~std::uint64_t{0}}) = 0;

  // Returns up to max_count events matching `filter` whose position is after
  // `after`, in global order. Start with GlobalPosition{}; continue from the
  // returned page's `next`. Gap-freedom has a price: an acknowledged append
  // becomes visible here only once every transaction that might take an
  // earlier position has finished (in PostgreSQL: every transaction older
  // than it), so a reader may briefly trail the writers. A stream prefix with
  // a '-' in it reads by the category index (a stream id up to its first
  // '-' is its category): its cost follows the events it returns, not the
  // log it crosses; a prefix without one walks the log.
  virtual Result<ReadAllPage> read_all(GlobalPosition after, std::size_t max_count,
                                       const EventFilter& filter = {}) = 0;

  // The stream's current version (0 when it does not exist).
  virtual Result<StreamVersion> stream_version(const StreamId& stream) = 0;

  // Up to max_count streams (clamped to StoreLimits::max_page_size) whose id
  // starts with `prefix` and sorts after `after`, in the store's order of ids
  // (bytes in memory; the database's collation on PostgreSQL), with their
  // versions. Start with an empty `after`; continue from the last id
  // returned; a page shorter than max_count is the last. For operators (the
  // eventcore CLI), not for hot paths: on PostgreSQL a rare prefix walks the
  // ids after `after`.
  virtual Result<std::vector<StreamInfo>> list_streams(std::string_view prefix, std::string_view after,
                                                       std::size_t max_count) = 0;

  // How many streams and events the store holds, and its head. Counts every
  // row: for operators, not hot paths.
  virtual Result<StoreTotals> totals() = 0;

  // The newest snapshot of `type` at `schema` for the stream; none (not an
  // error) when there is none, or only ones of another schema.
  virtual Result<std::optional<Snapshot>> load_snapshot(const StreamId& stream, std::string_view type,
                                                        std::uint32_t schema) = 0;

  // Saves the snapshot. Snapshots only move forward: when one of the same
  // stream, type and schema at the same or a later version exists, nothing
  // changes (and the call succeeds). Snapshots live beside the log, never in
  // it: read_all and read_stream do not see them.
  // Errors: invalid_argument (version 0, an empty or over-long type),
  // payload_too_large (state over StoreLimits::max_payload_bytes),
  // unavailable, failed.
  virtual Status save_snapshot(const Snapshot& snapshot) = 0;

  // The command record under `key` (AppendRequest::record); none (not an
  // error) when there is none, or it expired and was removed.
  virtual Result<std::optional<CommandRecord>> load_command_record(std::string_view key) = 0;

  // Removes the command records written `older_than` ago or earlier and
  // returns how many it removed. A record lives at least that long; when it
  // is gone, its key can be used again.
  virtual Result<std::uint64_t> expire_command_records(std::chrono::seconds older_than) = 0;

  // Calls `wake` after appends commit, so that a reader of read_all can
  // follow the log without polling in a loop. A wake-up carries no data:
  // the reader reads after its position. Wake-ups may merge and may come
  // late; a store that cannot guarantee them all (PostgreSQL: a notification
  // sent while its listening connection was down is lost) calls `wake` after
  // every reconnect, and readers poll slowly as well. `wake` runs on a thread
  // of the store's (or the appender's), must be quick and must not call the
  // store. None (nullptr) when the store has no wake-ups: poll. The default
  // has none. MemoryStore calls it after each append; PostgresStore LISTENs
  // on its notify_channel on a connection of its own, opened at the first
  // watch (Errors: none; a database that is down is retried in the background).
  virtual std::unique_ptr<AppendWatch> watch_appends(std::function<void()> wake);

  // How far a reader at `after` with `filter` is from the end of the log (see
  // ReadBacklog). Costs in proportion to the events after `after`. The
  // default pages through read_all (its head is the last matching event).
  virtual Result<ReadBacklog> backlog(GlobalPosition after, const EventFilter& filter = {});
};

// An idempotency key the stores accept: 1 to 200 bytes.
Status validate_record_key(std::string_view key);

// The checks every store makes before it saves a snapshot.
Status validate_snapshot(const Snapshot& snapshot, const StoreLimits& limits);

// The checks every store makes before it writes anything; exposed so that
// every implementation rejects the same input with the same message.
Status validate_append(const AppendRequest& request, const StoreLimits& limits);

}  // namespace eventcore
