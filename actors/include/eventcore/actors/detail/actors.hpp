#pragma once

// Factories of the runtime's actors, one per file in src/. Protocols: protocol.hpp.

#include <functional>

#include <caf/fwd.hpp>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/detail/runtime_context.hpp"

namespace eventcore::detail {

// One per stream: caches the stream, serializes its writers (FIFO).
caf::actor spawn_stream_actor(caf::actor_system& system, ContextPtr context, StreamId stream);

// Routes acquires to stream actors, spawning them on first use and
// passivating idle ones (bounded by config.max_live_streams).
caf::actor spawn_stream_registry(caf::actor_system& system, ContextPtr context);

// Runs blocking EventStore calls; batches appends that queue up (group commit).
caf::actor spawn_store_io(caf::actor_system& system, std::shared_ptr<EventStore> store, IoMode mode,
                          std::size_t read_page_size);

// Runs one command: prepare, handle, commit, retry. Starts on (run_atom),
// which it answers with the ExecuteResult; `done` (may be empty) is also
// called with it.
caf::actor spawn_write_coordinator(caf::actor_system& system, ContextPtr context, CommandJobPtr job,
                                   std::function<void(const ExecuteResult&)> done);

}  // namespace eventcore::detail
