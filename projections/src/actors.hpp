#pragma once

// Factories of the runtime's actors, each in its own .cpp. The projection
// and rebuild actors are detached (threads of their own: they block on the
// store and on libpq), and so is the waker (see waker.cpp), unless the
// runtime is cooperative.

#include <atomic>
#include <chrono>
#include <memory>

#include <caf/fwd.hpp>

#include "messages.hpp"

namespace eventcore::projections::detail {

// Wakes its subscribers on the store's wake-ups and every poll_interval (see waker.cpp).
// `pending` is the flag the store's callback sets before it sends a wake_atom.
caf::actor spawn_waker(caf::actor_system& system, std::chrono::milliseconds poll_interval,
                       std::shared_ptr<std::atomic<bool>> pending, bool cooperative);

// Runs one projection's Engine (see projection_actor.cpp).
caf::actor spawn_projection_actor(caf::actor_system& system, std::unique_ptr<Engine> engine, ActorTimings timings);

// Folds a fresh model with a rebuild Engine, then hands it to `live` (see rebuild_actor.cpp).
caf::actor spawn_rebuild_actor(caf::actor_system& system, std::unique_ptr<Engine> engine, caf::actor live,
                               std::shared_ptr<ProgressCell> progress, ActorTimings timings,
                               std::shared_ptr<Clock> clock);

}  // namespace eventcore::projections::detail
