#pragma once

// Factories of the runtime's actors; each is detached (a thread of its own:
// they block on libpq) and lives in its own .cpp.

#include <memory>

#include <caf/fwd.hpp>

#include "messages.hpp"

namespace eventcore::projections::detail {

// LISTENs on the channel and wakes its subscribers (see notify_listener.cpp).
caf::actor spawn_notify_listener(caf::actor_system& system, ListenerConfig config);

// Runs one projection's Engine (see projection_actor.cpp).
caf::actor spawn_projection_actor(caf::actor_system& system, std::unique_ptr<Engine> engine, ActorTimings timings);

// Folds a fresh model with a rebuild Engine, then hands it to `live` (see rebuild_actor.cpp).
caf::actor spawn_rebuild_actor(caf::actor_system& system, std::unique_ptr<Engine> engine, caf::actor live,
                               std::shared_ptr<ProgressCell> progress, ActorTimings timings,
                               std::shared_ptr<Clock> clock);

}  // namespace eventcore::projections::detail
