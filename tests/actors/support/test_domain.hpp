#pragma once

// A tiny domain for runtime tests: streams hold numbers (Added) and
// pointers to other streams (Pointed).

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <variant>

#include "eventcore/actors/command.hpp"

namespace eventcore::testing {

inline StreamId sid(std::string_view name) { return StreamId::try_new(name).value(); }

struct Added {
  static constexpr std::string_view event_type = "Added";
  std::int64_t amount = 0;
  template <class Archive> void serialize(Archive& ar) { ar(amount); }
};
struct Pointed {
  static constexpr std::string_view event_type = "Pointed";
  std::string target;
  template <class Archive> void serialize(Archive& ar) { ar(target); }
};
using TestEvent = std::variant<Added, Pointed>;

struct Totals {
  std::map<std::string, std::int64_t> totals;
  std::map<std::string, std::string> pointers;
  std::int64_t total(const StreamId& s) const {
    auto it = totals.find(s.str());
    return it == totals.end() ? 0 : it->second;
  }
  void apply(const StreamId& stream, const TestEvent& event) {
    if (auto* a = std::get_if<Added>(&event)) totals[stream.str()] += a->amount;
    if (auto* p = std::get_if<Pointed>(&event)) pointers[stream.str()] = p->target;
  }
};

inline EventToWrite added(std::int64_t amount) { return EventCodec<TestEvent>::encode(Added{amount}); }
inline EventToWrite pointed(std::string target) { return EventCodec<TestEvent>::encode(Pointed{std::move(target)}); }

// Adds `amount` to every target; rejected if a total would drop below zero.
struct AddTo {
  using Event = TestEvent;
  using State = Totals;
  static constexpr std::string_view command_type = "AddTo";
  std::vector<StreamId> targets;
  std::int64_t amount = 1;
  bool emit = true;  // false: decide, and write nothing

  std::vector<StreamId> streams() const { return targets; }
  Decision<Event> handle(const State& state) const {
    std::vector<Emit<Event>> out;
    if (!emit) return out;
    for (const auto& t : targets) {
      if (state.total(t) + amount < 0)
        return reject("total of '" + t.str() + "' would drop to " + std::to_string(state.total(t) + amount));
      out.push_back({t, Added{amount}});
    }
    return out;
  }
};

// Declares `declared` but emits to `other`.
struct EmitElsewhere {
  using Event = TestEvent;
  using State = Totals;
  static constexpr std::string_view command_type = "EmitElsewhere";
  StreamId declared, other;
  std::vector<StreamId> streams() const { return {declared}; }
  Decision<Event> handle(const State&) const { return {{declared, Added{1}}, {other, Added{1}}}; }
};

// Reads `source`; follows its pointer to another stream (dynamic discovery)
// and copies that stream's total into `source`.
struct CopyFromPointer {
  using Event = TestEvent;
  using State = Totals;
  static constexpr std::string_view command_type = "CopyFromPointer";
  StreamId source;
  std::vector<StreamId> streams() const { return {source}; }
  Decision<Event> handle(const State& state) const {
    auto it = state.pointers.find(source.str());
    if (it == state.pointers.end()) return reject("no pointer in '" + source.str() + "'");
    auto target = sid(it->second);
    if (!state.totals.contains(target.str())) return read_more({target});
    return {{source, Added{state.total(target)}}};
  }
};

// Always wants one more stream: "more-0", "more-1", ... (each seeded with an event).
struct AlwaysMore {
  using Event = TestEvent;
  using State = Totals;
  static constexpr std::string_view command_type = "AlwaysMore";
  std::vector<StreamId> streams() const { return {sid("more-0")}; }
  Decision<Event> handle(const State& state) const {
    for (int i = 0;; ++i)
      if (!state.totals.contains("more-" + std::to_string(i))) return read_more({sid("more-" + std::to_string(i))});
  }
};

}  // namespace eventcore::testing
