#pragma once

#include <map>
#include <optional>
#include <string>

#include "eventcore/store/event_id.hpp"

namespace eventcore {

// Who and what caused an event. Stored beside the payload, never inside it.
struct Metadata {
  std::optional<EventId> correlation_id;  // the conversation this event belongs to
  std::optional<EventId> causation_id;    // the command or event that caused it
  std::optional<std::string> user_id;
  std::map<std::string, std::string> extra;  // free-form key/values

  friend bool operator==(const Metadata&, const Metadata&) = default;
};

}  // namespace eventcore
