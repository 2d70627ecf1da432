#include "postgres_listener.hpp"

#include "postgres_session.hpp"

#include <poll.h>

#include <algorithm>

namespace eventcore::pg {

using namespace std::chrono;

Listener::Listener(ConnectionSettings settings, std::string channel, milliseconds keepalive,
                   std::shared_ptr<detail::AppendWatchers> watchers)
    : settings_(std::move(settings)), channel_(std::move(channel)), keepalive_(keepalive),
      watchers_(std::move(watchers)), thread_([this] { run(); }) {}

Listener::~Listener() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  drop();
}

void Listener::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  probe_pending_ = false;
}

bool Listener::connect() {
  auto conn = pg::connect(settings_);
  if (!conn) return false;
  conn_ = *conn;
  ResultPtr listen(PQexec(conn_, ("LISTEN " + quote_ident(channel_)).c_str()));
  if (PQresultStatus(listen.get()) != PGRES_COMMAND_OK) {
    drop();
    return false;
  }
  last_probe_ = steady_clock::now();
  probe_pending_ = false;
  watchers_->wake_all();  // catch up only after LISTEN: nothing falls between the two
  return true;
}

void Listener::run() {
  auto reconnect_delay = milliseconds(50);
  while (!stopping_.load()) {
    if (!conn_) {
      if (!connect()) {
        // Sleep in short slices so that stopping stays prompt.
        const auto until = steady_clock::now() + reconnect_delay;
        while (!stopping_.load() && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(20));
        reconnect_delay = std::min(reconnect_delay * 2, milliseconds(1000));
        continue;
      }
      reconnect_delay = milliseconds(50);
    }
    pollfd fd{PQsocket(conn_), POLLIN, 0};
    if (::poll(&fd, 1, 50) > 0) {
      if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
        drop();
        continue;
      }
      while (probe_pending_ && !PQisBusy(conn_)) {
        PGresult* r = PQgetResult(conn_);
        if (!r) {
          probe_pending_ = false;
          break;
        }
        PQclear(r);
      }
      bool notified = false;
      while (PGnotify* n = PQnotifies(conn_)) {
        notified = true;
        PQfreemem(n);
      }
      if (notified) watchers_->wake_all();
    }
    const auto now = steady_clock::now();
    if (probe_pending_ && now - last_probe_ >= 2 * keepalive_) {
      drop();  // no answer to the keepalive: the connection is dead
    } else if (!probe_pending_ && now - last_probe_ >= keepalive_) {
      if (PQsendQuery(conn_, "SELECT 1")) {
        probe_pending_ = true;
        last_probe_ = now;
      } else {
        drop();
      }
    }
  }
}

}  // namespace eventcore::pg
