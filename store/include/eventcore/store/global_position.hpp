#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// The reverse of to_string: "1234:56" (two decimal numbers); none for
// anything else (a sign, a space, a missing part, a number over 2^64-1).
std::optional<GlobalPosition> parse_global_position(std::string_view text);

}  // namespace eventcore
