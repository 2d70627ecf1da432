// Routes every acquire to the stream's actor, spawning it on first use.
// Passivation is decided here, never by a stream actor itself: the registry
// passivates an actor only when the actor has reported idle after seeing
// every acquire the registry forwarded to it, so no acquire can be lost to
// an actor that is shutting down.

#include <list>
#include <unordered_map>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/protocol.hpp"

namespace eventcore::detail {
namespace {

struct Entry {
  caf::actor actor;
  std::uint64_t forwarded = 0;  // acquires sent to the actor
  bool idle = false;
  std::uint64_t idle_since = 0;  // sweep generation when it became idle
  std::list<StreamId>::iterator lru;
};

struct RegistryState {
  static inline const char* name = "eventcore.stream_registry";
  ContextPtr context;
  std::unordered_map<StreamId, Entry> entries;
  std::list<StreamId> idle;  // least recently idle first
  std::uint64_t generation = 0;
};

using Registry = caf::stateful_actor<RegistryState>;

void passivate(Registry* self, std::unordered_map<StreamId, Entry>::iterator it) {
  auto& st = self->state;
  if (it->second.idle) st.idle.erase(it->second.lru);
  self->send(it->second.actor, passivate_atom::value);
  st.entries.erase(it);
}

void enforce_bound(Registry* self) {
  auto& st = self->state;
  while (st.entries.size() > st.context->config.max_live_streams && !st.idle.empty())
    passivate(self, st.entries.find(st.idle.front()));
}

caf::behavior stream_registry(Registry* self, ContextPtr context) {
  self->state.context = std::move(context);
  self->set_down_handler([=](caf::down_msg& msg) {
    // A stream actor that died on its own (not passivated): forget it.
    auto& st = self->state;
    for (auto it = st.entries.begin(); it != st.entries.end(); ++it)
      if (it->second.actor.address() == msg.source) {
        if (it->second.idle) st.idle.erase(it->second.lru);
        st.entries.erase(it);
        return;
      }
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& [stream, entry] : self->state.entries) self->send_exit(entry.actor, msg.reason);
    self->state.entries.clear();
    self->state.idle.clear();
    self->quit(msg.reason);
  });
  if (auto interval = self->state.context->config.idle_sweep_interval; interval.count() > 0)
    self->delayed_send(self, interval, sweep_atom::value);
  return {
      [=](acquire_atom atom, const StreamId& stream) {
        auto& st = self->state;
        auto it = st.entries.find(stream);
        if (it == st.entries.end()) {
          auto actor = spawn_stream_actor(self->system(), st.context, stream);
          self->monitor(actor);
          it = st.entries.emplace(stream, Entry{std::move(actor), 0, false, 0, {}}).first;
        } else if (it->second.idle) {
          st.idle.erase(it->second.lru);
          it->second.idle = false;
        }
        ++it->second.forwarded;
        auto actor = it->second.actor;
        enforce_bound(self);
        return self->delegate(actor, atom, stream);
      },
      [=](idle_atom, const StreamId& stream, std::uint64_t acquires_seen) {
        auto& st = self->state;
        auto it = st.entries.find(stream);
        if (it == st.entries.end() || it->second.actor.address() != self->current_sender()->address())
          return;
        if (acquires_seen != it->second.forwarded || it->second.idle) return;
        it->second.idle = true;
        it->second.idle_since = st.generation;
        it->second.lru = st.idle.insert(st.idle.end(), stream);
        enforce_bound(self);
      },
      [=](sweep_atom) {
        auto& st = self->state;
        ++st.generation;
        while (!st.idle.empty()) {
          auto it = st.entries.find(st.idle.front());
          if (it->second.idle_since + 2 > st.generation) break;
          passivate(self, it);
        }
        self->delayed_send(self, st.context->config.idle_sweep_interval, sweep_atom::value);
      },
      [=](live_count_atom) { return self->state.entries.size(); },
  };
}

}  // namespace

caf::actor spawn_stream_registry(caf::actor_system& system, ContextPtr context) {
  return system.spawn(stream_registry, std::move(context));
}

}  // namespace eventcore::detail
