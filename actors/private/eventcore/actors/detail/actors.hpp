#pragma once

// Factories of the runtime's actors, one per file in src/. Protocols: protocol.hpp.

#include <functional>
#include <optional>

#include <caf/fwd.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"
#include "eventcore/actors/detail/protocol.hpp"
#include "eventcore/actors/detail/runtime_context.hpp"

namespace eventcore::detail {

// One per stream: caches the stream, serializes its writers (FIFO).
caf::actor spawn_stream_actor(caf::actor_system& system, ContextPtr context, StreamId stream);

// Sweeps the stream directory (idle passivation) and takes acquires by
// message for actors that are not coordinators (tests, tools).
caf::actor spawn_stream_registry(caf::actor_system& system, ContextPtr context);

// Folds a whole stream, page by page, into fresh states of `needs` (just
// its version when `needs` is empty), each from its newest snapshot when it
// has one. A page shorter than asked for is not taken for the end (a store
// may clamp pages): the page's end_of_stream is.
LoadReply load_folds(EventStore& store, const StreamId& stream, const FoldNeeds& needs, std::size_t page_size);

// Runs blocking EventStore calls; batches appends that queue up (group commit).
caf::actor spawn_store_io(caf::actor_system& system, std::shared_ptr<EventStore> store, IoMode mode,
                          std::size_t read_page_size);

// Spawns the executor's write coordinators into context->coordinators.
void spawn_write_coordinators(const ContextPtr& context, std::size_t count);

// The executor's write coordinators now (tests kill them).
std::vector<caf::actor> write_coordinators(const CommandExecutor& executor);

// Runs a command on a write coordinator (prepare, handle, commit, retry) and
// calls `done` with its outcome. With `resumed`, the command's first attempt
// was made elsewhere (a stream actor's fast path) and failed: the retry
// policy decides what next.
void coordinate(const ContextPtr& context, CommandJobPtr job, std::function<void(const ExecuteResult&)> done,
                std::optional<FailedAttempt> resumed = std::nullopt, std::size_t hops = 0);

}  // namespace eventcore::detail
