#include "sql_session.hpp"

#include <cstdlib>

namespace eventcore::projections::detail {

namespace {
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string position_text(std::uint64_t v) { return std::to_string(v); }

GlobalPosition parse_position(const std::string& tx, const std::string& seq) {
  return GlobalPosition{std::strtoull(tx.c_str(), nullptr, 10), std::strtoull(seq.c_str(), nullptr, 10)};
}

Status Session::connect(const std::string& conninfo, const std::string& schema,
                        const std::string& application_name) {
  close();
  schema_ = schema;
  const std::string options = "-c search_path=" + schema;
  // expand_dbname: the caller's string (URI or key=value) supplies everything
  // else; the keywords after it add what the runtime needs.
  const char* keywords[] = {"dbname",    "options",       "application_name", "connect_timeout",
                            "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
                            nullptr};
  const char* values[] = {conninfo.c_str(), options.c_str(), application_name.c_str(), "5", "1", "5", "1",
                          "3", nullptr};
  conn_ = PQconnectdbParams(keywords, values, 1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = trim(PQerrorMessage(conn_));
    std::string target = std::string("host ") + (PQhost(conn_) ? PQhost(conn_) : "?") + " port " +
                         (PQport(conn_) ? PQport(conn_) : "?");
    close();
    return Error{ErrorCode::unavailable, "cannot connect to PostgreSQL (" + target + "): " + message};
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return {};
}

void Session::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

std::string Session::quoted_schema() const { return quote_ident(schema_); }

Rows Session::run(std::string_view sql, int n, const char* const* values) {
  if (!conn_) throw SqlError("no connection to PostgreSQL", true);
  const std::string text(sql);
  // Without parameters: the simple protocol, which also runs several statements.
  PGresult* result = n == 0 ? PQexec(conn_, text.c_str())
                            : PQexecParams(conn_, text.c_str(), n, nullptr, values, nullptr, nullptr, 0);
  const auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string message = trim(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    if (message.empty()) message = trim(PQerrorMessage(conn_));
    PQclear(result);
    const bool lost = PQstatus(conn_) != CONNECTION_OK;
    if (lost) close();
    throw SqlError(message, lost);
  }
  Rows rows;
  const int nrows = PQntuples(result), ncols = PQnfields(result);
  rows.reserve(static_cast<std::size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    auto& row = rows.emplace_back();
    row.reserve(static_cast<std::size_t>(ncols));
    for (int c = 0; c < ncols; ++c)
      row.emplace_back(PQgetvalue(result, r, c), static_cast<std::size_t>(PQgetlength(result, r, c)));
  }
  PQclear(result);
  return rows;
}

Rows Session::exec(std::string_view sql, std::initializer_list<std::optional<std::string_view>> params) {
  std::vector<std::string> owned;
  owned.reserve(params.size());
  std::vector<const char*> values;
  for (const auto& p : params) {
    if (p) {
      owned.emplace_back(*p);
      values.push_back(nullptr);
    } else {
      values.push_back(nullptr);
    }
  }
  std::size_t k = 0, i = 0;
  for (const auto& p : params) {
    if (p) values[i] = owned[k++].c_str();
    ++i;
  }
  return run(sql, static_cast<int>(values.size()), values.data());
}

Rows Session::exec(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return run(sql, static_cast<int>(values.size()), values.data());
}

Result<Rows> Session::try_exec(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
  try {
    return exec(sql, params);
  } catch (const SqlError& e) {
    return Error{e.connection_lost ? ErrorCode::unavailable : ErrorCode::failed, e.what()};
  }
}

void Session::rollback_if_open() {
  if (conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
    PQclear(PQexec(conn_, "ROLLBACK"));
}

namespace {
struct Migration {
  int version;
  const char* sql;
};
// Append-only, like the store's migrations; tracked in their own table so
// that the store's numbering stays the store's.
constexpr Migration migrations[] = {
    {1, R"SQL(
CREATE TABLE projection_checkpoints (
  name text PRIMARY KEY,
  tx_id xid8 NOT NULL DEFAULT '0',
  position bigint NOT NULL DEFAULT 0,
  generation int NOT NULL DEFAULT 1,
  state text NOT NULL DEFAULT 'starting',
  error text,
  owner text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE projection_dead_letters (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  projection text NOT NULL,
  tx_id xid8 NOT NULL,
  position bigint NOT NULL,
  event_id uuid NOT NULL,
  stream_id text NOT NULL,
  stream_version bigint NOT NULL,
  event_type text NOT NULL,
  error text NOT NULL,
  attempts int NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projection_dead_letters_projection ON projection_dead_letters (projection, id);
)SQL"},
};
}  // namespace

Status ensure_projection_schema(Session& s) {
  try {
    s.exec("BEGIN");
    s.exec("SELECT pg_advisory_xact_lock(hashtext($1))", {s.schema() + ".projections"});
    s.exec("CREATE SCHEMA IF NOT EXISTS " + s.quoted_schema());
    s.exec("CREATE TABLE IF NOT EXISTS projection_schema_migrations ("
           " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const int applied = std::atoi(
        s.exec("SELECT coalesce(max(version), 0) FROM projection_schema_migrations").at(0).at(0).c_str());
    for (const auto& m : migrations) {
      if (m.version <= applied) continue;
      s.exec(m.sql);
      s.exec("INSERT INTO projection_schema_migrations (version) VALUES ($1)", {std::to_string(m.version)});
    }
    s.exec("COMMIT");
    return {};
  } catch (const SqlError& e) {
    s.rollback_if_open();
    return Error{e.connection_lost ? ErrorCode::unavailable : ErrorCode::failed,
                 std::string("projection schema migration failed: ") + e.what()};
  }
}

}  // namespace eventcore::projections::detail
