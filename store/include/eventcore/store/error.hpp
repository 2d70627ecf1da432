#pragma once

#include <string>
#include <string_view>

namespace eventcore {

// What went wrong, as a category a caller can branch on. The message carries
// the context (which stream, which event, which position) in plain words.
enum class ErrorCode {
  invalid_argument,    // bad input rejected before anything was written
  conflict,            // an expected version did not hold; nothing was written
  duplicate_event,     // an event id already exists in the store; nothing was written
  duplicate_key,       // the append's idempotency key already has a command record; nothing was written
  payload_too_large,   // an event payload exceeds the store's configured limit
  unknown_event_type,  // a stored event's type is not registered with the codec
  malformed_event,     // a stored payload could not be decoded as its type
  unavailable,         // the store cannot be reached; the outcome of a write may be unknown
  failed,              // the store answered with an unexpected error
  timeout,             // the operation did not finish in time
};

std::string_view to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code;
  std::string message;

  // Transient errors may succeed when retried unchanged.
  bool transient() const noexcept {
    return code == ErrorCode::unavailable || code == ErrorCode::timeout;
  }
};

// "conflict: stream 'account-1' is at version 3, expected 2"
std::string to_string(const Error& error);

}  // namespace eventcore
