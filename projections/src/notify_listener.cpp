// The one listener of a runtime. Holds a dedicated connection and, in this
// order on every (re)connect: LISTEN, then wake every projection (each
// catches up from its checkpoint), then wake them on each notification. A
// notification sent while the connection was down is lost, which is why the
// catch-up follows every LISTEN and a slow poll wakes everyone anyway. A
// keepalive query every keepalive_interval must answer within another
// interval, or the connection is declared dead and replaced.
//
// Detached: each tick waits at most 50 ms on the socket, then re-sends
// itself, so the actor still handles subscribe and exit messages promptly.

#include <poll.h>

#include <algorithm>
#include <caf/all.hpp>

#include "actors.hpp"

namespace eventcore::projections::detail {
namespace {

using namespace std::chrono;

struct ListenerState {
  static inline const char* name = "eventcore.notify_listener";
  ListenerConfig config;
  Session session;
  std::vector<caf::actor> subscribers;
  steady_clock::time_point last_wake{};
  steady_clock::time_point last_probe{};
  bool probe_pending = false;
  milliseconds reconnect_delay{50};
};
using ListenerActor = caf::stateful_actor<ListenerState>;

void wake_all(ListenerActor* self) {
  auto& st = self->state;
  for (auto& s : st.subscribers) self->send(s, wake_atom::value);
  st.last_wake = st.config.clock->now();
}

void drop_connection(ListenerActor* self) {
  self->state.session.close();
  self->state.probe_pending = false;
}

bool connect(ListenerActor* self) {
  auto& st = self->state;
  if (!st.session.connect(st.config.conninfo, st.config.schema, "eventcore-listener:" + st.config.channel))
    return false;
  try {
    st.session.exec("LISTEN " + quote_ident(st.config.channel));
  } catch (const SqlError&) {
    drop_connection(self);
    return false;
  }
  st.last_probe = st.config.clock->now();
  st.probe_pending = false;
  st.reconnect_delay = milliseconds(50);
  wake_all(self);  // catch up only after LISTEN: nothing falls between the two
  return true;
}

void tick(ListenerActor* self) {
  auto& st = self->state;
  if (!st.session.connected()) {
    if (!connect(self)) {
      // Down: projections still poll on their own schedule via the wakes below.
      if (st.config.clock->now() - st.last_wake >= st.config.poll_interval) wake_all(self);
      self->delayed_send(self, st.reconnect_delay, tick_atom::value);
      st.reconnect_delay = std::min(st.reconnect_delay * 2, milliseconds(1000));
      return;
    }
  }
  PGconn* conn = st.session.get();
  const auto now = st.config.clock->now();
  auto wait = milliseconds(50);
  wait = std::min(wait, duration_cast<milliseconds>(st.last_wake + st.config.poll_interval - now));
  wait = std::max(wait, milliseconds(0));
  pollfd fd{PQsocket(conn), POLLIN, 0};
  const int ready = ::poll(&fd, 1, static_cast<int>(wait.count()));
  if (ready > 0) {
    if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
      drop_connection(self);
      self->send(self, tick_atom::value);
      return;
    }
    while (st.probe_pending && !PQisBusy(conn)) {
      PGresult* r = PQgetResult(conn);
      if (!r) {
        st.probe_pending = false;
        break;
      }
      PQclear(r);
    }
    bool notified = false;
    while (PGnotify* n = PQnotifies(conn)) {
      notified = true;
      PQfreemem(n);
    }
    if (notified) wake_all(self);
  }
  const auto after = st.config.clock->now();
  if (after - st.last_wake >= st.config.poll_interval) wake_all(self);  // the safety net
  if (st.probe_pending && after - st.last_probe >= 2 * st.config.keepalive_interval) {
    drop_connection(self);  // no answer to the keepalive: the connection is dead
  } else if (!st.probe_pending && after - st.last_probe >= st.config.keepalive_interval) {
    if (PQsendQuery(conn, "SELECT 1")) {
      st.probe_pending = true;
      st.last_probe = after;
    } else {
      drop_connection(self);
    }
  }
  self->send(self, tick_atom::value);
}

caf::behavior notify_listener(ListenerActor* self, ListenerConfig config) {
  self->state.config = std::move(config);
  self->send(self, tick_atom::value);
  return {
      [=](subscribe_atom, caf::actor subscriber) {
        self->send(subscriber, wake_atom::value);
        self->state.subscribers.push_back(std::move(subscriber));
      },
      [=](tick_atom) { tick(self); },
  };
}

}  // namespace

caf::actor spawn_notify_listener(caf::actor_system& system, ListenerConfig config) {
  return system.spawn<caf::detached>(notify_listener, std::move(config));
}

}  // namespace eventcore::projections::detail
