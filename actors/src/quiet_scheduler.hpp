#pragma once

#include <caf/actor_system.hpp>

namespace eventcore::detail {

// A module factory for caf::actor_system_config::module_factories: the
// scheduler CAF would make for the config's "scheduler.policy" (stealing,
// sharing or testing), without the worker loop's per-resume logging tag.
caf::actor_system::module* make_scheduler(caf::actor_system& system);

}  // namespace eventcore::detail
