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

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "append_watchers.hpp"
#include "postgres_connection_pool.hpp"

namespace eventcore::pg {

class Listener {
 public:
  Listener(ConnectionSettings settings, std::string channel, std::chrono::milliseconds keepalive,
           std::shared_ptr<detail::AppendWatchers> watchers);
  ~Listener();  // stops the thread within about 50 ms
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void run();
  bool connect();
  void drop();

  const ConnectionSettings settings_;
  const std::string channel_;
  const std::chrono::milliseconds keepalive_;
  std::shared_ptr<detail::AppendWatchers> watchers_;
  PGconn* conn_ = nullptr;  // owned by the thread
  bool probe_pending_ = false;
  std::chrono::steady_clock::time_point last_probe_{};
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace eventcore::pg
