#pragma once

// The messages of the executor's gateway actor, for callers that are actors.
// Local only: these types are not registered for the network.

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/command_result.hpp"

namespace eventcore {

// (execute_atom, CommandJobPtr) -> ExecuteResult
using execute_atom = caf::atom_constant<caf::atom("execute")>;
// (live_count_atom) -> std::size_t, answered by the stream registry
using live_count_atom = caf::atom_constant<caf::atom("livecount")>;

}  // namespace eventcore

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::CommandJobPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::ExecuteResult)
