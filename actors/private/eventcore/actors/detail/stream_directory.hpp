#pragma once

// Which actor owns which stream: one map, shared by everything that sends to
// stream actors (the executor's fast path, coordinators, the registry actor).
//
// Every message that gives a stream actor work (an acquire, a command) is
// sent while the lock of the stream's shard is held (with_actor), and a
// stream actor leaves the directory only under that lock, when it is idle
// and its mailbox is empty (remove_if). So no work can reach an actor that
// is passivating, and a stream never has two actors. (Commit and release go
// straight to the actor: it is held then, so it cannot leave.)
//
// Passivation: each shard keeps its actors in least-recently-routed order.
// When more than max_live are alive, or one has not been routed to for two
// sweeps, the directory asks such an actor to passivate (passivate_atom);
// the actor leaves once it is idle, or stays if it is used again before.
// The shards (by stream hash) keep the lock uncontended when many threads
// submit; eviction order is least recently used per shard.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/exit_reason.hpp>

#include "eventcore/store/stream_id.hpp"

namespace eventcore::detail {

class StreamDirectory {
 public:
  using Spawn = std::function<caf::actor(const StreamId&)>;

  StreamDirectory(std::size_t max_live, Spawn spawn) : max_live_(max_live), spawn_(std::move(spawn)) {}
  StreamDirectory(const StreamDirectory&) = delete;
  StreamDirectory& operator=(const StreamDirectory&) = delete;

  // Calls send(actor) with the stream's actor, spawning it on first use,
  // under the lock. False (send not called) once stop() was called.
  template <class Send>
  bool with_actor(const StreamId& stream, Send&& send) {
    bool evict = false;
    {
      Shard& shard = shard_of(stream);
      std::lock_guard lock(shard.mutex);
      if (shard.stopped) return false;
      send(route(shard, stream, evict));
    }
    if (evict) evict_one();
    return true;
  }

  // A stream actor's request to leave: removes it if `may_leave()` (run under
  // the lock) says yes and the stream is still its own. The actor quits then.
  bool remove_if(const StreamId& stream, caf::actor_id actor, const std::function<bool()>& may_leave);
  // A stream actor that stopped (killed, or shut down) forgets itself.
  void forget(const StreamId& stream, caf::actor_id actor);

  // Asks the actors not routed to since the sweep before last to passivate.
  void sweep();

  // Stops routing; every live actor gets an exit message with `reason`.
  void stop(caf::exit_reason reason);

  std::size_t live() const;
  bool stopped() const { return stopped_.load(); }

 private:
  struct Entry {
    caf::actor actor;
    std::uint64_t routed_in = 0;     // the sweep generation of its last use
    bool asked = false;              // asked to passivate, not used since
    std::list<StreamId>::iterator order;  // in lru (or asked when asked)
  };
  struct Shard {
    std::mutex mutex;
    bool stopped = false;
    std::unordered_map<StreamId, Entry> entries;
    std::list<StreamId> lru;    // not asked: least recently routed first
    std::list<StreamId> asked;  // asked to passivate, not yet gone
  };
  static constexpr std::size_t kShards = 16;

  Shard& shard_of(const StreamId& stream) { return shards_[std::hash<StreamId>{}(stream) % kShards]; }
  const caf::actor& route(Shard& shard, const StreamId& stream, bool& evict);
  void ask(Shard& shard, Entry& entry);
  caf::actor take(Shard& shard, std::unordered_map<StreamId, Entry>::iterator it);
  bool over_bound() const { return live_.load() - asked_.load() > max_live_; }
  void evict_one();

  const std::size_t max_live_;
  const Spawn spawn_;
  std::array<Shard, kShards> shards_;
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::size_t> asked_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> next_victim_shard_{0};
};

}  // namespace eventcore::detail
