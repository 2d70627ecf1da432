#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "eventcore/store/event_id.hpp"

namespace eventcore {

// The set of every event id a store holds: open addressing with linear
// probing over a flat array. The nil id marks an empty slot, which is safe
// because validate_append rejects nil ids. Not thread-safe.
class EventIdSet {
 public:
  bool contains(const EventId& id) const {
    if (slots_.empty()) return false;
    const Key key = key_of(id);
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (slots_[i] == key) return true;
      if (slots_[i] == Key{}) return false;
    }
  }

  // Adds `id`, which must not be in the set yet.
  void insert(const EventId& id) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(key_of(id));
    ++size_;
  }

  std::size_t size() const noexcept { return size_; }

 private:
  // The id as two words: compared inline rather than through memcmp.
  struct Key {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const Key&) const = default;
  };

  static Key key_of(const EventId& id) {
    Key key;
    std::memcpy(&key.hi, id.bytes().data(), 8);
    std::memcpy(&key.lo, id.bytes().data() + 8, 8);
    return key;
  }

  std::size_t slot_of(const Key& key) const {
    // UUIDv7's leading bytes are a timestamp; its last eight are random.
    std::uint64_t h = (key.lo ^ (key.hi * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    return static_cast<std::size_t>(h ^ (h >> 31)) & mask_;
  }

  void place(const Key& key) {
    std::size_t i = slot_of(key);
    while (!(slots_[i] == Key{})) i = (i + 1) & mask_;
    slots_[i] = key;
  }

  void grow() {
    std::vector<Key> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Key{});
    mask_ = slots_.size() - 1;
    for (const auto& key : old)
      if (!(key == Key{})) place(key);
  }

  std::vector<Key> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace eventcore
