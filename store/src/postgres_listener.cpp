#include "postgres_listener.hpp"

#include "postgres_session.hpp"

#include <poll.h>

#include <algorithm>
#include <thread>

namespace eventcore::pg {

using namespace std::chrono;

Listener::Listener(ConnectionSettings settings, std::string channel, milliseconds keepalive,
                   std::shared_ptr<detail::AppendWatchers> watchers, std::optional<ReplayWait> replay)
    : settings_(std::move(settings)), channel_(std::move(channel)), keepalive_(keepalive),
      watchers_(std::move(watchers)), replay_(std::move(replay)), thread_([this] { run(); }) {}

Listener::~Listener() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  drop();
}

void Listener::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  probe_pending_ = false;
  if (standby_) PQfinish(standby_);
  standby_ = nullptr;
}

void Listener::wake() {
  if (replay_) wait_for_replay();
  watchers_->wake_all();
}

// The primary's WAL insert position now (not the write position: with
// synchronous_commit off a commit returns before its record is written),
// then the standby's replay until it gets there (bounded). Any failure ends the wait: the wake-up goes out anyway,
// and a reader that finds nothing new is woken again by the next
// notification or its own poll.
void Listener::wait_for_replay() {
  while (probe_pending_) {  // the keepalive's answer first: one query at a time
    PGresult* r = PQgetResult(conn_);
    if (!r) probe_pending_ = false;
    PQclear(r);
  }
  ResultPtr lsn(PQexec(conn_, "SELECT pg_current_wal_insert_lsn()::text"));
  if (PQresultStatus(lsn.get()) != PGRES_TUPLES_OK || PQntuples(lsn.get()) != 1) return;
  const std::string target = PQgetvalue(lsn.get(), 0, 0);
  if (!standby_) {
    auto conn = pg::connect(replay_->standby);
    if (!conn) return;
    standby_ = *conn;
  }
  const char* values[] = {target.c_str()};
  const auto until = steady_clock::now() + replay_->limit;
  while (!stopping_.load()) {
    // Not a standby (pg_last_wal_replay_lsn() is null): nothing to wait for.
    ResultPtr caught_up(PQexecParams(standby_, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, true)", 1,
                                     nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(caught_up.get()) != PGRES_TUPLES_OK) {
      PQfinish(standby_);
      standby_ = nullptr;
      return;
    }
    if (PQgetvalue(caught_up.get(), 0, 0)[0] == 't' || steady_clock::now() >= until) return;
    std::this_thread::sleep_for(milliseconds(1));
  }
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
  wake();  // catch up only after LISTEN: nothing falls between the two
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
      // wake() may query the primary, which reads notifications sent
      // meanwhile into libpq's queue: drain it until it stays empty.
      auto drain = [&] {
        bool any = false;
        while (PGnotify* n = PQnotifies(conn_)) {
          any = true;
          PQfreemem(n);
        }
        return any;
      };
      while (conn_ && drain()) wake();
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
