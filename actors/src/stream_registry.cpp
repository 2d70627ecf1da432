// The registry actor: the directory's timekeeper and front door for actors
// that acquire streams by message (tests, tools). Routing itself is the
// directory's (stream_directory.hpp), called directly by the executor and
// the coordinators.

#include <algorithm>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

caf::behavior stream_registry(caf::event_based_actor* self, ContextPtr context) {
  self->set_exit_handler([=](caf::exit_msg& msg) {
    context->directory->stop(caf::exit_reason::user_shutdown);
    self->quit(msg.reason);
  });
  if (auto interval = context->config.idle_sweep_interval; interval.count() > 0)
    self->delayed_send(self, interval, sweep_atom::value);
  const std::chrono::seconds retention = context->config.idempotency_retention;
  const caf::timespan expire_every =
      std::clamp<caf::timespan>(retention / 10, std::chrono::seconds(1), std::chrono::minutes(10));
  if (retention.count() > 0) self->send(self, expire_atom::value);
  return {
      [=](acquire_atom atom, const StreamId& stream) {
        // The caller holds the stream under its actor id (release with it).
        const auto sender = self->current_sender();
        const TxnId txn = sender ? sender->id() : 0;
        auto rp = self->make_response_promise();
        if (!context->directory->with_actor(stream, [&](const caf::actor& actor) { rp.delegate(actor, atom, stream, txn, FoldNeeds{}); }))
          rp.deliver(StreamGrant{std::nullopt, {}, caf::actor{}, Error{ErrorCode::unavailable, "the executor was shut down"}});
        return rp;
      },
      [=](sweep_atom) {
        context->directory->sweep();
        self->delayed_send(self, context->config.idle_sweep_interval, sweep_atom::value);
      },
      [=](expire_atom) {
        self->send(context->pick_io(), expire_atom::value, caf::timespan{retention});
        self->delayed_send(self, expire_every, expire_atom::value);
      },
      [=](live_count_atom) { return context->directory->live(); },
  };
}

}  // namespace

caf::actor spawn_stream_registry(caf::actor_system& system, ContextPtr context) {
  return system.spawn(stream_registry, std::move(context));
}

}  // namespace eventcore::detail
