#pragma once

// One libpq connection with text parameters and rows of text, for the
// components that own a connection and run a few statements on it (the
// projections' sessions, checkpoints and leadership). The store's hot paths
// use the pool and binary parameters instead. Private to store/ and
// projections/. Blocking: use it from a thread of its own.

#include <libpq-fe.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "postgres_connection_pool.hpp"

namespace eventcore::pg {

using Rows = std::vector<std::vector<std::string>>;

// A statement failed; connection_lost tells an outage from a rejected statement.
struct SqlFailure : std::runtime_error {
  SqlFailure(const std::string& message, bool lost) : std::runtime_error(message), connection_lost(lost) {}
  bool connection_lost;
};

class Session {
 public:
  Session() = default;
  ~Session() { close(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects with the settings (search_path, keepalives, timeouts).
  // Errors: unavailable, naming the target (never a password).
  Status connect(const ConnectionSettings& settings);
  void close();
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
  PGconn* get() const { return conn_; }

  // Runs one statement with text parameters (std::nullopt is NULL) and
  // returns the rows' values as text (NULL as ""). Throws SqlFailure, and
  // closes the connection when it was lost. Without parameters the simple
  // protocol runs it, which also runs several statements at once.
  Rows exec(std::string_view sql, std::initializer_list<std::optional<std::string_view>> params = {});
  Rows exec(std::string_view sql, const std::vector<std::optional<std::string>>& params);

  // Rolls back an open transaction, if any (best effort).
  void rollback_if_open();

 private:
  Rows run(std::string_view sql, int n, const char* const* values);
  PGconn* conn_ = nullptr;
};

// A double-quoted SQL identifier.
std::string quote_ident(std::string_view name);

}  // namespace eventcore::pg
