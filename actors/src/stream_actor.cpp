// One actor per stream. It holds the stream's version and the folds of it
// that commands asked for (never the events themselves: memory and a
// command's cost do not grow with the stream's history), and lets one
// transaction at a time hold the stream; the others wait in FIFO order.
// Holding is what makes in-process conflicts impossible.
//
// A transaction is either an acquirer's (acquire ... commit/release: a
// coordinator's run, or another stream actor's fast-path command) or a
// keyless command the actor runs itself because its stream comes first among
// the command's (the fast path, protocol.hpp): acquire the command's other
// streams in id order, decide on the cached folds, append, advance the folds
// (commit the others), answer. With a store that never blocks (in memory)
// the append is a plain call, made on the stream actor's own turn;
// otherwise it goes to a store I/O actor (group commit) and the streams
// stay held until it lands.

#include <algorithm>
#include <deque>
#include <optional>
#include <unordered_set>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/command_rules.hpp"
#include "eventcore/actors/detail/decided_append.hpp"
#include "eventcore/actors/detail/outcome.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

using Clock = std::chrono::steady_clock;

// The txn of a fast-path command: no coordinator's actor id.
constexpr TxnId kLocalTxn = ~TxnId{0};

// Acquirers a stream actor keeps monitored while they are idle here, at
// least (StreamActorState::watched).
constexpr std::size_t kMinWatchLimit = 8;

struct Waiter {
  caf::response_promise promise;  // an acquire: the grant goes here
  caf::actor_addr who;
  TxnId txn = 0;
  FoldNeeds needs;        // the folds the grant must carry
  LocalCommandPtr local;  // or a fast-path command,
  caf::actor_clock::time_point deadline;  // which times out then (if it has a timeout)
};

// Answers a fast-path command: counts it, logs it, calls back. A result
// carries its own timings (the total ends where the write did); a failure's
// total ends now.
void answer(RuntimeContext& context, LocalCommand& command, const ExecuteResult& outcome, PhaseTimings timings) {
  if (!outcome.ok()) timings.total = context.clock() - command.started_at;
  observe_outcome(context, *command.job, outcome, timings);
  auto done = std::move(command.done);
  command.done = nullptr;
  done(outcome);
}

// Gives a fast-path command to a write coordinator: for discovered streams
// (`failed` empty), or after a first attempt that the retry policy may retry.
void give_to_coordinator(RuntimeContext& context, LocalCommand& command, std::optional<FailedAttempt> failed) {
  auto done = std::move(command.done);
  command.done = nullptr;
  coordinate(context.shared_from_this(), command.job, std::move(done), std::move(failed));
}

CommandError command_error(const LocalCommand& command, CommandErrorCode code, std::string message,
                           std::optional<Error> cause = std::nullopt) {
  return CommandError{code, command.job->name, command.job->streams, std::move(message), std::move(cause), 1};
}

struct StreamActorState {
  static inline const char* name = "eventcore.stream";
  ContextPtr context;
  std::optional<StreamId> stream;  // set at spawn
  bool loading = false;
  // The cache: the stream's version, and folds all current at it. No version:
  // nothing cached (not loaded yet, or dropped because the store may hold more).
  std::optional<StreamVersion> version;
  std::vector<FoldState> folds;  // each state is owned here: copied on write if a grant still shares it
  std::optional<Waiter> holder;
  std::deque<Waiter> queue;
  caf::actor_id id = 0;
  caf::local_actor* self = nullptr;  // set at spawn: to demonitor on exit
  // The acquirers monitored: each from its first acquire until this actor
  // exits, it dies, or it is forgotten while idle here. A monitor per
  // acquire would cost a monitor and a demonitor per stream of every
  // multi-stream command; the acquirers are the executor's few pooled
  // coordinators and the actors of the streams that lead this one's
  // multi-stream commands (any live stream). Those that neither hold nor
  // wait here are demonitored whenever the set outgrows `watch_limit`, so it
  // stays near the number of acquirers active here, however many different
  // streams have led this one (measured: history_bench's live_transfers_rss).
  std::unordered_set<caf::actor_addr> watched;
  std::size_t watch_limit = kMinWatchLimit;
  bool passivate_asked = false;  // the directory asked it to leave; it has not been used since
  bool deadline_armed = false;  // a timeout_atom is on its way (queued fast-path commands)

  StreamActorState() = default;
  StreamActorState(const StreamActorState&) = delete;
  StreamActorState& operator=(const StreamActorState&) = delete;
  // Runs when the actor exits, also when it is killed. CAF 0.17 drops the
  // response promises of a dead actor without answering them (no
  // broken_promise before 0.18), and coordinators acquire with
  // caf::infinite: answer every pending acquire here, or the commands queued
  // on a crashed stream actor would wait for their timeout. The promise
  // carries its own strong reference to this actor and the requester, so
  // delivering from the destructor (stateful_actor::on_exit) is fine. The
  // fast-path commands still queued answer for themselves (~LocalCommand),
  // and so does one still acquiring its other streams (they release it when
  // this actor's down message reaches them); one that was running may have
  // its append in flight: its outcome is unknown. A passivated actor is
  // idle: nothing is pending then.
  ~StreamActorState() {
    if (!stream) return;
    // A monitor left on a coordinator would stay there as long as it lives.
    for (const auto& who : watched) self->demonitor(who);
    context->directory->forget(*stream, id);
    const Error error{ErrorCode::unavailable, "the actor of stream '" + stream->str() + "' stopped"};
    auto answer_waiter = [&](Waiter& waiter) {
      if (waiter.local || !waiter.promise.pending()) return;
      waiter.promise.deliver(StreamGrant{std::nullopt, {}, caf::actor{}, error});
    };
    if (holder && holder->local && holder->local->append_sent)
      answer(*context, *holder->local,
             command_error(*holder->local, CommandErrorCode::store_unavailable,
                           "the stream's actor stopped while the command's append was in flight", error),
             {});
    else if (holder && holder->local)
      holder.reset();  // still acquiring: nothing written; it hands itself on (~LocalCommand)
    else if (holder)
      answer_waiter(*holder);
    for (auto& waiter : queue) answer_waiter(waiter);
  }
};

using StreamActor = caf::stateful_actor<StreamActorState>;

// Demonitors the watched acquirers that neither hold this stream nor wait
// for it (`keep` is about to wait), and sets the next limit: amortized
// constant time per watch.
void forget_idle_acquirers(StreamActor* self, const caf::actor_addr& keep) {
  auto& st = self->state;
  std::unordered_set<caf::actor_addr> active{keep};
  // A fast-path command queued here has no acquirer (and a null address
  // cannot be hashed).
  if (st.holder && st.holder->who) active.insert(st.holder->who);
  for (const auto& waiter : st.queue)
    if (waiter.who) active.insert(waiter.who);
  std::erase_if(st.watched, [&](const caf::actor_addr& who) {
    if (active.contains(who)) return false;
    self->demonitor(who);
    return true;
  });
  st.watch_limit = std::max(kMinWatchLimit, 2 * st.watched.size());
}

void watch(StreamActor* self, const caf::actor_addr& who) {
  auto& st = self->state;
  if (!st.watched.insert(who).second) return;
  self->monitor(caf::actor_cast<caf::actor>(who));
  if (st.watched.size() > st.watch_limit) forget_idle_acquirers(self, who);
}

void grant_next(StreamActor* self);

bool idle(const StreamActorState& st) { return !st.holder && st.queue.empty() && !st.loading; }

// Leaves if the directory asked it to and it is idle, with nothing in its
// mailbox (checked under the directory's lock: nothing new can arrive).
void passivate_if_asked(StreamActor* self) {
  auto& st = self->state;
  if (!st.passivate_asked || !idle(st)) return;
  if (st.context->directory->remove_if(*st.stream, st.id, [&] { return self->mailbox().empty(); })) self->quit();
}

void fail_waiters(StreamActor* self, const Error& error) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    auto waiter = std::move(st.queue.front());
    st.queue.pop_front();
    if (waiter.local) {
      auto& command = *waiter.local;
      if (error.transient())
        give_to_coordinator(*st.context, command, FailedAttempt{RetryReason::transient, error, command.started_at, {}});
      else
        answer(*st.context, command,
               command_error(command, CommandErrorCode::store_failed, "reading a stream failed", error), {});
      continue;
    }
    waiter.promise.deliver(StreamGrant{std::nullopt, {}, caf::actor_cast<caf::actor>(self), error});
  }
}

void maybe_snapshot(StreamActor* self);

bool has_folds(const StreamActorState& st, const FoldNeeds& needs) {
  if (!st.version) return false;
  return std::all_of(needs.begin(), needs.end(), [&](const FoldOps* ops) {
    return std::any_of(st.folds.begin(), st.folds.end(), [&](const FoldState& f) { return f.ops == ops; });
  });
}

void loaded(StreamActor* self, LoadReply& reply) {
  auto& st = self->state;
  if (reply.error) {
    fail_waiters(self, *reply.error);
    return;
  }
  if (st.version != reply.version) {  // the store moved on (or nothing was cached): start over
    st.folds.clear();
    st.version = reply.version;
  }
  for (auto& fold : reply.folds)
    if (!has_folds(st, {fold.ops})) st.folds.push_back(std::move(fold));
  // A long tail past the newest snapshot was just folded: save a newer one,
  // so that the next load is short even if nothing is ever written here.
  maybe_snapshot(self);
}

const FoldNeeds& needs_of(const Waiter& waiter) { return waiter.local ? waiter.local->needs : waiter.needs; }

// A grant's copy of the folds `needs` names (shared states: the actor copies
// a state on write while a grant still holds it).
std::vector<FoldState> folds_for(const StreamActorState& st, const FoldNeeds& needs) {
  std::vector<FoldState> out;
  out.reserve(needs.size());
  for (const FoldOps* ops : needs)
    for (const auto& fold : st.folds)
      if (fold.ops == ops) out.push_back(fold);
  return out;
}

void grant_next(StreamActor* self);

// Folds the stream for `needs` from the store: right here for a store that
// never blocks or when no other append or load is in flight
// (RuntimeContext::call_in_place); otherwise through an I/O actor, the
// waiters waiting meanwhile.
void start_load(StreamActor* self, const FoldNeeds& needs) {
  auto& st = self->state;
  auto& context = *st.context;
  if (auto reply = context.call_in_place(
          [&] { return load_folds(*context.store, *st.stream, needs, context.config.read_page_size); })) {
    loaded(self, *reply);
    return;
  }
  st.loading = true;
  auto in_flight = context.count_io_call();
  self->request(context.pick_io(), caf::infinite, read_atom::value, *st.stream, needs)
      .then(
          [=](LoadReply& reply) {
            (void)in_flight;  // dropped with this handler
            self->state.loading = false;
            loaded(self, reply);
            grant_next(self);
            passivate_if_asked(self);
          },
          [=](caf::error& err) {
            self->state.loading = false;
            fail_waiters(self, Error{ErrorCode::unavailable, "loading stream '" + self->state.stream->str() +
                                                                 "' failed: " + self->system().render(err)});
            passivate_if_asked(self);
          });
}

void drop_cache(StreamActor* self) {
  auto& st = self->state;
  st.version.reset();
  st.folds.clear();
}

void run_local(StreamActor* self);

void grant_next(StreamActor* self) {
  auto& st = self->state;
  while (!st.holder && !st.queue.empty()) {
    if (!has_folds(st, needs_of(st.queue.front()))) {
      if (st.loading) return;
      start_load(self, needs_of(st.queue.front()));
      if (st.queue.empty() || !has_folds(st, needs_of(st.queue.front()))) return;  // loading, or failed (answered)
    }
    st.holder = std::move(st.queue.front());
    st.queue.pop_front();
    if (st.holder->local) {
      run_local(self);  // finished: the loop goes on; in flight: the stream stays held
      continue;
    }
    st.holder->promise.deliver(StreamGrant{*st.version, folds_for(st, st.holder->needs),
                                           caf::actor_cast<caf::actor>(self), std::nullopt});
  }
}

void release_holder(StreamActor* self, bool invalidate) {
  auto& st = self->state;
  st.holder.reset();
  // The store may hold more than we do (a foreign writer, or an append
  // whose outcome we never learnt): reload on next use.
  if (invalidate) drop_cache(self);
  grant_next(self);
  passivate_if_asked(self);
}

// Advances every cached fold by events just committed to the stream: as
// the command emitted them where the fold takes them so, else decoded. A
// fold that cannot take them (an event that does not decode, an apply that
// throws) is dropped and refolded from the store when next needed.
void apply_commit(StreamActor* self, const CommittedEvents& committed) {
  auto& st = self->state;
  const std::size_t count = committed.events().size();
  if (!st.version || count == 0) return;
  if (committed.version_before != st.version->value) {  // not contiguous: trust the store instead
    drop_cache(self);
    return;
  }
  const TypedEvents& typed = committed.typed;
  const bool emitted = typed.type && typed.events.size() == count;
  std::optional<std::vector<StoredEvent>> stored;  // built for the first fold that decodes
  std::erase_if(st.folds, [&](FoldState& fold) {
    // Copy on write: a snapshot handed out earlier may still be read.
    std::shared_ptr<void> state = fold.state.use_count() > 1
                                      ? fold.ops->clone(fold.state.get())
                                      : std::const_pointer_cast<void>(std::move(fold.state));
    fold.state.reset();
    try {
      if (emitted && fold.ops->apply_emitted && fold.ops->event_type == typed.type) {
        for (const void* event : typed.events) fold.ops->apply_emitted(state.get(), event);
      } else {
        if (!stored) stored = committed.stored(st.context->wall_clock());
        for (const auto& event : *stored)
          if (fold.ops->apply(state.get(), event)) return true;
      }
    } catch (...) {
      return true;
    }
    fold.state = std::move(state);
    return false;
  });
  st.version = StreamVersion{committed.version_before + count};
}

// Saves a snapshot of each fold that opts in and has folded snapshot_every
// events since its last one: after the command that got it there was
// answered, through an I/O actor (a blocking store) or right here (memory).
void maybe_snapshot(StreamActor* self) {
  auto& st = self->state;
  const std::uint64_t every = st.context->config.snapshot_every;
  if (every == 0 || !st.version) return;
  for (auto& fold : st.folds) {
    if (!fold.ops->encode || st.version->value < fold.saved + every) continue;
    Snapshot snapshot{*st.stream, std::string(fold.ops->snapshot_type), fold.ops->snapshot_schema, *st.version, {}};
    try {
      snapshot.state = fold.ops->encode(fold.state.get());
    } catch (...) {
      continue;  // a state that cannot be encoded is folded from the log instead
    }
    fold.saved = st.version->value;
    if (st.context->inline_store_calls)
      (void)st.context->store->save_snapshot(snapshot);  // best effort, like the I/O actor's
    else
      self->send(st.context->pick_io(), snapshot_atom::value, std::move(snapshot));
  }
}

// ---- the fast path ---------------------------------------------------------

// Lets go of the other streams a fast-path command holds.
void release_others(StreamActor* self, LocalCommand& command, bool invalidate) {
  for (auto& grant : command.held) self->send(grant.stream_actor, release_atom::value, command.txn, invalidate);
  command.held.clear();
}

// Ends the fast-path command holding the stream with a final answer.
// `invalidate`: the store may hold more than the caches (its streams reload).
void finish_local(StreamActor* self, bool invalidate, const ExecuteResult& outcome, const PhaseTimings& timings) {
  auto& st = self->state;
  auto command = std::move(st.holder->local);
  st.holder.reset();
  if (invalidate) drop_cache(self);
  release_others(self, *command, invalidate);
  answer(*st.context, *command, outcome, timings);
}

// Gives the fast-path command holding the stream to a write coordinator.
void hand_over(StreamActor* self, std::optional<FailedAttempt> failed) {
  auto& st = self->state;
  auto command = std::move(st.holder->local);
  st.holder.reset();
  if (failed) drop_cache(self);  // the store may hold more than we do
  release_others(self, *command, failed.has_value());
  give_to_coordinator(*st.context, *command, std::move(failed));
}

// Deadlines are on the actor clock: the deterministic scheduler's in tests.
bool expired(StreamActor* self, const Waiter& waiter) {
  return self->state.context->config.command_timeout.count() > 0 && self->clock().now() >= waiter.deadline;
}

CommandError timed_out(const RuntimeContext& context, const LocalCommand& command) {
  return command_error(command, CommandErrorCode::timeout,
                       "the command did not finish within " + std::to_string(context.config.command_timeout.count()) +
                           " ms");
}

// `rejection`: the command was rejected, and the append (no events) checked
// the versions it was decided on.
void on_local_appended(StreamActor* self, const AppendRequestPtr& request, TypedEvents typed,
                       Result<AppendResult> appended, PhaseTimings timings, Clock::time_point write_started,
                       std::optional<CommandError> rejection = std::nullopt) {
  auto& st = self->state;
  auto& command = *st.holder->local;
  const auto finished = st.context->clock();
  timings.write = finished - write_started;
  timings.total = finished - command.started_at;
  if (!appended) {
    Error error = std::move(appended).error();
    const auto reason = retry_reason(error);
    if (reason)
      hand_over(self, FailedAttempt{*reason, std::move(error), command.started_at, timings,
                                    reason == RetryReason::transient ? request : nullptr});
    else
      finish_local(self, true,
                   command_error(command, CommandErrorCode::store_failed, "the store rejected the append", error),
                   timings);
    return;
  }
  if (rejection) {
    finish_local(self, false, std::move(*rejection), timings);
    return;
  }
  // The first write is this actor's stream; the others go to their actors.
  CommandResult result = committed_result(
      *command.job, 1, request, *appended, std::move(typed),
      [&](std::size_t i, CommittedEvents committed) {
        if (i == 0)
          apply_commit(self, committed);
        else
          self->send(command.held[i - 1].stream_actor, commit_atom::value, command.txn,
                     CommittedEventsPtr(std::make_shared<CommittedEvents>(std::move(committed))));
      });
  command.held.clear();
  result.timings = timings;
  finish_local(self, false, std::move(result), timings);
  maybe_snapshot(self);
}

// Makes sure a timeout_atom arrives by `due` (one timer at a time).
void arm_deadline(StreamActor* self, caf::actor_clock::time_point due) {
  auto& st = self->state;
  if (st.deadline_armed || st.context->config.command_timeout.count() <= 0) return;
  st.deadline_armed = true;
  self->delayed_send(self, std::max<caf::timespan>(due - self->clock().now(), caf::timespan::zero()),
                     timeout_atom::value);
}

void run_local(StreamActor* self);

// A grant of the next of a fast-path command's other streams.
void on_grant(StreamActor* self, const LocalCommandPtr& running, StreamGrant grant) {
  auto& st = self->state;
  if (!st.holder || st.holder->local != running) {  // it finished meanwhile (timed out): let the stream go
    if (!grant.error) self->send(grant.stream_actor, release_atom::value, running->txn, false);
    return;
  }
  auto& command = *running;
  if (!grant.error) {
    command.held.push_back(std::move(grant));
    run_local(self);
  } else if (grant.error->transient()) {
    hand_over(self, FailedAttempt{RetryReason::transient, std::move(*grant.error), command.started_at, {}, nullptr});
  } else {
    finish_local(self, false,
                 command_error(command, CommandErrorCode::store_failed, "reading a stream failed", *grant.error), {});
  }
  grant_next(self);
  passivate_if_asked(self);
}

// Asks for the next stream of the fast-path command holding this one; the
// stream stays held meanwhile.
void acquire_next(StreamActor* self) {
  auto& st = self->state;
  auto& context = *st.context;
  const LocalCommandPtr running = st.holder->local;
  auto& command = *running;
  if (command.txn == 0) command.txn = context.next_txn.fetch_add(1, std::memory_order_relaxed);
  const StreamId& stream = command.streams()[command.held.size() + 1];
  const bool routed = context.directory->with_actor(stream, [&](const caf::actor& actor) {
    self->request(actor, caf::infinite, acquire_atom::value, stream, command.txn, command.needs)
        .then([=](StreamGrant& grant) { on_grant(self, running, std::move(grant)); },
              [=](caf::error& err) {
                on_grant(self, running,
                         StreamGrant{std::nullopt, {}, caf::actor{},
                                     Error{ErrorCode::unavailable,
                                           "acquiring a stream failed: " + self->system().render(err)}});
              });
  });
  if (!routed) {
    finish_local(self, false,
                 command_error(command, CommandErrorCode::store_unavailable, "the executor was shut down"), {});
    return;
  }
  arm_deadline(self, st.holder->deadline);
}

// Runs the fast-path command that now holds the (loaded) stream: acquires
// its other streams first, one at a time (each grant comes back here). When
// it returns, the stream is free again, or the command waits for a grant or
// for its append.
void run_local(StreamActor* self) {
  auto& st = self->state;
  auto& context = *st.context;
  auto& command = *st.holder->local;
  if (expired(self, *st.holder)) {
    finish_local(self, false, timed_out(context, command), {});
    return;
  }
  const auto streams = command.streams();
  if (command.held.size() + 1 < streams.size()) {
    acquire_next(self);
    return;
  }
  const auto started = context.clock();
  PhaseTimings timings;
  timings.prepare = started - command.started_at;
  // A view of the actor's own folds (nothing changes them until the command
  // is done), then the grants' in stream order.
  const StreamSnapshot own{*st.stream, *st.version, st.folds};
  std::vector<StreamSnapshot> all;
  std::span<const StreamSnapshot> snapshots(&own, 1);
  if (!command.held.empty()) {
    all.reserve(streams.size());
    all.push_back(own);
    for (std::size_t i = 0; i < command.held.size(); ++i) all.push_back(command.held[i].snapshot(streams[i + 1]));
    snapshots = all;
  }
  JobDecision decision = decide(*command.job, snapshots, context.clock, started);
  timings.reconstruct = decision.reconstruct;
  timings.handle = decision.handle;
  auto next = after_decide(*command.job, decision, streams, 1);
  std::optional<CommandError> rejection;
  switch (next.kind) {
    case AfterDecide::Kind::answer:
      if (!next.confirm) {
        finish_local(self, next.drop_cache, std::move(*next.error), timings);
        return;
      }
      rejection = std::move(next.error);  // answered once the store confirms the versions
      break;
    case AfterDecide::Kind::discover:
      hand_over(self, std::nullopt);
      return;
    case AfterDecide::Kind::append:
      break;
  }
  auto decided = decided_append(snapshots, decision);
  const AppendRequestPtr request = std::move(decided.request);
  // Drop our references to the other streams' folds so that they can
  // advance in place on commit.
  all.clear();
  for (auto& grant : command.held) grant.folds.clear();
  command.append_sent = true;
  const auto write_started = decision.decided_at;
  if (auto appended = context.append_in_place(*request)) {
    on_local_appended(self, request, std::move(decided.typed), std::move(*appended), timings, write_started,
                      std::move(rejection));
    return;
  }
  // A store that may block: its I/O actor appends (batched with other
  // streams' appends); the streams stay held until the answer. No request
  // timeout (a timer set and cancelled per command costs more than the
  // command here): the stream actor's deadline tick covers the append too.
  const LocalCommandPtr running = st.holder->local;
  auto in_flight = context.count_io_call();
  auto typed = std::move(decided.typed);
  self->request(context.pick_io(), caf::infinite, append_atom::value, *request)
      .then(
          [=](AppendReply& reply) {
            (void)in_flight;  // dropped with this handler
            auto& st = self->state;
            if (!st.holder || st.holder->local != running) return;  // it timed out meanwhile
            if (reply.error)
              on_local_appended(self, request, typed, std::move(*reply.error), timings, write_started, rejection);
            else
              on_local_appended(self, request, typed, std::move(*reply.result), timings, write_started, rejection);
            grant_next(self);
            passivate_if_asked(self);
          },
          [=](caf::error& err) {
            auto& st = self->state;
            if (!st.holder || st.holder->local != running) return;
            on_local_appended(self, request, typed,
                              Error{ErrorCode::unavailable, "the store writer failed: " + self->system().render(err)},
                              timings, write_started, rejection);
            grant_next(self);
            passivate_if_asked(self);
          });
#ifdef EVENTCORE_PLANTED_BUG_early_release  // simulation test build only
  for (auto& grant : command.held) self->send(grant.stream_actor, release_atom::value, command.txn, false);
#endif
  arm_deadline(self, st.holder->deadline);
}

// Fails the fast-path commands that ran out of time, queued or with their
// append in flight (a coordinator's own timeout covers its commands; these
// have none). One timer per stream actor at a time, armed only while such a
// command waits.
void expire_local(StreamActor* self) {
  auto& st = self->state;
  st.deadline_armed = false;
  std::optional<caf::actor_clock::time_point> next;
  auto consider = [&](caf::actor_clock::time_point due) {
    if (!next || due < *next) next = due;
  };
  if (st.holder && st.holder->local) {
    if (expired(self, *st.holder)) {
      // Its append (if sent) may still land: the caches drop, the late
      // answer is ignored. Still acquiring: nothing was written.
      finish_local(self, st.holder->local->append_sent, timed_out(*st.context, *st.holder->local), {});
    } else {
      consider(st.holder->deadline);
    }
  }
  for (auto it = st.queue.begin(); it != st.queue.end();) {
    if (!it->local) {
      ++it;
      continue;
    }
    if (expired(self, *it)) {
      auto command = std::move(it->local);
      it = st.queue.erase(it);
      answer(*st.context, *command, timed_out(*st.context, *command), {});
      continue;
    }
    consider(it->deadline);
    ++it;
  }
  if (next) arm_deadline(self, *next);
  grant_next(self);
  passivate_if_asked(self);
}

caf::behavior stream_actor(StreamActor* self, ContextPtr context, StreamId stream) {
  self->state.context = std::move(context);
  self->state.stream = std::move(stream);
  self->state.id = self->id();
  self->state.self = self;
  // A holder or waiter that dies never leaves the stream stuck.
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    st.watched.erase(msg.source);
    std::erase_if(st.queue, [&](const Waiter& w) { return w.who == msg.source; });
#ifdef EVENTCORE_PLANTED_BUG_no_release_on_crash  // simulation test build only
    if (false)
#else
    if (st.holder && st.holder->who == msg.source)
#endif
      release_holder(self, true);
    else
      passivate_if_asked(self);
  });
  return {
      [=](acquire_atom, const StreamId&, TxnId txn, FoldNeeds& needs) -> caf::response_promise {
        auto& st = self->state;
        st.passivate_asked = false;
        // Read the sender first: make_response_promise moves it out of the
        // current message (CAF 0.17).
        auto sender = self->current_sender();
        auto rp = self->make_response_promise();
        Waiter waiter{rp, caf::actor_cast<caf::actor_addr>(sender), txn, std::move(needs)};
        if (sender) watch(self, waiter.who);
        st.queue.push_back(std::move(waiter));
        grant_next(self);
        return rp;
      },
      [=](execute_atom, LocalCommandPtr& command) {
        auto& st = self->state;
        st.passivate_asked = false;
        st.queue.push_back(Waiter{
            {}, {}, kLocalTxn, {}, std::move(command), self->clock().now() + st.context->config.command_timeout});
        grant_next(self);
        if (!st.queue.empty()) arm_deadline(self, st.queue.back().deadline);
        passivate_if_asked(self);
      },
      [=](timeout_atom) { expire_local(self); },
      [=](commit_atom, TxnId txn, const CommittedEventsPtr& committed) {
        auto& st = self->state;
        if (!st.holder || st.holder->txn != txn) return;  // stale: that holder was released
        apply_commit(self, *committed);
        release_holder(self, false);
        maybe_snapshot(self);
      },
      [=](release_atom, TxnId txn, bool invalidate) {
        auto& st = self->state;
        if (!st.holder || st.holder->txn != txn) return;
        release_holder(self, invalidate);
      },
      [=](passivate_atom) {
        self->state.passivate_asked = true;
        passivate_if_asked(self);
      },
  };
}

}  // namespace

std::vector<StoredEvent> CommittedEvents::stored(Timestamp recorded_at) const {
  const StreamWrite& write = request->streams[this->write];
  std::vector<StoredEvent> out;
  out.reserve(write.events.size());
  std::uint64_t version = version_before;
  for (std::size_t i = 0; i < write.events.size(); ++i) {
    const auto& e = write.events[i];
    out.push_back(StoredEvent{e.id, write.stream, StreamVersion{++version},
                              i < positions.size() ? positions[i] : GlobalPosition{}, e.type, e.payload, e.metadata,
                              recorded_at});
  }
  return out;
}

LocalCommand::~LocalCommand() {
  if (!done || !context) return;
  const Error error{ErrorCode::unavailable, "the stream's actor stopped before the command ran"};
  if (context->directory->stopped()) {
    CommandError failed{CommandErrorCode::store_unavailable, job->name, job->streams, "the executor was shut down",
                        error, 0};
    observe_outcome(*context, *job, failed, {});
    done(failed);
    return;
  }
  give_to_coordinator(*context, *this, FailedAttempt{RetryReason::transient, error, started_at, {}});
}

caf::actor spawn_stream_actor(caf::actor_system& system, ContextPtr context, StreamId stream) {
  return system.spawn(stream_actor, std::move(context), std::move(stream));
}

}  // namespace eventcore::detail
