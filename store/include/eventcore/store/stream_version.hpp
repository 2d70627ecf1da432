#pragma once

#include <compare>
#include <cstdint>

namespace eventcore {

// The number of events in a stream; the version of its n-th event is n.
// Version 0 means the stream has no events (does not exist).
struct StreamVersion {
  std::uint64_t value = 0;

  constexpr StreamVersion next() const noexcept { return {value + 1}; }
  friend constexpr bool operator==(StreamVersion, StreamVersion) = default;
  friend constexpr auto operator<=>(StreamVersion, StreamVersion) = default;
};

}  // namespace eventcore
