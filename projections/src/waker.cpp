// The runtime's waker: turns the store's wake-ups (EventStore::watch_appends,
// which may fire once per append) into at most one wake per projection actor
// per delivery, and wakes every projection each poll_interval as the safety
// net for a lost wake-up (PostgreSQL: a notification sent while the listening
// connection was down; a store without wake-ups). Projection actors merge
// wakes that arrive while a page is pending. Detached, like the projection
// actors: a message from the store's thread to an actor on CAF's scheduler
// waits until an idle worker polls again (up to its relaxed sleep, 10 ms);
// a detached actor's thread is woken at once.

#include <caf/all.hpp>

#include "actors.hpp"

namespace eventcore::projections::detail {
namespace {

struct WakerState {
  static inline const char* name = "eventcore.projection_waker";
  std::vector<caf::actor> subscribers;
  std::shared_ptr<std::atomic<bool>> pending;
};
using WakerActor = caf::stateful_actor<WakerState>;

void wake_all(WakerActor* self) {
  for (auto& s : self->state.subscribers) self->send(s, wake_atom::value);
}

caf::behavior waker(WakerActor* self, std::chrono::milliseconds poll_interval,
                    std::shared_ptr<std::atomic<bool>> pending) {
  self->state.pending = std::move(pending);
  // A projection actor that ends (stopped, or crashed and replaced) leaves the list.
  self->set_down_handler([=](const caf::down_msg& down) {
    std::erase_if(self->state.subscribers, [&](const caf::actor& s) { return s.address() == down.source; });
  });
  self->delayed_send(self, poll_interval, tick_atom::value);
  return {
      [=](subscribe_atom, caf::actor subscriber) {
        self->monitor(subscriber);
        self->send(subscriber, wake_atom::value);
        self->state.subscribers.push_back(std::move(subscriber));
      },
      [=](wake_atom) {
        // Cleared before the wakes go out: a wake-up after this point sends again.
        self->state.pending->store(false);
        wake_all(self);
      },
      [=](tick_atom) {
        wake_all(self);
        self->delayed_send(self, poll_interval, tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_waker(caf::actor_system& system, std::chrono::milliseconds poll_interval,
                       std::shared_ptr<std::atomic<bool>> pending, bool cooperative) {
  if (cooperative) return system.spawn(waker, poll_interval, std::move(pending));
  return system.spawn<caf::detached>(waker, poll_interval, std::move(pending));
}

}  // namespace eventcore::projections::detail
