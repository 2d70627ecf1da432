#pragma once

// The one event type and per-stream state the runtime benchmarks write and
// fold (runtime_bench, history_bench).

#include <cstdint>
#include <string_view>
#include <variant>

#include "eventcore/actors/command.hpp"

namespace eventcore::bench {

struct Recorded {
  static constexpr std::string_view event_type = "Recorded";
  std::int64_t value = 0;
  template <class Archive> void serialize(Archive& ar) { ar(value); }
};
using BenchEvent = std::variant<Recorded>;

// A stream's event count, folded from its own events.
struct Count {
  std::uint64_t events = 0;
  void apply(const BenchEvent&) { ++events; }
};

}  // namespace eventcore::bench
