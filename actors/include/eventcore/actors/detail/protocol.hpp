#pragma once

// The runtime's internal messages: who sends what to whom.
//
//   coordinator -> registry      (acquire_atom, StreamId)            -> StreamGrant (delegated)
//   registry    -> stream actor  (acquire_atom, StreamId)            -> StreamGrant, FIFO per stream
//   coordinator -> stream actor  (commit_atom, txn, CommittedEvents) : advance cache, release
//   coordinator -> stream actor  (release_atom, txn, bool invalidate): release (drop cache if set)
//   stream actor-> registry      (idle_atom, StreamId, acquires seen): the actor may be passivated
//   registry    -> stream actor  (passivate_atom)                    : quit (only sent when idle)
//   stream actor-> io actor      (read_atom, StreamId)               -> LoadReply
//   coordinator -> io actor      (append_atom, AppendRequest)        -> AppendReply (group-committed)
//
// A stream actor monitors its holder and everyone queued: a coordinator that
// dies releases its streams.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/messages.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;

using TxnId = std::uint64_t;  // the holding coordinator's actor id

// The answer to an acquire: the stream is held by the requester until it
// sends commit or release (or dies). On error the stream is not held.
struct StreamGrant {
  std::optional<StreamSnapshot> snapshot;
  caf::actor stream_actor;
  std::optional<Error> error;
};

// The events an append wrote to one stream, as the store now holds them.
struct CommittedEvents {
  std::vector<StoredEvent> events;
};
using CommittedEventsPtr = std::shared_ptr<const CommittedEvents>;

struct LoadReply {
  std::shared_ptr<std::vector<StoredEvent>> events;  // on success
  std::optional<Error> error;
};

struct AppendReply {
  std::optional<AppendResult> result;
  std::optional<Error> error;
};

}  // namespace eventcore::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::StreamId)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::AppendRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::StreamGrant)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::CommittedEventsPtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::LoadReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcore::detail::AppendReply)
