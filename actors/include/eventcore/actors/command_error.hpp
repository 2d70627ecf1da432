#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/store/error.hpp"
#include "eventcore/store/stream_id.hpp"

namespace eventcore {

// Why a command did not go through. Only concurrency_conflict and (when the
// retry policy says so) store_unavailable are ever retried; everything else
// is final on the first occurrence.
enum class CommandErrorCode {
  validation_failed,       // handle rejected the command; message is the domain's
  concurrency_conflict,    // a stream moved under the command on every attempt allowed
  undeclared_stream,       // handle emitted an event for a stream it did not declare
  stream_discovery_limit,  // handle kept asking for more streams past the configured limit
  store_unavailable,       // the store could not be reached (cause says why); outcome may be unknown
  store_failed,            // the store or a stored event failed in a way a retry cannot fix
  timeout,                 // the command did not finish within the configured time
  invalid_command,         // the command is malformed (e.g. an empty idempotency key, or one reused with another command),
                           // or its handle or its State's apply threw (the exception's what() is in message)
};

std::string_view to_string(CommandErrorCode code) noexcept;

struct CommandError {
  CommandErrorCode code;
  std::string command;            // the command's type name, e.g. "TransferMoney"
  std::vector<StreamId> streams;  // the streams concerned (all declared ones unless narrower)
  std::string message;            // what happened, in plain words
  std::optional<Error> cause;     // the store's error, when there is one
  std::size_t attempts = 0;       // attempts made before giving up
  // validation_failed: the domain's code for the rejection (reject's second
  // argument; may be empty). invalid_command: "idempotency_key_reused" when
  // the key was first used with another command.
  std::string reason;
};

// "concurrency_conflict: TransferMoney on [account-1, account-2] after 5 attempts: ... (cause: ...)"
std::string to_string(const CommandError& error);

}  // namespace eventcore
