#include "eventcore/actors/detail/stream_directory.hpp"

#include <caf/all.hpp>

#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {

const caf::actor& StreamDirectory::route(Shard& shard, const StreamId& stream, bool& evict) {
  auto it = shard.entries.find(stream);
  if (it == shard.entries.end()) {
    it = shard.entries.emplace(stream, Entry{spawn_(stream), generation_.load(), false, {}}).first;
    it->second.order = shard.lru.insert(shard.lru.end(), stream);
    ++live_;
    // Over the bound: ask the least recently used to go (one per new actor,
    // so the bound holds again once they are idle).
    if (over_bound()) {
      if (shard.lru.front() != stream)
        ask(shard, shard.entries.find(shard.lru.front())->second);
      else
        evict = true;  // none here: another shard's (after this lock is released)
    }
    return it->second.actor;
  }
  auto& entry = it->second;
  entry.routed_in = generation_.load();
  if (entry.asked) {
    entry.asked = false;
    --asked_;
    shard.lru.splice(shard.lru.end(), shard.asked, entry.order);
  } else {
    shard.lru.splice(shard.lru.end(), shard.lru, entry.order);
  }
  return entry.actor;
}

void StreamDirectory::ask(Shard& shard, Entry& entry) {
  entry.asked = true;
  ++asked_;
  shard.asked.splice(shard.asked.end(), shard.lru, entry.order);
  caf::anon_send(entry.actor, passivate_atom::value);
}

void StreamDirectory::evict_one() {
  const std::size_t start = next_victim_shard_.fetch_add(1);
  for (std::size_t i = 0; i < kShards && over_bound(); ++i) {
    Shard& shard = shards_[(start + i) % kShards];
    std::lock_guard lock(shard.mutex);
    if (!shard.lru.empty()) {
      ask(shard, shard.entries.find(shard.lru.front())->second);
      return;
    }
  }
}

caf::actor StreamDirectory::take(Shard& shard, std::unordered_map<StreamId, Entry>::iterator it) {
  caf::actor actor = std::move(it->second.actor);
  if (it->second.asked) {
    --asked_;
    shard.asked.erase(it->second.order);
  } else {
    shard.lru.erase(it->second.order);
  }
  shard.entries.erase(it);
  --live_;
  return actor;
}

bool StreamDirectory::remove_if(const StreamId& stream, caf::actor_id actor, const std::function<bool()>& may_leave) {
  caf::actor gone;  // released after the lock: dropping a handle may run an actor's cleanup
  Shard& shard = shard_of(stream);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(stream);
  if (it == shard.entries.end() || it->second.actor.id() != actor || !may_leave()) return false;
  gone = take(shard, it);
  return true;
}

void StreamDirectory::forget(const StreamId& stream, caf::actor_id actor) {
  caf::actor gone;
  Shard& shard = shard_of(stream);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(stream);
  if (it != shard.entries.end() && it->second.actor.id() == actor) gone = take(shard, it);
}

void StreamDirectory::sweep() {
  const std::uint64_t generation = ++generation_;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    while (!shard.lru.empty()) {
      auto& entry = shard.entries.find(shard.lru.front())->second;
      if (entry.routed_in + 2 > generation) break;
      ask(shard, entry);
    }
  }
}

void StreamDirectory::stop(caf::exit_reason reason) {
  stopped_ = true;
  for (auto& shard : shards_) {
    std::unordered_map<StreamId, Entry> entries;
    {
      std::lock_guard lock(shard.mutex);
      shard.stopped = true;
      entries.swap(shard.entries);
      shard.lru.clear();
      shard.asked.clear();
    }
    for (auto& [stream, entry] : entries) caf::anon_send_exit(entry.actor, reason);
  }
  live_ = 0;
  asked_ = 0;
}

std::size_t StreamDirectory::live() const { return live_.load(); }

}  // namespace eventcore::detail
