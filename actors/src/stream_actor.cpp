// One actor per stream. It holds the stream's events, loaded once from the
// store, and lets one transaction at a time hold the stream; the others wait
// in FIFO order. Holding is what makes in-process conflicts impossible.

#include <deque>
#include <optional>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

struct Waiter {
  caf::response_promise promise;
  caf::actor_addr who;
  TxnId txn = 0;
};

struct StreamActorState {
  static inline const char* name = "eventcore.stream";
  ContextPtr context;
  std::optional<StreamId> stream;  // set at spawn
  bool loaded = false;
  bool loading = false;
  std::shared_ptr<std::vector<StoredEvent>> events;  // valid when loaded
  std::shared_ptr<FoldCache> folds;                  // folds of `events`, valid when loaded
  std::optional<Waiter> holder;
  std::deque<Waiter> queue;
  std::uint64_t acquires_seen = 0;  // lets the registry tell "idle" from "idle, but more is coming"

  StreamActorState() = default;
  StreamActorState(const StreamActorState&) = delete;
  StreamActorState& operator=(const StreamActorState&) = delete;
  // Runs when the actor exits, also when it is killed. CAF 0.17 drops the
  // response promises of a dead actor without answering them (no
  // broken_promise before 0.18), and coordinators acquire with
  // caf::infinite: answer every pending acquire here, or the commands queued
  // on a crashed stream actor would wait for their timeout. The promise
  // carries its own strong reference to this actor and the requester, so
  // delivering from the destructor (stateful_actor::on_exit) is fine. A
  // passivated actor is idle: nothing is pending then.
  ~StreamActorState() {
    if (!stream) return;
    const Error error{ErrorCode::unavailable, "the actor of stream '" + stream->str() + "' stopped"};
    auto answer = [&](Waiter& waiter) {
      if (waiter.promise.pending()) waiter.promise.deliver(StreamGrant{std::nullopt, caf::actor{}, error});
    };
    if (holder) answer(*holder);
    for (auto& waiter : queue) answer(waiter);
  }
};

using StreamActor = caf::stateful_actor<StreamActorState>;

void grant_next(StreamActor* self);

void notify_if_idle(StreamActor* self) {
  auto& st = self->state;
  if (!st.holder && st.queue.empty() && !st.loading && st.context->registry)
    self->send(st.context->registry, idle_atom::value, *st.stream, st.acquires_seen);
}

void fail_waiters(StreamActor* self, const Error& error) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    auto waiter = std::move(st.queue.front());
    st.queue.pop_front();
    self->demonitor(waiter.who);
    waiter.promise.deliver(StreamGrant{std::nullopt, caf::actor_cast<caf::actor>(self), error});
  }
}

void start_load(StreamActor* self) {
  auto& st = self->state;
  st.loading = true;
  self->request(st.context->pick_io(), caf::infinite, read_atom::value, *st.stream)
      .then(
          [=](LoadReply& reply) {
            auto& st = self->state;
            st.loading = false;
            if (reply.error) {
              fail_waiters(self, *reply.error);
              notify_if_idle(self);
              return;
            }
            st.events = std::move(reply.events);
            st.folds = std::make_shared<FoldCache>();
            st.loaded = true;
            grant_next(self);
          },
          [=](caf::error& err) {
            self->state.loading = false;
            fail_waiters(self, Error{ErrorCode::unavailable, "loading stream '" + self->state.stream->str() +
                                                                 "' failed: " + self->system().render(err)});
            notify_if_idle(self);
          });
}

void grant_next(StreamActor* self) {
  auto& st = self->state;
  if (st.holder || st.queue.empty()) return;
  if (!st.loaded) {
    if (!st.loading) start_load(self);
    return;
  }
  st.holder = std::move(st.queue.front());
  st.queue.pop_front();
  StreamSnapshot snapshot{*st.stream, StreamVersion{st.events->size()}, st.events, st.folds};
  st.holder->promise.deliver(StreamGrant{std::move(snapshot), caf::actor_cast<caf::actor>(self), std::nullopt});
}

void release_holder(StreamActor* self, bool invalidate) {
  auto& st = self->state;
  self->demonitor(st.holder->who);
  st.holder.reset();
  if (invalidate) {
    // The store may hold more than we do (a foreign writer, or an append
    // whose outcome we never learnt): reload on next use.
    st.loaded = false;
    st.events.reset();
    st.folds.reset();
  }
  grant_next(self);
  notify_if_idle(self);
}

void apply_commit(StreamActor* self, const CommittedEvents& committed) {
  auto& st = self->state;
  if (!st.loaded) return;
  // Copy on write: a snapshot handed out earlier may still be read.
  if (st.events.use_count() > 1) st.events = std::make_shared<std::vector<StoredEvent>>(*st.events);
  for (const auto& event : committed.events) {
    if (event.version.value != st.events->size() + 1) {  // not contiguous: trust the store instead
      st.loaded = false;
      st.events.reset();
      st.folds.reset();
      return;
    }
    st.events->push_back(event);
  }
}

caf::behavior stream_actor(StreamActor* self, ContextPtr context, StreamId stream) {
  self->state.context = std::move(context);
  self->state.stream = std::move(stream);
  // A holder or waiter that dies never leaves the stream stuck.
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    std::erase_if(st.queue, [&](const Waiter& w) { return w.who == msg.source; });
#ifdef EVENTCORE_PLANTED_BUG_no_release_on_crash  // simulation test build only
    if (false)
#else
    if (st.holder && st.holder->who == msg.source)
#endif
      release_holder(self, true);
    else
      notify_if_idle(self);
  });
  return {
      [=](acquire_atom, const StreamId&) -> caf::response_promise {
        auto& st = self->state;
        ++st.acquires_seen;
        // Read the sender first: make_response_promise moves it out of the
        // current message (CAF 0.17).
        auto sender = self->current_sender();
        auto rp = self->make_response_promise();
        Waiter waiter{rp, caf::actor_cast<caf::actor_addr>(sender), sender ? sender->id() : 0};
        if (sender) self->monitor(caf::actor_cast<caf::actor>(sender));
        st.queue.push_back(std::move(waiter));
        grant_next(self);
        return rp;
      },
      [=](commit_atom, TxnId txn, const CommittedEventsPtr& committed) {
        auto& st = self->state;
        if (!st.holder || st.holder->txn != txn) return;  // stale: that holder was released
        apply_commit(self, *committed);
        release_holder(self, false);
      },
      [=](release_atom, TxnId txn, bool invalidate) {
        auto& st = self->state;
        if (!st.holder || st.holder->txn != txn) return;
        release_holder(self, invalidate);
      },
      [=](passivate_atom) { self->quit(); },
  };
}

}  // namespace

caf::actor spawn_stream_actor(caf::actor_system& system, ContextPtr context, StreamId stream) {
  return system.spawn(stream_actor, std::move(context), std::move(stream));
}

}  // namespace eventcore::detail
