#pragma once

// A fixed-size pool of libpq connections for PostgresStore. Private to store/.

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "eventcore/store/postgres_store.hpp"
#include "eventcore/store/result.hpp"

namespace eventcore::pg {

struct ResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// How to reach the database: the caller's connection string plus the
// keywords the store adds (search_path for the schema, connect_timeout and
// TCP keepalives unless the string sets them), for PQconnectdbParams.
struct ConnectionSettings {
  std::vector<std::string> keywords;
  std::vector<std::string> values;
  std::string target;  // "host H port P database D", for messages
};

// `application_name` applies unless the connection string sets one.
// Errors: invalid_argument when the connection string does not parse.
Result<ConnectionSettings> make_connection_settings(const PostgresStoreConfig& config,
                                                    const std::string& application_name = "eventcore");

// Opens one connection; unavailable with the target in the message on failure.
Result<PGconn*> connect(const ConnectionSettings& settings);

// True when a failed statement lost its connection (the server is gone or
// closed it), as opposed to the statement being rejected.
bool connection_lost(PGconn* conn, const PGresult* result);

// A statement to prepare on a new connection: its name and its SQL.
struct StatementText {
  std::string name;
  std::string sql;
};

// Prepares every statement in one round trip (libpq's pipeline mode): a
// store's connection prepares about 50, which one PQprepare each made about
// as many round trips. Errors name the first statement that failed and what
// the server said, `where` telling which server ("on the primary"):
// unavailable when the connection was lost, failed otherwise.
Status prepare_all(PGconn* conn, const std::vector<StatementText>& statements, std::string_view where);

// Connections are opened lazily, up to `size`, and replaced on the next
// acquire after they break. acquire() blocks while all are in use.
class ConnectionPool {
 public:
  // Runs once on every new connection before its first use with prepare=true
  // (PQprepare of the store's statements).
  using Prepare = std::function<Status(PGconn*)>;

  ConnectionPool(ConnectionSettings settings, std::size_t size, Prepare prepare);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_), fresh_(other.fresh_) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    PGconn* get() const;
    // Whether the connection was opened for this lease (a failure on it is
    // not a stale connection left over from before a server restart).
    bool fresh() const noexcept { return fresh_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::size_t slot, bool fresh)
        : pool_(pool), slot_(slot), fresh_(fresh) {}
    ConnectionPool* pool_;
    std::size_t slot_;
    bool fresh_;
  };

  Result<Lease> acquire(bool prepare = true);

  struct Stats {
    std::size_t size = 0, in_use = 0;
    std::uint64_t waits = 0;    // acquires that found every connection in use
    double waited_seconds = 0;  // their total wait
  };
  Stats stats() const;
  const ConnectionSettings& settings() const noexcept { return settings_; }

 private:
  struct Slot {
    PGconn* conn = nullptr;
    bool prepared = false;
  };
  void release(std::size_t slot);

  ConnectionSettings settings_;
  Prepare prepare_;
  std::vector<Slot> slots_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::uint64_t waits_ = 0;
  std::chrono::steady_clock::duration waited_{};
  std::vector<std::size_t> free_;  // a stack: the most recently used connection goes out first
};

}  // namespace eventcore::pg
