#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/actor.hpp>

#include "eventcore/actors/command_job.hpp"
#include "eventcore/actors/detail/stream_directory.hpp"
#include "eventcore/actors/metrics.hpp"
#include "eventcore/actors/retry_policy.hpp"
#include "eventcore/actors/runtime_config.hpp"
#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

// What every actor of one executor shares. Set up before the first command;
// afterwards only next_io, next_txn, the coordinators, the random source and
// the directory change (each synchronized).
struct RuntimeContext : std::enable_shared_from_this<RuntimeContext> {
  std::shared_ptr<EventStore> store;
  RuntimeConfig config;
  RetryPolicy retry;
  MonotonicClock clock;
  std::function<Timestamp()> wall_clock;
  caf::actor_system* system = nullptr;
  caf::actor registry;                          // sweeps the directory; answers live_count_atom
  std::unique_ptr<StreamDirectory> directory;   // the stream actors
  std::vector<caf::actor> io;
  std::shared_ptr<RuntimeMetrics> metrics;  // never null
  // The store never blocks (EventStore::blocking()): stream actors read and
  // (on the fast path) append directly instead of through an I/O actor.
  bool inline_store_calls = false;
  // A blocking store's appends and stream loads go to the I/O actors
  // (appends group-commit there) while any is in flight there; with
  // none in flight, one call at a time is made right on the calling actor's
  // own thread: at low concurrency the two thread crossings to and from an
  // I/O actor cost more than the batching buys. Off unless
  // RuntimeConfig::direct_store_calls_when_idle (and not for a store that
  // never blocks: its calls are always made in place).
  bool direct_when_idle = false;
  std::atomic<int> calls_in_flight{0};  // sent to an I/O actor, or being made in place

  // Makes the store call `call` right here if that is the way: a store that
  // never blocks, or a lone call (above). None: send it to an I/O actor,
  // counted by count_io_call().
  template <class Call>
  auto call_in_place(Call&& call) -> std::optional<decltype(call())> {
    if (inline_store_calls) return call();
    int idle = 0;
    if (!direct_when_idle || !calls_in_flight.compare_exchange_strong(idle, 1, std::memory_order_acq_rel))
      return std::nullopt;
    struct Done {
      std::atomic<int>& count;
      ~Done() { count.fetch_sub(1, std::memory_order_acq_rel); }
    } done{calls_in_flight};
    return call();
  }
  std::optional<Result<AppendResult>> append_in_place(const AppendRequest& request) {
    return call_in_place([&] { return store->append(request); });
  }
  // Counts a call sent to an I/O actor until the token is dropped (its
  // reply handled, or its requester gone).
  std::shared_ptr<void> count_io_call() {
    calls_in_flight.fetch_add(1, std::memory_order_acq_rel);
    return std::shared_ptr<void>(nullptr, [this](void*) { calls_in_flight.fetch_sub(1, std::memory_order_acq_rel); });
  }

  // The write coordinators (write_coordinator.cpp); one that dies is
  // replaced in its slot.
  caf::actor pick_coordinator() {
    std::lock_guard lock(coordinators_mutex);
    return coordinators[next_coordinator++ % coordinators.size()];
  }
  void set_coordinator(std::size_t slot, caf::actor coordinator) {
    std::lock_guard lock(coordinators_mutex);
    if (coordinators.size() <= slot) coordinators.resize(slot + 1);
    coordinators[slot] = std::move(coordinator);
  }
  std::vector<caf::actor> all_coordinators() {
    std::lock_guard lock(coordinators_mutex);
    return coordinators;
  }
  std::size_t coordinator_count() {
    std::lock_guard lock(coordinators_mutex);
    return coordinators.size();
  }
  caf::actor pick_io() {
    return io[next_io.fetch_add(1, std::memory_order_relaxed) % io.size()];
  }
  std::uint64_t random_bits() {
    std::lock_guard lock(random_mutex);
    return random();
  }

  std::atomic<std::size_t> next_io{0};
  // Coordinators' runs hold streams under these ids; far above any actor id
  // (what other acquirers hold them under).
  std::atomic<std::uint64_t> next_txn{std::uint64_t{1} << 62};
  std::mutex coordinators_mutex;
  std::vector<caf::actor> coordinators;
  std::size_t next_coordinator = 0;
  std::mutex random_mutex;
  RandomSource random;
};

using ContextPtr = std::shared_ptr<RuntimeContext>;

}  // namespace eventcore::detail
