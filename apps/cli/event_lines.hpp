#pragma once

// Events as the CLI prints and takes them: one JSON object per line.
//
//   {"stream":"account-ada","version":2,"position":"12:5","type":"MoneyDeposited",
//    "id":"…","recorded_at":"2026-11-30T04:01:02.123456Z","data":{"account":"ada","cents":500,"reference":""}}
//
// "data" is the event's fields for the types this binary knows (the bank's
// and the orders example's); any other type, or a payload that does not
// decode, is shown as "payload_base64" (and "error" for the latter): never a
// crash. Metadata appears when set ("correlation_id", "causation_id",
// "user_id", "metadata").

#include <string>

#include <nlohmann/json.hpp>

#include "eventcore/store/event.hpp"
#include "eventcore/store/result.hpp"

namespace eventcore::cli {

nlohmann::ordered_json event_json(const StoredEvent& event);

// An event to append from one input line: {"type": "...", "data": {...}} for
// a known type, or {"type": "...", "payload_base64": "..."} for any type,
// with optional "id" (a UUID; default: a new one) and "correlation_id",
// "causation_id", "user_id", "metadata" (an object of strings).
// Errors: invalid_argument (saying which field and why), unknown_event_type
// ("data" for a type this binary does not know).
Result<EventToWrite> event_from_json(const std::string& line);

std::string base64(const Payload& bytes);
Result<Payload> from_base64(std::string_view text);

}  // namespace eventcore::cli
