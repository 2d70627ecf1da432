#pragma once

// For callers that are actors: the executor's gateway actor and its
// messages. Local only: these types are not registered for the network.
//
//   self->request(gateway(executor), caf::infinite, execute_atom::value, make_job(cmd))
//       .then([](const ExecuteResult& r) { ... });

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "eventcore/actors/command_executor.hpp"
#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"

namespace eventcore {

// (execute_atom, CommandJobPtr) -> ExecuteResult
using execute_atom = caf::atom_constant<caf::atom("execute")>;
// (live_count_atom) -> std::size_t, answered by the stream registry
using live_count_atom = caf::atom_constant<caf::atom("livecount")>;

// An actor that answers (execute_atom, CommandJobPtr) with the command's
// ExecuteResult, from the command's callback.
caf::actor gateway(const CommandExecutor& executor);

// The stream registry: answers live_count_atom with the number of live
// stream actors (tests and metrics), and acquires by message for tools.
caf::actor stream_registry(const CommandExecutor& executor);

}  // namespace eventcore

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::CommandJobPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::ExecuteResult)
