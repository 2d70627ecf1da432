// Runs keyed commands, and fast-path commands to retry or with discovered
// streams, as two-phase, version-checked writes:
//
//   prepare: acquire every stream in sorted id order (one at a time: a global
//            order means no deadlock), gathering versions and the folded
//            states the command needs (each stream actor keeps them); run
//            handle; more streams asked for are added and the phase repeats
//            (bounded);
//   commit:  one atomic append expecting the prepared version of every
//            stream, read-only ones too; then each stream actor advances its
//            cache (commit) or drops it (release with invalidate).
//
// Conflicts come only from writers in other processes (actors serialize
// this one's); they and, per policy, transient store failures are retried
// with a fresh prepare. An attempt whose append failed as unavailable may
// have committed: before every later attempt the coordinator looks for its
// events (ambiguous_outcome.hpp), so a retry never applies a command twice.
// A command with an idempotency key looks for its key's record before each
// attempt and writes one with its events (idempotency_record.hpp).
//
// A few coordinator actors per executor (RuntimeContext::coordinators), each
// running many commands at once, one Run per command: a command costs no
// actor spawn and no actor exit (in CAF 0.17 an exiting actor wakes the
// clock thread to cancel its timeouts, which cost more than the command).
// Commands without an idempotency key come here only to be retried or for
// discovered streams: the actor of their first stream runs them
// (protocol.hpp). Stream actors
// monitor the coordinators: if one dies, they release what its runs held,
// and it answers each of its unfinished runs (coordinator_stopped); a new
// coordinator takes its place.

#include <algorithm>
#include <unordered_map>
#include <utility>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/ambiguous_outcome.hpp"
#include "eventcore/actors/detail/command_rules.hpp"
#include "eventcore/actors/detail/decided_append.hpp"
#include "eventcore/actors/detail/idempotency_record.hpp"
#include "eventcore/actors/detail/outcome.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

using Clock = std::chrono::steady_clock;

// One command on a coordinator.
struct Run {
  TxnId txn = 0;                             // what it holds streams as
  CommandJobPtr job;
  std::function<void(const ExecuteResult&)> done;
  bool finished = false;
  bool append_sent = false;                  // an append went to the store: it may have written
  std::optional<caf::actor_clock::time_point> deadline;

  std::vector<StreamId> streams;             // declared + discovered, sorted, unique: the acquisition order
  const FoldNeeds* needs = nullptr;          // what the grants carry of each command stream (the job's)
  std::vector<StreamGrant> held;             // grants for streams[0 .. held.size())
  std::size_t attempt = 0;
  std::size_t rounds = 0;
  PhaseTimings timings;
  Clock::time_point started_at, phase_started_at;
  std::optional<Error> last_cause;
  std::vector<AppendRequestPtr> ambiguous;   // appends that may have committed (unavailable)
  std::optional<CommandError> rejection;     // decided; the answer once the store confirms the versions
  TypedEvents typed;                         // the append's events as emitted, in the append's order
#ifdef EVENTCORE_PLANTED_BUG_ambiguous_retry_unchecked  // simulation test build only
  bool record_unchecked = false;
#endif
};
using RunPtr = std::shared_ptr<Run>;

struct CoordinatorState {
  static inline const char* name = "eventcore.write_coordinator";
  ContextPtr context;
  std::size_t slot = 0;  // its place in context->coordinators
  std::unordered_map<TxnId, RunPtr> runs;  // the unfinished ones
  std::optional<caf::actor_clock::time_point> timer_due;  // a timeout_atom is on its way for then

  CoordinatorState() = default;
  CoordinatorState(const CoordinatorState&) = delete;
  CoordinatorState& operator=(const CoordinatorState&) = delete;
  // Runs when the actor exits, also when it is killed: answers every
  // unfinished run (the stream actors release what they held: they monitor
  // this actor) and, unless the executor is stopping, puts a new
  // coordinator in its place.
  ~CoordinatorState();
};

using Coordinator = caf::stateful_actor<CoordinatorState>;

RuntimeContext& ctx(Coordinator* self) { return *self->state.context; }

void prepare(Coordinator* self, const RunPtr& run);
void decide(Coordinator* self, const RunPtr& run, Clock::time_point started);
// `snapshots`: what the decision was made on (views of the held grants).
void commit(Coordinator* self, const RunPtr& run, std::span<const StreamSnapshot> snapshots, JobDecision decision);

void sort_unique(std::vector<StreamId>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

Clock::time_point now(Coordinator* self) { return ctx(self).clock(); }

// ---- outcome ----------------------------------------------------------------

void finish(Coordinator* self, const RunPtr& run_ref, ExecuteResult outcome) {
  const RunPtr run = run_ref;  // run_ref may be the map's entry, erased below
  if (run->finished) return;
  run->finished = true;
  self->state.runs.erase(run->txn);
  // A result carries its own timings (observe_outcome uses them); a
  // failure's total ends now.
  PhaseTimings timings = run->timings;
  if (!outcome.ok()) timings.total = now(self) - run->started_at;
  observe_outcome(ctx(self), *run->job, outcome, timings);
  if (auto done = std::exchange(run->done, nullptr)) done(outcome);
}

void fail(Coordinator* self, const RunPtr& run, CommandErrorCode code, std::string message,
          std::optional<Error> cause = std::nullopt, std::optional<std::vector<StreamId>> streams = std::nullopt) {
  auto& st = *run;
  finish(self, run,
         CommandError{code, st.job->name, streams ? std::move(*streams) : st.streams, std::move(message),
                      std::move(cause), st.attempt});
}

void release_all(Coordinator* self, const RunPtr& run, bool invalidate) {
  auto& st = *run;
  for (auto& grant : st.held) self->send(grant.stream_actor, release_atom::value, st.txn, invalidate);
  st.held.clear();
}

// After a failed attempt: try again per the retry policy, or give up.
void retry_or_fail(Coordinator* self, const RunPtr& run, RetryReason reason, Error cause) {
  auto& st = *run;
  const auto& policy = ctx(self).retry;
  if (policy.should_retry(reason, st.attempt)) {
    ctx(self).metrics->record_retry(reason);
    st.last_cause = std::move(cause);
    auto delay = policy.delay_before_retry(reason, st.attempt, ctx(self).random_bits());
    if (delay.count() <= 0)
      self->send(self, retry_atom::value, st.txn);
    else
      self->delayed_send(self, delay, retry_atom::value, st.txn);
    return;
  }
  if (reason == RetryReason::conflict)
    fail(self, run, CommandErrorCode::concurrency_conflict,
         "a stream changed concurrently on each of " + std::to_string(st.attempt) + " attempt(s)", std::move(cause));
  else if (!st.ambiguous.empty())
    fail(self, run, CommandErrorCode::store_unavailable,
         "the store is unavailable, and whether an earlier attempt committed is unknown", std::move(cause));
  else
    fail(self, run, CommandErrorCode::store_unavailable, "the store is unavailable", std::move(cause));
}

void start_attempt(Coordinator* self, const RunPtr& run);
void check_ambiguous(Coordinator* self, const RunPtr& run, std::size_t next);

// Answers with what an earlier attempt wrote, had it committed. Its streams
// were released with their caches dropped when the attempt failed: there is
// nothing to advance.
void finish_committed(Coordinator* self, const RunPtr& run, const AppendRequestPtr& request,
                      AppendResult appended) {
  auto& st = *run;
  CommandResult result = committed_result(*st.job, st.attempt, request, appended, {}, [](std::size_t, CommittedEvents) {});
  result.timings = st.timings;
  result.timings.total = now(self) - st.started_at;
  finish(self, run, std::move(result));
}

// Before an attempt after ambiguous ones: did one of them commit after all?
// Then the command is done; else the next attempt starts (it is safe: see
// ambiguous_outcome.hpp). Every ambiguous append is looked for each time: one
// not found before may have committed since. A store that cannot tell counts
// as unavailable.
void check_ambiguous(Coordinator* self, const RunPtr& run, std::size_t next) {
  auto& st = *run;
  if (next == st.ambiguous.size()) {
    start_attempt(self, run);
    return;
  }
  const AppendRequestPtr request = st.ambiguous[next];
  auto on_found = [self, run, request, next](Result<std::optional<AppendResult>> found) {
    auto& st = *run;
    if (st.finished) return;
    if (!found)
      retry_or_fail(self, run, RetryReason::transient, std::move(found).error());
    else if (*found)
      finish_committed(self, run, request, std::move(**found));
    else
      check_ambiguous(self, run, next + 1);
  };
  if (ctx(self).inline_store_calls) {
    on_found(find_committed(*ctx(self).store, *request));
    return;
  }
  self->request(ctx(self).pick_io(), caf::infinite, lookup_atom::value, request)
      .then(
          [=](CommittedReply& reply) {
            if (reply.error)
              on_found(std::move(*reply.error));
            else
              on_found(std::move(reply.committed));
          },
          [=](caf::error& err) {
            on_found(Error{ErrorCode::unavailable, "the store reader failed: " + self->system().render(err)});
          });
}

void look_up_record(Coordinator* self, const RunPtr& run, bool must_exist);

void start_attempt(Coordinator* self, const RunPtr& run) {
  auto& st = *run;
  ++st.attempt;
  st.rounds = 0;
  st.streams = st.job->streams;  // nothing is held between attempts (released before every retry)
  sort_unique(st.streams);
#ifdef EVENTCORE_PLANTED_BUG_ambiguous_retry_unchecked  // simulation test build only
  if (st.record_unchecked) {
    prepare(self, run);
    return;
  }
#endif
  if (st.job->idempotency_key)
    look_up_record(self, run, false);
  else
    prepare(self, run);
}

// ---- phase 1: prepare --------------------------------------------------------

void acquire_next(Coordinator* self, const RunPtr& run) {
  auto& st = *run;
  if (st.held.size() == st.streams.size()) {
    const auto prepared = now(self);
    st.timings.prepare = prepared - st.phase_started_at;
    decide(self, run, prepared);
    return;
  }
  const StreamId& stream = st.streams[st.held.size()];
  const bool routed = ctx(self).directory->with_actor(stream, [&](const caf::actor& actor) {
    self->request(actor, caf::infinite, acquire_atom::value, stream, st.txn, *st.needs)
        .then(
            [=](StreamGrant& grant) {
              if (run->finished) {  // it timed out while queued: let the stream go at once
                if (!grant.error) self->send(grant.stream_actor, release_atom::value, run->txn, false);
                return;
              }
              if (grant.error) {
                release_all(self, run, false);
                auto reason = grant.error->transient() ? RetryReason::transient : RetryReason::conflict;
                if (grant.error->transient())
                  retry_or_fail(self, run, reason, *grant.error);
                else
                  fail(self, run, CommandErrorCode::store_failed, "reading a stream failed", *grant.error);
                return;
              }
              run->held.push_back(std::move(grant));
              acquire_next(self, run);
            },
            [=](caf::error& err) {
              if (run->finished) return;
              release_all(self, run, false);
              retry_or_fail(self, run, RetryReason::transient,
                            Error{ErrorCode::unavailable, "acquiring a stream failed: " + self->system().render(err)});
            });
  });
  if (!routed) {
    release_all(self, run, false);
    fail(self, run, CommandErrorCode::store_unavailable, "the executor was shut down");
  }
}

// Acquires every stream not yet held, in sorted order (held[i] is the grant
// of streams[i]). Grants that carry other folds than the streams now need
// are given back first.
void prepare(Coordinator* self, const RunPtr& run) {
  auto& st = *run;
  const FoldNeeds* needs = &st.job->needs(st.streams.size());
  if (needs != st.needs) release_all(self, run, false);
  st.needs = needs;
  st.phase_started_at = now(self);
  acquire_next(self, run);
}

void replay(Coordinator* self, const RunPtr& run, IdempotencyRecord record);

// Answers from the key's record, refuses a key used with another command,
// or (no record) runs the attempt. After a duplicate_key the record must
// exist: another execution with the key committed.
void on_record(Coordinator* self, const RunPtr& run, Result<std::optional<CommandRecord>> found, bool must_exist) {
  auto& st = *run;
  if (st.finished) return;
  if (!found) {
    retry_or_fail(self, run, RetryReason::transient, std::move(found).error());
    return;
  }
  const std::string& key = *st.job->idempotency_key;
  if (!*found) {
    if (must_exist)
      fail(self, run, CommandErrorCode::store_failed,
           "the store refused idempotency key '" + key + "' as taken, but holds no record of it");
    else
      prepare(self, run);
    return;
  }
  auto record = decode_record(**found);
  if (!record) {
    fail(self, run, CommandErrorCode::store_failed,
         "the command record of idempotency key '" + key + "' does not decode", std::move(record).error());
    return;
  }
  const std::string wanted = key_fingerprint(st.job->name, st.job->streams, st.job->fingerprint);
  if (!record->fingerprint.empty() && record->fingerprint != wanted) {
    finish(self, run,
           CommandError{CommandErrorCode::invalid_command, st.job->name, st.streams,
                        "idempotency key '" + key + "' was first used with another command: " + record->fingerprint +
                            ", not " + wanted + "; nothing was written",
                        std::nullopt, st.attempt, "idempotency_key_reused"});
    return;
  }
  replay(self, run, std::move(*record));
}

void look_up_record(Coordinator* self, const RunPtr& run, bool must_exist) {
  auto& st = *run;
  const std::string& key = *st.job->idempotency_key;
  if (ctx(self).inline_store_calls) {
    on_record(self, run, ctx(self).store->load_command_record(key), must_exist);
    return;
  }
  self->request(ctx(self).pick_io(), caf::infinite, record_atom::value, key)
      .then(
          [=](RecordReply& reply) {
            if (reply.error)
              on_record(self, run, std::move(*reply.error), must_exist);
            else
              on_record(self, run, std::move(reply.record), must_exist);
          },
          [=](caf::error& err) {
            on_record(self, run,
                      Error{ErrorCode::unavailable, "the store reader failed: " + self->system().render(err)},
                      must_exist);
          });
}

// Answers with the recorded result, its positions read back from the store.
void replay(Coordinator* self, const RunPtr& run, IdempotencyRecord record) {
  auto answer = [self, run, record](Result<std::vector<GlobalPosition>> positions) {
    auto& st = *run;
    if (st.finished) return;
    if (!positions) {
      retry_or_fail(self, run, RetryReason::transient, std::move(positions).error());
      return;
    }
    CommandResult result;
    result.command = record.command;
    result.attempts = st.attempt;
    result.events_written = record.event_ids.size();
    for (const auto& [stream, version] : record.stream_versions)
      if (auto id = StreamId::try_new(stream)) result.stream_versions.push_back({*id, StreamVersion{version}});
    result.positions = std::move(*positions);
    result.replayed = true;
    finish(self, run, std::move(result));
  };
  if (ctx(self).inline_store_calls) {
    answer(recorded_positions(*ctx(self).store, record));
    return;
  }
  self->request(ctx(self).pick_io(), caf::infinite, read_atom::value, record)
      .then(
          [=](PositionsReply& reply) {
            if (reply.error)
              answer(std::move(*reply.error));
            else
              answer(std::move(reply.positions));
          },
          [=](caf::error& err) {
            answer(Error{ErrorCode::unavailable, "the store reader failed: " + self->system().render(err)});
          });
}

// Between the phases: the command's own logic, on the prepared snapshots.
// `started`: when preparing ended (reconstructing begins).
void decide(Coordinator* self, const RunPtr& run, Clock::time_point started) {
  auto& st = *run;
  std::vector<StreamSnapshot> snapshots;
  snapshots.reserve(st.held.size());
  for (std::size_t i = 0; i < st.held.size(); ++i) snapshots.push_back(st.held[i].snapshot(st.streams[i]));
  JobDecision decision = detail::decide(*st.job, snapshots, ctx(self).clock, started);
  st.timings.reconstruct = decision.reconstruct;
  st.timings.handle = decision.handle;

  auto next = after_decide(*st.job, decision, st.streams, st.attempt);
  switch (next.kind) {
    case AfterDecide::Kind::answer:
      if (next.confirm) {
        st.rejection = std::move(next.error);
        commit(self, run, snapshots, std::move(decision));
        return;
      }
      release_all(self, run, next.drop_cache);
      finish(self, run, std::move(*next.error));
      return;
    case AfterDecide::Kind::discover: {
      if (++st.rounds > ctx(self).config.max_discovery_rounds) {
        release_all(self, run, false);
        fail(self, run, CommandErrorCode::stream_discovery_limit,
             "handle still asked for more streams after " + std::to_string(ctx(self).config.max_discovery_rounds) +
                 " rounds of discovery");
        return;
      }
      std::vector<StreamId> streams = st.streams;
      for (auto& s : decision.more_streams) streams.push_back(std::move(s));
      sort_unique(streams);
      // Streams are held in sorted order: if a discovered one sorts before a
      // held one, everything is given back and taken again in order
      // (holding and then waiting out of order could deadlock with another
      // command).
      if (!std::equal(st.streams.begin(), st.streams.begin() + static_cast<std::ptrdiff_t>(st.held.size()),
                      streams.begin()))
        release_all(self, run, false);
      st.streams = std::move(streams);
      prepare(self, run);
      return;
    }
    case AfterDecide::Kind::append:
      commit(self, run, snapshots, std::move(decision));
      return;
  }
}

// ---- phase 2: commit ---------------------------------------------------------

void on_appended(Coordinator* self, const RunPtr& run, const AppendRequestPtr& request, AppendReply& reply);

void commit(Coordinator* self, const RunPtr& run, std::span<const StreamSnapshot> snapshots, JobDecision decision) {
  auto& st = *run;
  // A keyed command records what it did even when that is nothing (a
  // rejection writes nothing, and records nothing).
  const bool recorded = st.job->idempotency_key && !st.rejection;
  IdempotencyRecord record;
  if (recorded) {
    record = {st.job->name, {}, {}, key_fingerprint(st.job->name, st.job->streams, st.job->fingerprint)};
    for (const auto& e : decision.events) record.event_ids.push_back(e.event.id);
  }
  auto decided = decided_append(snapshots, decision);
  const std::shared_ptr<AppendRequest> request = std::move(decided.request);
  st.typed = std::move(decided.typed);
  if (recorded) {
    for (std::size_t i = 0; i < snapshots.size(); ++i)
      record.stream_versions.emplace_back(snapshots[i].stream.str(),
                                          snapshots[i].version.value + request->streams[i].events.size());
    request->record = CommandRecord{*st.job->idempotency_key, encode_record(record), {}};
  }
  // Drop our references to the stream actors' folds so that they can
  // advance in place on commit.
  for (auto& grant : st.held) grant.folds.clear();
  st.phase_started_at = decision.decided_at;
  st.append_sent = true;
  if (auto appended = ctx(self).append_in_place(*request)) {
    AppendReply reply = *appended ? AppendReply{std::move(**appended), std::nullopt}
                                  : AppendReply{std::nullopt, std::move(*appended).error()};
    on_appended(self, run, request, reply);
    return;
  }
  auto in_flight = ctx(self).count_io_call();
  self->request(ctx(self).pick_io(), caf::infinite, append_atom::value, *request)
      .then(
          [=](AppendReply& reply) {
            (void)in_flight;  // dropped with this handler
            if (!run->finished) on_appended(self, run, request, reply);  // else it timed out: caches were dropped
          },
          [=](caf::error& err) {
            if (run->finished) return;
            AppendReply reply{std::nullopt,
                              Error{ErrorCode::unavailable, "the store writer failed: " + self->system().render(err)}};
            on_appended(self, run, request, reply);
          });
#ifdef EVENTCORE_PLANTED_BUG_early_release  // simulation test build only
  for (auto& grant : st.held) self->send(grant.stream_actor, release_atom::value, st.txn, false);
#endif
}

void on_appended(Coordinator* self, const RunPtr& run, const AppendRequestPtr& request_ptr, AppendReply& reply) {
  auto& st = *run;
  const auto written = now(self);
  st.timings.write = written - st.phase_started_at;
  if (reply.error) {
    // We do not know what the store holds now (a foreign write, or for an
    // unavailable store perhaps our own): every stream reloads.
    release_all(self, run, true);
    st.rejection.reset();  // decided on state that may have moved: decide again
    const Error& error = *reply.error;
    if (error.code == ErrorCode::duplicate_key) {
      // Another execution with this key committed first: answer as it did.
      look_up_record(self, run, true);
      return;
    }
    const auto reason = retry_reason(error);
#ifdef EVENTCORE_PLANTED_BUG_ambiguous_retry_unchecked  // simulation test build only
    if (reason == RetryReason::transient) st.record_unchecked = true;
#else
    if (reason == RetryReason::transient) st.ambiguous.push_back(request_ptr);
#endif
    if (reason)
      retry_or_fail(self, run, *reason, error);
    else
      fail(self, run, CommandErrorCode::store_failed, "the store rejected the append", error);
    return;
  }
  if (st.rejection) {  // confirmed: the streams are where the rejection saw them
    release_all(self, run, false);
    CommandError rejection = std::move(*st.rejection);
    rejection.attempts = st.attempt;
    finish(self, run, std::move(rejection));
    return;
  }
  CommandResult result = committed_result(
      *st.job, st.attempt, request_ptr, *reply.result, std::move(st.typed),
      [&](std::size_t i, CommittedEvents committed) {
        self->send(st.held[i].stream_actor, commit_atom::value, st.txn,
                   CommittedEventsPtr(std::make_shared<CommittedEvents>(std::move(committed))));
      });
  st.held.clear();
  result.timings = st.timings;
  result.timings.total = written - st.started_at;
  finish(self, run, std::move(result));
}

// ---- the actor ---------------------------------------------------------------

// Makes sure a timeout_atom arrives by `due`.
void arm_timer(Coordinator* self, caf::actor_clock::time_point due) {
  auto& st = self->state;
  if (st.timer_due && *st.timer_due <= due) return;
  st.timer_due = due;
  self->delayed_send(self, std::max<caf::timespan>(due - self->clock().now(), caf::timespan::zero()),
                     timeout_atom::value);
}

// Fails the runs whose time is up. Streams still held are released without
// waiting for a reply that may never come; an append in flight may still
// land, so caches drop. One timer per coordinator at a time, set for the
// earliest deadline (deadlines are on the actor clock: simulated in tests).
void expire_runs(Coordinator* self) {
  auto& st = self->state;
  st.timer_due.reset();
  const auto t = self->clock().now();
  std::vector<RunPtr> expired;
  std::optional<caf::actor_clock::time_point> next;
  for (const auto& [txn, run] : st.runs) {
    if (!run->deadline) continue;
    if (*run->deadline <= t)
      expired.push_back(run);
    else if (!next || *run->deadline < *next)
      next = run->deadline;
  }
  for (const auto& run : expired) {
    release_all(self, run, true);
    fail(self, run, CommandErrorCode::timeout,
         "the command did not finish within " + std::to_string(ctx(self).config.command_timeout.count()) + " ms",
         run->last_cause);
  }
  if (next) arm_timer(self, *next);
}

// `resumed`: the attempt a stream actor already made, if any.
void start(Coordinator* self, const RunPtr& run, std::optional<FailedAttempt> resumed) {
  auto& st = *run;
  st.started_at = resumed ? resumed->started_at : now(self);
  if (auto timeout = ctx(self).config.command_timeout; timeout.count() > 0) {
    const auto spent = resumed ? now(self) - st.started_at : Clock::duration::zero();
    const auto left = std::max<Clock::duration>(timeout - spent, Clock::duration::zero());
    st.deadline = self->clock().now() + std::chrono::duration_cast<caf::timespan>(left);
    arm_timer(self, *st.deadline);
  }
  if (st.job->idempotency_key) {
    if (auto status = validate_record_key(*st.job->idempotency_key); !status) {
      fail(self, run, CommandErrorCode::invalid_command, "the idempotency key is not usable",
           std::move(status).error());
      return;
    }
  }
  if (resumed) {
    // The first attempt ran on the stream actor's fast path and failed in a
    // way the policy may retry: carry on from there.
    st.attempt = 1;
    st.streams = st.job->streams;
    sort_unique(st.streams);
    st.timings = resumed->timings;
    if (resumed->ambiguous) st.ambiguous.push_back(resumed->ambiguous);
    retry_or_fail(self, run, resumed->reason, std::move(resumed->cause));
    return;
  }
  start_attempt(self, run);
}

caf::behavior write_coordinator(Coordinator* self, ContextPtr context, std::size_t slot) {
  self->state.context = std::move(context);
  self->state.slot = slot;
  return {
      [=](run_atom, CoordinatedCommandPtr& command) {
        auto run = std::make_shared<Run>();
        run->txn = ctx(self).next_txn.fetch_add(1, std::memory_order_relaxed);
        run->job = command->job;
        run->done = std::exchange(command->done, nullptr);  // taken: the command no longer answers for itself
        self->state.runs.emplace(run->txn, run);
        start(self, run, std::move(command->resumed));
      },
      [=](retry_atom, TxnId txn) {
        auto it = self->state.runs.find(txn);
        if (it == self->state.runs.end()) return;  // it finished meanwhile (timed out)
        const RunPtr run = it->second;
        check_ambiguous(self, run, 0);
      },
      [=](timeout_atom) { expire_runs(self); },
  };
}

// Answers a command that a coordinator stopped (or never took) with
// store_unavailable, reason coordinator_stopped.
void answer_stopped(RuntimeContext& context, const CommandJob& job, std::function<void(const ExecuteResult&)> done,
                    std::string message, std::size_t attempts) {
  CommandError error{CommandErrorCode::store_unavailable, job.name, job.streams, std::move(message),
                     Error{ErrorCode::unavailable, "write coordinator stopped"}, attempts, "coordinator_stopped"};
  observe_outcome(context, job, error, {});
  done(error);
}

caf::actor spawn_coordinator(const ContextPtr& context, std::size_t slot) {
  return context->system->spawn(write_coordinator, context, slot);
}

CoordinatorState::~CoordinatorState() {
  if (!context) return;
  const bool stopping = context->directory->stopped();
  auto left = std::move(runs);
  runs.clear();
  for (auto& [txn, run] : left) {
    if (run->finished || !run->done) continue;
    run->finished = true;
    std::string message = stopping ? "the executor was shut down while the command ran"
                                   : "the command's write coordinator stopped";
    message += run->append_sent || !run->ambiguous.empty() ? "; whether it committed is unknown"
                                                            : " before it wrote anything";
    answer_stopped(*context, *run->job, std::exchange(run->done, nullptr), std::move(message), run->attempt);
  }
  if (!stopping) context->set_coordinator(slot, spawn_coordinator(context, slot));
}

}  // namespace

void spawn_write_coordinators(const ContextPtr& context, std::size_t count) {
  for (std::size_t slot = 0; slot < std::max<std::size_t>(1, count); ++slot)
    context->set_coordinator(slot, spawn_coordinator(context, slot));
}

void coordinate(const ContextPtr& context, CommandJobPtr job, std::function<void(const ExecuteResult&)> done,
                std::optional<FailedAttempt> resumed, std::size_t hops) {
  auto command = std::make_shared<CoordinatedCommand>();
  command->job = std::move(job);
  command->done = std::move(done);
  command->resumed = std::move(resumed);
  command->context = context;
  command->hops = hops;
  caf::anon_send(context->pick_coordinator(), run_atom::value, std::move(command));
}

CoordinatedCommand::~CoordinatedCommand() {
  if (!done || !context) return;
  // Dropped before a coordinator took it (its coordinator died with it in the
  // mailbox): nothing of it ran, so another coordinator takes it.
  if (!context->directory->stopped() && hops < 2 * context->coordinator_count()) {
    coordinate(context, std::move(job), std::move(done), std::move(resumed), hops + 1);
    return;
  }
  answer_stopped(*context, *job, std::exchange(done, nullptr),
                 context->directory->stopped() ? "the executor was shut down" : "no write coordinator took the command",
                 0);
}

}  // namespace eventcore::detail
