#pragma once

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "eventcore/store/event_id.hpp"

namespace eventcore {

// The set of every event id a store holds: open addressing with linear
// probing over a flat array. The nil id marks an empty slot, which is safe
// because validate_append rejects nil ids. Not thread-safe, except
// prefetch().
//
// A large store's set is tens of megabytes, and a lookup is a cache miss
// (and a TLB miss on small pages): the array asks for transparent huge
// pages, and a writer can start the miss with prefetch() before it takes
// the store's lock, so that the lookup under the lock finds the line.
class EventIdSet {
 public:
  bool contains(const EventId& id) const {
    if (size_ == 0) return false;
    const Key key = key_of(id);
    for (std::size_t i = slot_of(key, mask_);; i = (i + 1) & mask_) {
      if (slots_[i] == key) return true;
      if (slots_[i] == Key{}) return false;
    }
  }

  // Adds `id`, which must not be in the set yet.
  void insert(const EventId& id) {
    if ((size_ + 1) * 2 > capacity_) grow();
    place(key_of(id));
    ++size_;
  }

  // Starts loading the slot `id` hashes to, from any thread, without the
  // lock that guards the set. It reads the published table (atomically), so
  // a table that grow() has replaced meanwhile gives a useless but harmless
  // prefetch: a prefetch never faults.
  void prefetch(const EventId& id) const noexcept {
    const std::uintptr_t base = published_.load(std::memory_order_relaxed);
    const std::size_t mask = published_mask_.load(std::memory_order_relaxed);
    if (base == 0) return;
    __builtin_prefetch(reinterpret_cast<const void*>(base + slot_of(key_of(id), mask) * sizeof(Key)));
  }

  std::size_t size() const noexcept { return size_; }

 private:
  // The id as two words: compared inline rather than through memcmp.
  struct Key {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const Key&) const = default;
  };
  struct Free {
    void operator()(Key* p) const noexcept { std::free(p); }
  };

  static Key key_of(const EventId& id) {
    Key key;
    std::memcpy(&key.hi, id.bytes().data(), 8);
    std::memcpy(&key.lo, id.bytes().data() + 8, 8);
    return key;
  }

  static std::size_t slot_of(const Key& key, std::size_t mask) {
    // UUIDv7's leading bytes are a timestamp; its last eight are random.
    std::uint64_t h = (key.lo ^ (key.hi * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    return static_cast<std::size_t>(h ^ (h >> 31)) & mask;
  }

  void place(const Key& key) {
    std::size_t i = slot_of(key, mask_);
    while (!(slots_[i] == Key{})) i = (i + 1) & mask_;
    slots_[i] = key;
  }

  // A zeroed array of `count` slots; from 2 MiB on, aligned to and backed by
  // huge pages where the kernel allows them (THP "madvise" or "always").
  static std::unique_ptr<Key[], Free> allocate(std::size_t count) {
    constexpr std::size_t huge = std::size_t{2} << 20;
    const std::size_t bytes = count * sizeof(Key);
    void* p = bytes >= huge ? std::aligned_alloc(huge, bytes) : std::malloc(bytes);
    if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (bytes >= huge) (void)::madvise(p, bytes, MADV_HUGEPAGE);
#endif
    std::memset(p, 0, bytes);
    return std::unique_ptr<Key[], Free>(static_cast<Key*>(p));
  }

  void grow() {
    const std::size_t old_capacity = capacity_;
    auto old = std::move(slots_);
    capacity_ = old_capacity == 0 ? 1024 : old_capacity * 2;
    slots_ = allocate(capacity_);
    mask_ = capacity_ - 1;
    for (std::size_t i = 0; i < old_capacity; ++i)
      if (!(old[i] == Key{})) place(old[i]);
    published_mask_.store(mask_, std::memory_order_relaxed);
    published_.store(reinterpret_cast<std::uintptr_t>(slots_.get()), std::memory_order_relaxed);
  }

  std::unique_ptr<Key[], Free> slots_;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::atomic<std::uintptr_t> published_{0};  // slots_ and mask_, for prefetch()
  std::atomic<std::size_t> published_mask_{0};
};

}  // namespace eventcore
