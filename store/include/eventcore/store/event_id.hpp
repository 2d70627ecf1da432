#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "eventcore/store/result.hpp"

namespace eventcore {

// A UUIDv7 naming one event. Ids made by EventId::generate() are strictly
// increasing within a process (the 12-bit rand_a field is a counter) and
// embed the millisecond they were made.
class EventId {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  EventId() = default;  // the nil UUID
  explicit EventId(const Bytes& bytes) : bytes_(bytes) {}

  static EventId generate();
  // Makes generate() on this thread call `generator` instead of reading the
  // system clock and a random device, until the guard is destroyed (guards
  // nest). For deterministic simulations, which run every actor on one thread.
  class ScopedGenerator {
   public:
    explicit ScopedGenerator(std::function<EventId()> generator);
    ~ScopedGenerator();
    ScopedGenerator(const ScopedGenerator&) = delete;
    ScopedGenerator& operator=(const ScopedGenerator&) = delete;

   private:
    std::function<EventId()> generator_;
    std::function<EventId()>* previous_;
  };
  // Deterministic form for simulations and tests: the caller supplies the
  // millisecond clock and the random bits.
  static EventId from_parts(std::uint64_t unix_ms, std::uint16_t counter, std::uint64_t random);
  // Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
  static Result<EventId> parse(std::string_view text);

  const Bytes& bytes() const noexcept { return bytes_; }
  bool is_nil() const noexcept { return bytes_ == Bytes{}; }
  std::string str() const;

  friend bool operator==(const EventId&, const EventId&) = default;
  friend auto operator<=>(const EventId&, const EventId&) = default;

 private:
  Bytes bytes_{};
};

}  // namespace eventcore

template <>
struct std::hash<eventcore::EventId> {
  std::size_t operator()(const eventcore::EventId& id) const noexcept {
    std::uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; ++i) hi = (hi << 8) | id.bytes()[i];
    for (int i = 8; i < 16; ++i) lo = (lo << 8) | id.bytes()[i];
    return std::hash<std::uint64_t>{}(hi ^ (lo * 0x9e3779b97f4a7c15ULL));
  }
};
