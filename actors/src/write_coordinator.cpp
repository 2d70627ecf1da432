// Runs one command as a two-phase, version-checked write:
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
// One coordinator actor per command (except a single-stream one without
// idempotency key, which its stream actor runs: protocol.hpp; it comes here
// only to be retried): if the coordinator dies, the stream actors that
// monitor it release its streams.

#include <algorithm>
#include <unordered_map>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/ambiguous_outcome.hpp"
#include "eventcore/actors/detail/command_rules.hpp"
#include "eventcore/actors/detail/idempotency_record.hpp"
#include "eventcore/actors/detail/outcome.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

using Clock = std::chrono::steady_clock;

struct CoordinatorState {
  static inline const char* name = "eventcore.write_coordinator";
  ContextPtr context;
  CommandJobPtr job;
  std::function<void(const ExecuteResult&)> done;
  std::optional<FailedAttempt> resumed;      // an attempt a stream actor already made
  bool started = false;
  bool finished = false;

  std::vector<StreamId> streams;             // declared + discovered, sorted, unique
  std::vector<StreamId> order;               // the streams held or being acquired, in acquisition order
  FoldNeeds needs;                           // what the grants carry of each command stream
  std::vector<StreamGrant> held;             // grants for order[0 .. held.size())
  std::size_t attempt = 0;
  std::size_t rounds = 0;
  PhaseTimings timings;
  Clock::time_point started_at, phase_started_at;
  std::optional<Error> last_cause;
  std::vector<AppendRequestPtr> ambiguous;   // appends that may have committed (unavailable)
  std::optional<CommandError> rejection;     // decided; the answer once the store confirms the versions
#ifdef EVENTCORE_PLANTED_BUG_ambiguous_retry_unchecked  // simulation test build only
  bool record_unchecked = false;
#endif
};

using Coordinator = caf::stateful_actor<CoordinatorState>;

void prepare(Coordinator* self);
void decide(Coordinator* self);
void commit(Coordinator* self, JobDecision decision);

void sort_unique(std::vector<StreamId>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

Clock::time_point now(Coordinator* self) { return self->state.context->clock(); }

// ---- outcome ----------------------------------------------------------------

void finish(Coordinator* self, ExecuteResult outcome) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  PhaseTimings timings = st.timings;
  timings.total = now(self) - st.started_at;
  observe_outcome(*st.context, *st.job, outcome, timings);
  if (st.done) st.done(outcome);
  self->quit();
}

void fail(Coordinator* self, CommandErrorCode code, std::string message, std::optional<Error> cause = std::nullopt,
          std::optional<std::vector<StreamId>> streams = std::nullopt) {
  auto& st = self->state;
  finish(self, CommandError{code, st.job->name, streams ? std::move(*streams) : st.streams, std::move(message),
                            std::move(cause), st.attempt});
}

void release_all(Coordinator* self, bool invalidate) {
  auto& st = self->state;
  for (auto& grant : st.held) self->send(grant.stream_actor, release_atom::value, self->id(), invalidate);
  st.held.clear();
}

// After a failed attempt: try again per the retry policy, or give up.
void retry_or_fail(Coordinator* self, RetryReason reason, Error cause) {
  auto& st = self->state;
  const auto& policy = st.context->retry;
  if (policy.should_retry(reason, st.attempt)) {
    st.context->metrics->record_retry(reason);
    st.last_cause = std::move(cause);
    auto delay = policy.delay_before_retry(reason, st.attempt, st.context->random_bits());
    if (delay.count() <= 0)
      self->send(self, retry_atom::value);
    else
      self->delayed_send(self, delay, retry_atom::value);
    return;
  }
  if (reason == RetryReason::conflict)
    fail(self, CommandErrorCode::concurrency_conflict,
         "a stream changed concurrently on each of " + std::to_string(st.attempt) + " attempt(s)", std::move(cause));
  else if (!st.ambiguous.empty())
    fail(self, CommandErrorCode::store_unavailable,
         "the store is unavailable, and whether an earlier attempt committed is unknown", std::move(cause));
  else
    fail(self, CommandErrorCode::store_unavailable, "the store is unavailable", std::move(cause));
}

void start_attempt(Coordinator* self);
void check_ambiguous(Coordinator* self, std::size_t next);

// Answers with what an earlier attempt wrote, had it committed.
void finish_committed(Coordinator* self, const AppendRequest& request, const AppendResult& appended) {
  auto& st = self->state;
  CommandResult result;
  result.command = st.job->name;
  result.attempts = st.attempt;
  std::size_t position = 0;
  for (std::size_t i = 0; i < request.streams.size(); ++i) {
    const auto& write = request.streams[i];
    for (std::size_t k = 0; k < write.events.size() && position < appended.positions.size(); ++k)
      result.positions.push_back(appended.positions[position++]);
    result.events_written += write.events.size();
    result.stream_versions.push_back(appended.streams[i]);
  }
  result.timings = st.timings;
  result.timings.total = now(self) - st.started_at;
  finish(self, std::move(result));
}

// Before an attempt after ambiguous ones: did one of them commit after all?
// Then the command is done; else the next attempt starts (it is safe: see
// ambiguous_outcome.hpp). Every ambiguous append is looked for each time: one
// not found before may have committed since. A store that cannot tell counts
// as unavailable.
void check_ambiguous(Coordinator* self, std::size_t next) {
  auto& st = self->state;
  if (next == st.ambiguous.size()) {
    start_attempt(self);
    return;
  }
  const AppendRequestPtr request = st.ambiguous[next];
  auto on_found = [self, request, next](Result<std::optional<AppendResult>> found) {
    auto& st = self->state;
    if (st.finished) return;
    if (!found)
      retry_or_fail(self, RetryReason::transient, std::move(found).error());
    else if (*found)
      finish_committed(self, *request, **found);
    else
      check_ambiguous(self, next + 1);
  };
  if (st.context->inline_store_calls) {
    on_found(find_committed(*st.context->store, *request));
    return;
  }
  self->request(st.context->pick_io(), caf::infinite, lookup_atom::value, request)
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

void look_up_record(Coordinator* self, bool must_exist);

void start_attempt(Coordinator* self) {
  auto& st = self->state;
  ++st.attempt;
  st.rounds = 0;
  st.streams = st.job->streams;
  sort_unique(st.streams);
#ifdef EVENTCORE_PLANTED_BUG_ambiguous_retry_unchecked  // simulation test build only
  if (st.record_unchecked) {
    prepare(self);
    return;
  }
#endif
  if (st.job->idempotency_key)
    look_up_record(self, false);
  else
    prepare(self);
}

// ---- phase 1: prepare --------------------------------------------------------

void acquire_next(Coordinator* self) {
  auto& st = self->state;
  if (st.held.size() == st.order.size()) {
    st.timings.prepare = now(self) - st.phase_started_at;
    decide(self);
    return;
  }
  const StreamId& stream = st.order[st.held.size()];
  const bool routed = st.context->directory->with_actor(stream, [&](const caf::actor& actor) {
    self->request(actor, caf::infinite, acquire_atom::value, stream, st.needs)
        .then(
            [=](StreamGrant& grant) {
              if (grant.error) {
                release_all(self, false);
                auto reason = grant.error->transient() ? RetryReason::transient : RetryReason::conflict;
                if (grant.error->transient())
                  retry_or_fail(self, reason, *grant.error);
                else
                  fail(self, CommandErrorCode::store_failed, "reading a stream failed", *grant.error);
                return;
              }
              self->state.held.push_back(std::move(grant));
              acquire_next(self);
            },
            [=](caf::error& err) {
              release_all(self, false);
              retry_or_fail(self, RetryReason::transient,
                            Error{ErrorCode::unavailable, "acquiring a stream failed: " + self->system().render(err)});
            });
  });
  if (!routed) {
    release_all(self, false);
    fail(self, CommandErrorCode::store_unavailable, "the executor was shut down");
  }
}

// Acquires every stream not yet held. Streams are taken in sorted order; if
// newly discovered ones would sort before a held one, everything is released
// and taken again in order (holding and then waiting out of order could
// deadlock with another command).
void prepare(Coordinator* self) {
  auto& st = self->state;
  const std::vector<StreamId>& order = st.streams;
  FoldNeeds needs = st.job->needs(st.streams.size());
  // held[i] is the grant of st.order[i].
  const bool prefix_kept = needs == st.needs && st.held.size() <= order.size() &&
                           std::equal(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(st.held.size()),
                                      st.order.begin());
  if (!prefix_kept) release_all(self, false);
  st.needs = std::move(needs);
  st.order = order;
  st.phase_started_at = now(self);
  acquire_next(self);
}

void replay(Coordinator* self, IdempotencyRecord record);

// Answers from the key's record, refuses a key used with another command,
// or (no record) runs the attempt. After a duplicate_key the record must
// exist: another execution with the key committed.
void on_record(Coordinator* self, Result<std::optional<CommandRecord>> found, bool must_exist) {
  auto& st = self->state;
  if (st.finished) return;
  if (!found) {
    retry_or_fail(self, RetryReason::transient, std::move(found).error());
    return;
  }
  const std::string& key = *st.job->idempotency_key;
  if (!*found) {
    if (must_exist)
      fail(self, CommandErrorCode::store_failed,
           "the store refused idempotency key '" + key + "' as taken, but holds no record of it");
    else
      prepare(self);
    return;
  }
  auto record = decode_record(**found);
  if (!record) {
    fail(self, CommandErrorCode::store_failed, "the command record of idempotency key '" + key + "' does not decode",
         std::move(record).error());
    return;
  }
  const std::string wanted = key_fingerprint(st.job->name, st.job->streams, st.job->fingerprint);
  if (!record->fingerprint.empty() && record->fingerprint != wanted) {
    finish(self, CommandError{CommandErrorCode::invalid_command, st.job->name, st.streams,
                              "idempotency key '" + key + "' was first used with another command: " +
                                  record->fingerprint + ", not " + wanted + "; nothing was written",
                              std::nullopt, st.attempt, "idempotency_key_reused"});
    return;
  }
  replay(self, std::move(*record));
}

void look_up_record(Coordinator* self, bool must_exist) {
  auto& st = self->state;
  const std::string& key = *st.job->idempotency_key;
  if (st.context->inline_store_calls) {
    on_record(self, st.context->store->load_command_record(key), must_exist);
    return;
  }
  self->request(st.context->pick_io(), caf::infinite, record_atom::value, key)
      .then(
          [=](RecordReply& reply) {
            if (reply.error)
              on_record(self, std::move(*reply.error), must_exist);
            else
              on_record(self, std::move(reply.record), must_exist);
          },
          [=](caf::error& err) {
            on_record(self, Error{ErrorCode::unavailable, "the store reader failed: " + self->system().render(err)},
                      must_exist);
          });
}

// Answers with the recorded result, its positions read back from the store.
void replay(Coordinator* self, IdempotencyRecord record) {
  auto& st = self->state;
  auto answer = [self, record](Result<std::vector<GlobalPosition>> positions) {
    auto& st = self->state;
    if (!positions) {
      retry_or_fail(self, RetryReason::transient, std::move(positions).error());
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
    finish(self, std::move(result));
  };
  if (st.context->inline_store_calls) {
    answer(recorded_positions(*st.context->store, record));
    return;
  }
  self->request(st.context->pick_io(), caf::infinite, read_atom::value, record)
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
void decide(Coordinator* self) {
  auto& st = self->state;
  std::vector<StreamSnapshot> snapshots;
  for (std::size_t i = 0; i < st.held.size(); ++i) snapshots.push_back(st.held[i].snapshot(st.order[i]));
  JobDecision decision = detail::decide(*st.job, snapshots, st.context->clock);
  snapshots.clear();
  st.timings.reconstruct = decision.reconstruct;
  st.timings.handle = decision.handle;

  auto next = after_decide(*st.job, decision, st.streams, st.attempt);
  switch (next.kind) {
    case AfterDecide::Kind::answer:
      if (next.confirm) {
        st.rejection = std::move(next.error);
        commit(self, std::move(decision));
        return;
      }
      release_all(self, next.drop_cache);
      finish(self, std::move(*next.error));
      return;
    case AfterDecide::Kind::discover: {
      if (++st.rounds > st.context->config.max_discovery_rounds) {
        release_all(self, false);
        fail(self, CommandErrorCode::stream_discovery_limit,
             "handle still asked for more streams after " + std::to_string(st.context->config.max_discovery_rounds) +
                 " rounds of discovery");
        return;
      }
      for (auto& s : decision.more_streams) st.streams.push_back(std::move(s));
      sort_unique(st.streams);
      prepare(self);
      return;
    }
    case AfterDecide::Kind::append:
      commit(self, std::move(decision));
      return;
  }
}

// ---- phase 2: commit ---------------------------------------------------------

void on_appended(Coordinator* self, const AppendRequestPtr& request, AppendReply& reply);

void commit(Coordinator* self, JobDecision decision) {
  auto& st = self->state;
  auto request = std::make_shared<AppendRequest>();
  IdempotencyRecord record{st.job->name, {}, {}, key_fingerprint(st.job->name, st.job->streams, st.job->fingerprint)};
  for (const auto& e : decision.events) record.event_ids.push_back(e.event.id);
  for (std::size_t i = 0; i < st.held.size(); ++i) {
    const auto snap = st.held[i].snapshot(st.order[i]);
    StreamWrite write{snap.stream, ExpectedVersion::exact(snap.version), {}};
    for (const auto& e : decision.events)
      if (e.stream == snap.stream) write.events.push_back(e.event);
    record.stream_versions.emplace_back(snap.stream.str(), snap.version.value + write.events.size());
#ifdef EVENTCORE_PLANTED_BUG_readonly_unchecked  // simulation test build only
    if (write.events.empty()) write.expected = ExpectedVersion::any();
#endif
    request->streams.push_back(std::move(write));
  }
  // A keyed command records what it did even when that is nothing (a
  // rejection writes nothing, and records nothing). Every decision goes to
  // the store, events or not: its version check confirms the state it was
  // decided on.
  if (st.job->idempotency_key && !st.rejection)
    request->record = CommandRecord{*st.job->idempotency_key, encode_record(record), {}};
  // Drop our references to the stream actors' folds so that they can
  // advance in place on commit.
  for (auto& grant : st.held) grant.folds.clear();
  st.phase_started_at = now(self);
  if (st.context->inline_store_calls) {  // a store that never blocks: no hop to an I/O actor
    auto appended = st.context->store->append(*request);
    AppendReply reply = appended ? AppendReply{std::move(*appended), std::nullopt}
                                 : AppendReply{std::nullopt, std::move(appended).error()};
    on_appended(self, request, reply);
    return;
  }
  self->request(st.context->pick_io(), caf::infinite, append_atom::value, *request)
      .then([=](AppendReply& reply) { on_appended(self, request, reply); },
            [=](caf::error& err) {
              AppendReply reply{std::nullopt,
                                Error{ErrorCode::unavailable, "the store writer failed: " + self->system().render(err)}};
              on_appended(self, request, reply);
            });
#ifdef EVENTCORE_PLANTED_BUG_early_release  // simulation test build only
  for (auto& grant : st.held) self->send(grant.stream_actor, release_atom::value, self->id(), false);
#endif
}

void on_appended(Coordinator* self, const AppendRequestPtr& request_ptr, AppendReply& reply) {
  auto& st = self->state;
  const AppendRequest& request = *request_ptr;
  st.timings.write = now(self) - st.phase_started_at;
  if (reply.error) {
    // We do not know what the store holds now (a foreign write, or for an
    // unavailable store perhaps our own): every stream reloads.
    release_all(self, true);
    st.rejection.reset();  // decided on state that may have moved: decide again
    const Error& error = *reply.error;
    if (error.code == ErrorCode::duplicate_key) {
      // Another execution with this key committed first: answer as it did.
      look_up_record(self, true);
      return;
    }
    const auto reason = retry_reason(error);
#ifdef EVENTCORE_PLANTED_BUG_ambiguous_retry_unchecked  // simulation test build only
    if (reason == RetryReason::transient) st.record_unchecked = true;
#else
    if (reason == RetryReason::transient) st.ambiguous.push_back(request_ptr);
#endif
    if (reason)
      retry_or_fail(self, *reason, error);
    else
      fail(self, CommandErrorCode::store_failed, "the store rejected the append", error);
    return;
  }
  if (st.rejection) {  // confirmed: the streams are where the rejection saw them
    release_all(self, false);
    CommandError rejection = std::move(*st.rejection);
    rejection.attempts = st.attempt;
    finish(self, std::move(rejection));
    return;
  }
  const AppendResult& appended = *reply.result;
  CommandResult result;
  result.command = st.job->name;
  result.attempts = st.attempt;
  const auto stamp = st.context->wall_clock();
  std::size_t position = 0;
  for (std::size_t i = 0; i < request.streams.size(); ++i) {
    const auto& write = request.streams[i];
    auto committed = std::make_shared<CommittedEvents>();
    committed->events = stored_events(write, appended.streams[i].version.value - write.events.size(),
                                      appended.positions, position, stamp);
    for (const auto& e : committed->events) result.positions.push_back(e.position);
    result.events_written += committed->events.size();
    result.stream_versions.push_back(appended.streams[i]);
    self->send(st.held[i].stream_actor, commit_atom::value, self->id(), CommittedEventsPtr(std::move(committed)));
  }
  st.held.clear();
  // Positions in emit order (the request groups events by stream).
  result.timings = st.timings;
  result.timings.total = now(self) - st.started_at;
  finish(self, std::move(result));
}

// ---- the actor ---------------------------------------------------------------

void start(Coordinator* self) {
  auto& st = self->state;
  if (st.started) return;
  st.started = true;
  st.started_at = now(self);
  if (st.job->idempotency_key) {
    if (auto status = validate_record_key(*st.job->idempotency_key); !status) {
      fail(self, CommandErrorCode::invalid_command, "the idempotency key is not usable", std::move(status).error());
      return;
    }
  }
  if (st.resumed) st.started_at = st.resumed->started_at;
  if (auto timeout = st.context->config.command_timeout; timeout.count() > 0)
    self->delayed_send(self, std::max<Clock::duration>(timeout - (now(self) - st.started_at), Clock::duration::zero()),
                       timeout_atom::value);
  if (st.resumed) {
    // The first attempt ran on the stream actor's fast path and failed in a
    // way the policy may retry: carry on from there.
    st.attempt = 1;
    st.streams = st.job->streams;
    sort_unique(st.streams);
    st.timings = st.resumed->timings;
    if (st.resumed->ambiguous) st.ambiguous.push_back(st.resumed->ambiguous);
    retry_or_fail(self, st.resumed->reason, st.resumed->cause);
    return;
  }
  start_attempt(self);
}

caf::behavior write_coordinator(Coordinator* self, ContextPtr context, CommandJobPtr job,
                                std::function<void(const ExecuteResult&)> done, std::optional<FailedAttempt> resumed) {
  self->state.context = std::move(context);
  self->state.job = std::move(job);
  self->state.done = std::move(done);
  self->state.resumed = std::move(resumed);
  return {
      [=](run_atom) { start(self); },
      [=](retry_atom) { check_ambiguous(self, 0); },
      [=](timeout_atom) {
        // Streams still held are released without waiting for a reply that
        // may never come; an append in flight may still land, so caches drop.
        release_all(self, true);
        fail(self, CommandErrorCode::timeout,
             "the command did not finish within " + std::to_string(self->state.context->config.command_timeout.count()) +
                 " ms",
             self->state.last_cause);
      },
  };
}

}  // namespace

caf::actor spawn_write_coordinator(caf::actor_system& system, ContextPtr context, CommandJobPtr job,
                                   std::function<void(const ExecuteResult&)> done,
                                   std::optional<FailedAttempt> resumed) {
  auto coordinator =
      system.spawn(write_coordinator, std::move(context), std::move(job), std::move(done), std::move(resumed));
  caf::anon_send(coordinator, run_atom::value);
  return coordinator;
}

}  // namespace eventcore::detail
