#include "eventcore/store/event_id.hpp"

#include <atomic>
#include <chrono>
#include <random>

namespace eventcore {

EventId EventId::from_parts(std::uint64_t unix_ms, std::uint16_t counter, std::uint64_t random) {
  Bytes b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(unix_ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 8) & 0x0f));  // version 7
  b[7] = static_cast<std::uint8_t>(counter);
  b[8] = static_cast<std::uint8_t>(0x80 | ((random >> 56) & 0x3f));  // variant 10
  for (int i = 9; i < 16; ++i) b[i] = static_cast<std::uint8_t>(random >> (8 * (15 - i)));
  return EventId(b);
}

namespace {
thread_local std::function<EventId()>* current_generator = nullptr;
}  // namespace

EventId::ScopedGenerator::ScopedGenerator(std::function<EventId()> generator)
    : generator_(std::move(generator)), previous_(current_generator) {
  current_generator = &generator_;
}
EventId::ScopedGenerator::~ScopedGenerator() { current_generator = previous_; }

EventId EventId::generate() {
  if (current_generator) return (*current_generator)();
  // 48-bit milliseconds and a 12-bit counter form one 60-bit value that only
  // grows: when more than 4096 ids are made in one millisecond the counter
  // borrows from the next millisecond rather than going backwards.
  static std::atomic<std::uint64_t> last{0};
  const auto now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::uint64_t prev = last.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = std::max(now_ms << 12, prev + 1);
  } while (!last.compare_exchange_weak(prev, next, std::memory_order_relaxed));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return from_parts(next >> 12, static_cast<std::uint16_t>(next & 0xfff), rng());
}

std::string EventId::str() const {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(hex[bytes_[i] >> 4]);
    s.push_back(hex[bytes_[i] & 15]);
  }
  return s;
}

Result<EventId> EventId::parse(std::string_view text) {
  auto bad = [&] {
    return Error{ErrorCode::invalid_argument, "'" + std::string(text) + "' is not a UUID"};
  };
  if (text.size() != 36) return bad();
  Bytes b{};
  int n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return bad();
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return bad();
    b[n / 2] = static_cast<std::uint8_t>(b[n / 2] | (n % 2 == 0 ? v << 4 : v));
    ++n;
  }
  return EventId(b);
}

}  // namespace eventcore
