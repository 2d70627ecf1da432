#include "postgres_notifier.hpp"

namespace eventcore::pg {

namespace {
constexpr auto retry_interval = std::chrono::milliseconds(100);
}

Notifier::Notifier(ConnectionSettings settings, std::string channel, std::chrono::microseconds interval)
    : settings_(std::move(settings)), channel_(std::move(channel)), interval_(interval),
      thread_([this] { run(); }) {}

Notifier::~Notifier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (conn_) PQfinish(conn_);
}

void Notifier::signal() noexcept {
  if (pending_.exchange(true)) return;  // a send is already due
  std::lock_guard lock(mutex_);
  wake_.notify_one();
}

bool Notifier::send() {
  if (!conn_) {
    auto conn = connect(settings_);
    if (!conn) return false;
    conn_ = *conn;
    // The notification is delivered at commit; waiting for a WAL flush would
    // only add latency (a lone pg_notify writes none anyway).
    ResultPtr set(PQexec(conn_, "SET synchronous_commit = off"));
  }
  const char* values[] = {channel_.c_str()};
  ResultPtr result(PQexecParams(conn_, "SELECT pg_notify($1, '')", 1, nullptr, values, nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) == PGRES_TUPLES_OK) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // Lost or rejected: a new connection for the next attempt.
  PQfinish(conn_);
  conn_ = nullptr;
  return false;
}

void Notifier::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || pending_.load(); });
      if (stopping_ && !pending_.load()) return;
    }
    // Every append that signalled before this exchange has committed, and
    // the send below starts after it.
    pending_.store(false);
    if (!send()) {
      pending_.store(true);  // not lost: sent once the database answers
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, retry_interval, [&] { return stopping_; })) return;
      continue;
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, interval_, [&] { return stopping_; }) && !pending_.load()) return;
  }
}

}  // namespace eventcore::pg
