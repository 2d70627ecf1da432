#pragma once

// The projection runtime's messages: who sends what to whom.
//
//   runtime  -> waker             (subscribe_atom, actor)  : wake this projection actor from now on
//   store    -> waker             (wake_atom)              : appends committed (EventStore::watch_appends)
//   waker    -> projection actor  (wake_atom)              : the log may have grown (a wake-up or the poll)
//   runtime  -> projection actor  (status_atom)            -> ProjectionStatus
//   runtime  -> projection actor  (generation_atom)        -> int (the live generation)
//   rebuild  -> projection actor  (adopt_atom, HandoverPtr): switch to the rebuilt model
//   every actor -> itself         (run_atom / tick_atom)   : the next page / the next poll

#include <memory>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "eventcore/projections/projection.hpp"
#include "projection_engine.hpp"

namespace eventcore::projections::detail {

using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using generation_atom = caf::atom_constant<caf::atom("gen")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

using HandoverPtr = std::shared_ptr<const Handover>;

struct ActorTimings {
  std::chrono::milliseconds standby_interval;
  std::chrono::milliseconds retry_interval;
  bool cooperative = false;  // on the scheduler instead of a thread of its own (ProjectionRuntimeConfig::cooperative)
};

}  // namespace eventcore::projections::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::projections::ProjectionStatus)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::projections::detail::HandoverPtr)
