#pragma once

// The runtime's internal messages: who sends what to whom.
//
// Messages to stream actors are sent through the StreamDirectory
// (stream_directory.hpp), which spawns and passivates them.
//
//   executor    -> stream actor  (execute_atom, LocalCommandPtr)     : a keyless command, to its first stream's actor (fast path)
//   anyone      -> coordinator   (run_atom, CoordinatedCommandPtr)   : run a command (coordinate())
//   coordinator -> coordinator   (retry_atom, txn) / (timeout_atom)  : a run's next attempt / expire runs
//   coordinator -> stream actor  (acquire_atom, StreamId, txn, FoldNeeds) -> StreamGrant, FIFO per stream
//   coordinator -> stream actor  (commit_atom, txn, CommittedEvents) : advance cache, release
//   coordinator -> stream actor  (release_atom, txn, bool invalidate): release (drop cache if set)
//   (a stream actor running a fast-path command over several streams sends
//   the same three to the actors of its other streams)
//   directory   -> stream actor  (passivate_atom)                    : leave once idle, unless used again
//   anyone      -> registry      (acquire_atom, StreamId)            -> StreamGrant (delegated to the stream actor)
//   stream actor-> io actor      (read_atom, StreamId, FoldNeeds)    -> LoadReply (the folds, from the store)
//   coordinator -> io actor      (append_atom, AppendRequest)        -> AppendReply (group-committed)
//   coordinator -> io actor      (read_atom, IdempotencyRecord)      -> PositionsReply (a replay's positions)
//   stream actor-> io actor      (snapshot_atom, Snapshot)           : save it (best effort, no answer)
//   coordinator -> io actor      (lookup_atom, AppendRequestPtr)     -> CommittedReply (ambiguous_outcome.hpp)
//   coordinator -> io actor      (record_atom, std::string key)      -> RecordReply (idempotency_record.hpp)
//   registry    -> io actor      (expire_atom, caf::timespan)        : expire older command records (no answer)
//
// A stream actor monitors each actor that holds it or queues for it, until
// it holds and queues no more: a coordinator that dies releases what its
// runs held.
//
// A stream actor holds its stream's version and the folds (FoldOps) that
// commands asked for, all current at that version; never the stream's
// events (unless a fold is the events themselves). A grant carries the
// folds the acquire named, loading the missing ones first; commit advances
// every fold by the committed events.
//
// The fast path: a command without an idempotency key needs no coordinator.
// The actor of its first stream in id order takes it in the same FIFO queue
// as acquires and holds its stream for it; a command over several streams
// then acquires the others in id order, as a coordinator would. It decides,
// appends, advances its own folds, commits the others, and calls the
// callback. Anything but success or a final answer (a conflict, a transient
// failure, discovered streams) releases what it holds and hands the command
// to a write coordinator, which carries on with the retry policy. Keyed
// commands always run on a coordinator (the record lookup comes first).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/detail/idempotency_record.hpp"
#include "eventcore/actors/actor_gateway.hpp"
#include "eventcore/actors/retry_policy.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using record_atom = caf::atom_constant<caf::atom("record")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;

// Who holds a stream: a coordinator's run (RuntimeContext::next_txn), or the
// actor id of another acquirer (the registry's callers).
using TxnId = std::uint64_t;

// The answer to an acquire: the stream is held by the requester until it
// sends commit or release (or dies). On error the stream is not held.
struct StreamGrant {
  std::optional<StreamVersion> version;  // set unless error
  std::vector<FoldState> folds;          // the folds the acquire named
  StreamSnapshot snapshot(const StreamId& stream) const { return StreamSnapshot{stream, *version, folds}; }
  caf::actor stream_actor;
  std::optional<Error> error;
};

using AppendRequestPtr = std::shared_ptr<const AppendRequest>;

// Events as a command emitted them (domain events of the type FoldOps::
// event_type names), so that folds advance by them without decoding what
// was just encoded (FoldOps::apply_emitted).
struct TypedEvents {
  const void* type = nullptr;         // null: none (every fold decodes)
  std::shared_ptr<const void> owner;  // keeps `events` alive (JobDecision::typed)
  std::vector<const void*> events;    // one per written event, in order
};

// What an append wrote to one stream: the request's write, at the versions
// after `version_before` and at `positions`, and the same events as the
// command emitted them. (A fold that needs the stored events gets them
// stamped with the stream actor's wall clock.)
struct CommittedEvents {
  AppendRequestPtr request;
  std::size_t write = 0;  // request->streams[write]
  std::uint64_t version_before = 0;
  std::vector<GlobalPosition> positions;  // one per event
  TypedEvents typed;

  const std::vector<EventToWrite>& events() const { return request->streams[write].events; }
  // The events as the store now holds them (built only for a fold that needs them).
  std::vector<StoredEvent> stored(Timestamp recorded_at) const;
};
using CommittedEventsPtr = std::shared_ptr<const CommittedEvents>;

struct RuntimeContext;

// A command on the fast path: one without an idempotency key. The actor of
// its first stream (in id order) runs it; a command over several streams
// holds that stream first and acquires the others from their actors in id
// order (the same order as a coordinator: no deadlock), as transaction
// `txn`. Whoever answers it or hands it to a coordinator takes `done`. One
// that is dropped unanswered before it wrote anything (its stream actor died
// with it in the mailbox or queue, or while it acquired the other streams)
// hands itself to a write coordinator from its destructor: the retry policy
// decides (while the runtime is stopping it fails instead).
struct LocalCommand {
  CommandJobPtr job;
  const FoldNeeds& needs;  // job->needs(stream count), the same of every stream
  std::function<void(const ExecuteResult&)> done;
  std::chrono::steady_clock::time_point started_at;
  std::shared_ptr<RuntimeContext> context;
  std::vector<StreamId> sorted;     // the declared streams in id order, when more than one
  std::vector<StreamGrant> held;    // grants of streams()[1 .. held.size()]
  TxnId txn = 0;                    // what it holds those as (set on the first acquire)
  bool append_sent = false;         // the append was made or sent: it may have written

  LocalCommand(CommandJobPtr job, std::function<void(const ExecuteResult&)> done,
               std::chrono::steady_clock::time_point started_at, std::shared_ptr<RuntimeContext> context)
      : job(std::move(job)), needs(this->job->needs(this->job->streams.size())), done(std::move(done)),
        started_at(started_at), context(std::move(context)) {
    if (this->job->streams.size() > 1) {
      sorted = this->job->streams;
      std::sort(sorted.begin(), sorted.end());
    }
  }
  LocalCommand(const LocalCommand&) = delete;
  LocalCommand& operator=(const LocalCommand&) = delete;
  ~LocalCommand();

  // The declared streams in id order; the first is the one whose actor runs it.
  std::span<const StreamId> streams() const {
    return sorted.empty() ? std::span<const StreamId>(job->streams) : std::span<const StreamId>(sorted);
  }
};
using LocalCommandPtr = std::shared_ptr<LocalCommand>;

// A first attempt made on the fast path that failed in a way the retry
// policy may retry; the coordinator that takes over starts from it.
struct FailedAttempt {
  RetryReason reason;
  Error cause;
  std::chrono::steady_clock::time_point started_at;
  PhaseTimings timings;
  AppendRequestPtr ambiguous;  // an append that failed as unavailable: it may have committed
};

// A command on its way to a write coordinator (coordinate(), actors.hpp).
// The coordinator takes `done`. One dropped before a coordinator took it
// (that coordinator died with it in the mailbox) goes to another one from
// its destructor, a bounded number of times; while the runtime is stopping
// it fails instead.
struct CoordinatedCommand {
  CommandJobPtr job;
  std::function<void(const ExecuteResult&)> done;
  std::optional<FailedAttempt> resumed;
  std::shared_ptr<RuntimeContext> context;
  std::size_t hops = 0;  // coordinators that dropped it

  CoordinatedCommand() = default;
  CoordinatedCommand(const CoordinatedCommand&) = delete;
  CoordinatedCommand& operator=(const CoordinatedCommand&) = delete;
  ~CoordinatedCommand();
};
using CoordinatedCommandPtr = std::shared_ptr<CoordinatedCommand>;

// Whether an append that may have committed did (ambiguous_outcome.hpp).
struct CommittedReply {
  std::optional<AppendResult> committed;  // what it wrote, if it committed
  std::optional<Error> error;             // the store could not tell
};

// Folds of a stream read from the store, all at `version`.
struct LoadReply {
  StreamVersion version;
  std::vector<FoldState> folds;  // in the order of the FoldNeeds asked for
  std::optional<Error> error;
};

// The command record under an idempotency key, if there is one.
struct RecordReply {
  std::optional<CommandRecord> record;
  std::optional<Error> error;  // the store could not tell
};

struct PositionsReply {
  std::vector<GlobalPosition> positions;
  std::optional<Error> error;
};

struct AppendReply {
  std::optional<AppendResult> result;
  std::optional<Error> error;
};

}  // namespace eventcore::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::StreamId)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::AppendRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::StreamGrant)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::CommittedEventsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::LoadReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::FoldNeeds)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::Snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::AppendRequestPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::CommittedReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::IdempotencyRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::PositionsReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::RecordReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::LocalCommandPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::CoordinatedCommandPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::AppendReply)
