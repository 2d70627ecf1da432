#pragma once

// Versions this process has seen streams reach in the database its pool
// connects to, so that an append expecting one of them can skip reading the
// stream's version (postgres_append_sql.hpp, the "known" forms).
//
// Why that is safe: events are never deleted, so a version a stream reached
// stays reached, and an append at the versions after it is refused by the
// events' key if another writer got there first. An append that expects a
// version the stream never reached would leave a gap: that is what reading
// the version prevents, and what this record rules out instead. The one way
// a server forgets events is to lose them (a crash with
// synchronous_commit = off, a failover to a standby that lagged, a restore
// from a backup), and each of them breaks every connection: the store
// forgets everything here whenever its pool opens a connection, and drops
// what a connection leased before that reports. An append that looks here
// before leasing its connection compares generation() from before the look
// with the one after the lease, since the lease may be the connection that
// forgets (PostgresStore's still_known). (A schema dropped and made
// again under a running process is not noticed: restart the process.)
//
// Bounded: when full, it starts over (entries cost only the reads they save).

#include <atomic>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace eventcore::pg {

class KnownVersions {
 public:
  explicit KnownVersions(std::size_t capacity = 65536) : capacity_(capacity) {}

  // Taken before leasing the connection a result will come from.
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  // `stream` reached `version`, as a result read on a connection leased at
  // `generation` says; ignored if everything was forgotten since.
  void note(std::string_view stream, std::uint64_t version, std::uint64_t generation);

  // Whether `stream` is known to have reached `version` (0 always is).
  bool reached(std::string_view stream, std::uint64_t version) const;

  void forget_all();

  std::size_t size() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> versions_;
  std::atomic<std::uint64_t> generation_{0};
  std::size_t capacity_;
};

}  // namespace eventcore::pg
