#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace eventcore {

// Where an event sits in the store's global order, and the cursor a reader of
// the whole log resumes from. Positions are totally ordered (by transaction,
// then sequence) and that order never changes once read_all has returned a
// position: an event committed later never sorts before one already read.
// GlobalPosition{} is the start of the log, before every event.
struct GlobalPosition {
  std::uint64_t transaction = 0;  // the appending transaction's order key
  std::uint64_t sequence = 0;     // unique per event, increasing within a transaction

  friend constexpr bool operator==(const GlobalPosition&, const GlobalPosition&) = default;
  friend constexpr auto operator<=>(const GlobalPosition&, const GlobalPosition&) = default;
};

// "1234:56", the form used in logs and checkpoints' text output.
std::string to_string(const GlobalPosition& position);

}  // namespace eventcore
