#pragma once

// PostgresStore's wake-ups (EventStore::watch_appends). Private to store/.
//
// A thread with a connection of its own, in this order on every (re)connect:
// LISTEN on the store's channel, then wake every watcher (so a reader
// catches up on whatever was notified while the connection was down), then
// wake them on each notification. A keepalive query every keepalive interval
// must answer within another interval, or the connection is declared dead
// and replaced; a database that is down is retried with backoff (50 ms to
// 1 s). Notifications carry no data.
//
// With a ReplayWait (the store reads the log from a hot standby), each
// wake-up waits first until the standby has replayed the primary's WAL as
// of the notification, polling every millisecond for at most `limit`: the
// notification is sent after the commit it announces, so the primary's WAL
// insert position when it arrives covers that commit.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "append_watchers.hpp"
#include "postgres_connection_pool.hpp"

namespace eventcore::pg {

struct ReplayWait {
  ConnectionSettings standby;
  std::chrono::milliseconds limit;
};

class Listener {
 public:
  Listener(ConnectionSettings settings, std::string channel, std::chrono::milliseconds keepalive,
           std::shared_ptr<detail::AppendWatchers> watchers, std::optional<ReplayWait> replay = std::nullopt);
  ~Listener();  // stops the thread within about 50 ms
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void run();
  bool connect();
  void drop();
  void wake();               // waits for the standby's replay first, with a ReplayWait
  void wait_for_replay();

  const ConnectionSettings settings_;
  const std::string channel_;
  const std::chrono::milliseconds keepalive_;
  std::shared_ptr<detail::AppendWatchers> watchers_;
  const std::optional<ReplayWait> replay_;
  PGconn* conn_ = nullptr;     // owned by the thread
  PGconn* standby_ = nullptr;  // with a ReplayWait; owned by the thread
  bool probe_pending_ = false;
  std::chrono::steady_clock::time_point last_probe_{};
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace eventcore::pg
