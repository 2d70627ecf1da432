#include "eventcore/store/error.hpp"

namespace eventcore {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::duplicate_event: return "duplicate event";
    case ErrorCode::duplicate_key: return "duplicate idempotency key";
    case ErrorCode::payload_too_large: return "payload too large";
    case ErrorCode::unknown_event_type: return "unknown event type";
    case ErrorCode::malformed_event: return "malformed event";
    case ErrorCode::unavailable: return "store unavailable";
    case ErrorCode::failed: return "store failed";
    case ErrorCode::timeout: return "timeout";
  }
  return "unknown error";
}

std::string to_string(const Error& error) {
  std::string text(to_string(error.code));
  if (!error.message.empty()) {
    text += ": ";
    text += error.message;
  }
  return text;
}

}  // namespace eventcore
