#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "eventcore/store/event_id.hpp"
#include "eventcore/store/global_position.hpp"
#include "eventcore/store/metadata.hpp"
#include "eventcore/store/stream_id.hpp"
#include "eventcore/store/stream_version.hpp"

namespace eventcore {

using Payload = std::vector<std::uint8_t>;
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

// An event on its way into the store. The id is made by the client (see
// EventId::generate) so that a retried append is recognised as a duplicate.
struct EventToWrite {
  EventId id;
  std::string type;  // the registered event type name, e.g. "MoneyDeposited"
  Payload payload;   // the encoded event (see EventCodec)
  Metadata metadata;
};

// An event as the store holds it.
struct StoredEvent {
  EventId id;
  StreamId stream;
  StreamVersion version;  // 1 for the first event of a stream
  GlobalPosition position;
  std::string type;
  Payload payload;
  Metadata metadata;
  Timestamp recorded_at;
};

}  // namespace eventcore
