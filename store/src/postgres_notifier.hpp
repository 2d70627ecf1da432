#pragma once

// The wake-up sender of NotifyMode::coalesced. Private to store/.
//
// A pg_notify inside each append transaction makes notifying commits
// serialize (PostgreSQL holds its notify lock across the commit's WAL flush).
// Instead, every successful append signals this notifier, whose thread sends
// one `SELECT pg_notify($1, '')` on its own connection, at most once per
// interval; signals in between merge into the next send, and a trailing send
// always follows the last signal. A send starts after the signal that asked
// for it, so it follows the commit of every append that signalled before it.
// While the database is unreachable the thread retries every 100 ms; signals
// are never lost, only merged. signal() never waits for I/O.

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "postgres_connection_pool.hpp"

namespace eventcore::pg {

class Notifier {
 public:
  // Starts the thread, which connects (with `settings`) on the first signal.
  Notifier(ConnectionSettings settings, std::string channel, std::chrono::microseconds interval);
  // Makes one attempt at a pending send, then stops the thread.
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Asks for a notification. One atomic exchange when a send is already
  // pending; otherwise also a short mutex section to wake the thread.
  void signal() noexcept;

  // Notifications sent so far.
  std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }

 private:
  void run();
  bool send();  // true when the notification went out

  const ConnectionSettings settings_;
  const std::string channel_;
  const std::chrono::microseconds interval_;
  PGconn* conn_ = nullptr;  // owned by the thread
  std::atomic<bool> pending_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: starts once everything above is ready
};

}  // namespace eventcore::pg
