#pragma once

// One libpq connection owned by a projection component (the listener, a
// projection actor). Blocking: use only on a thread of its own.

#include <libpq-fe.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/projections/projection.hpp"

namespace eventcore::projections::detail {

using Rows = std::vector<std::vector<std::string>>;

class Session {
 public:
  Session() = default;
  ~Session() { close(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects with search_path = schema, TCP keepalives and the given
  // application_name. Errors: unavailable, with the target (never a password).
  Status connect(const std::string& conninfo, const std::string& schema,
                 const std::string& application_name);
  void close();
  bool connected() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }
  PGconn* get() const { return conn_; }

  // Runs one statement with text parameters; throws SqlError (and closes the
  // connection when it was lost).
  Rows exec(std::string_view sql, std::initializer_list<std::optional<std::string_view>> params = {});
  Rows exec(std::string_view sql, const std::vector<std::optional<std::string>>& params);
  // exec that returns an Error instead of throwing.
  Result<Rows> try_exec(std::string_view sql, const std::vector<std::optional<std::string>>& params = {});

  // Rolls back an open transaction, if any (best effort).
  void rollback_if_open();

  const std::string& schema() const { return schema_; }
  std::string quoted_schema() const;

 private:
  Rows run(std::string_view sql, int n, const char* const* values);
  PGconn* conn_ = nullptr;
  std::string schema_;
};

std::string quote_ident(std::string_view name);
std::string position_text(std::uint64_t v);
GlobalPosition parse_position(const std::string& tx, const std::string& seq);

// The projection tables; idempotent and safe from concurrent processes.
Status ensure_projection_schema(Session& session);

}  // namespace eventcore::projections::detail
