#pragma once

#include <cstddef>

namespace caf {
class actor_system_config;
}

namespace eventcore {

// Sets up CAF's work-stealing scheduler for the runtime's load: short bursts
// of messages between stream actors, coordinators and store I/O threads.
// An executor that starts its own actor system applies this itself; call it
// on the config of a system you pass to Builder::with_system.
//
// CAF's defaults keep an idle worker polling its queue every 50 us for 25 ms
// before it blocks, and start max(cores, 4) workers. A command that waits
// about a millisecond for PostgreSQL leaves the workers in that polling all
// the time: on 2 cores it cost more CPU than the commands themselves and
// halved throughput at 16 clients (docs/PERFORMANCE.md, "PostgreSQL write path").
// Here an idle worker polls only briefly, then blocks until work is queued
// for it, and there is one worker per core.
//
// It also installs CAF's own scheduler for the config's "scheduler.policy"
// built without the worker loop's logging tag: CAF 0.17 runs a dynamic_cast
// and two logger calls on every resume even when it logs nothing, about
// 1,700 instructions, a sixth of an in-memory transfer's work.
//
// `threads` 0: one worker per hardware thread (at least 2).
void configure_scheduler(caf::actor_system_config& config, std::size_t threads = 0);

}  // namespace eventcore
