#include "postgres_migrations.hpp"

#include <array>
#include <string_view>

#include "postgres_connection_pool.hpp"

namespace eventcore::pg {

namespace {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// Append-only: a released migration never changes; a change is a new one.
// Statements name no schema: the session's search_path is the store's schema.
constexpr std::array migrations{
    Migration{1, "streams, events and eventcore_append", R"SQL(
CREATE TABLE streams (
  stream_id text PRIMARY KEY,
  version bigint NOT NULL  -- 0: a placeholder locked by a read-only participant, no events
);

CREATE TABLE events (
  position bigint GENERATED ALWAYS AS IDENTITY,
  tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  event_id uuid NOT NULL UNIQUE,
  stream_id text NOT NULL,
  stream_version bigint NOT NULL,
  event_type text NOT NULL,
  payload bytea NOT NULL,
  correlation_id uuid,
  causation_id uuid,
  user_id text,
  metadata jsonb,  -- the free-form key/values
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_id, stream_version)
);

-- read_all's order and its gap-free cursor.
CREATE INDEX events_tx_id_position ON events (tx_id, position);

-- One append, one transaction. Streams arrive sorted by id so that
-- concurrent appends lock stream rows in one order (no deadlock). Each
-- stream's check takes its row lock, so the check holds until commit:
--   kind 0, exact N > 0: UPDATE ... WHERE version = N
--   kind 1, no stream (or exact 0): INSERT ... ON CONFLICT DO UPDATE WHERE version = 0
--   kind 2, stream exists: UPDATE ... WHERE version > 0
--   kind 3, any: INSERT ... ON CONFLICT DO UPDATE
-- A failed check raises SQLSTATE EC409 with DETAIL '<stream index> <actual version>'.
-- Events arrive in the order of the request (their positions follow it) and
-- name their stream by its index in p_streams (1-based) and their offset in it (1..k).
CREATE FUNCTION eventcore_append(
  p_streams text[], p_kinds int[], p_expected bigint[], p_counts int[],
  p_event_ids uuid[], p_event_streams int[], p_event_offsets int[], p_types text[],
  p_payloads bytea[], p_correlation_ids uuid[], p_causation_ids uuid[], p_user_ids text[],
  p_metadata jsonb[], p_channel text,
  OUT tx_id xid8, OUT versions bigint[], OUT positions bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
  v bigint;
  actual bigint;
  bases bigint[] := '{}';
BEGIN
  versions := '{}';
  FOR i IN 1 .. coalesce(cardinality(p_streams), 0) LOOP
    IF p_kinds[i] = 0 THEN
      UPDATE streams SET version = streams.version + p_counts[i]
        WHERE stream_id = p_streams[i] AND streams.version = p_expected[i]
        RETURNING streams.version INTO v;
    ELSIF p_kinds[i] = 1 THEN
      INSERT INTO streams AS s (stream_id, version) VALUES (p_streams[i], p_counts[i])
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + EXCLUDED.version
        WHERE s.version = 0
        RETURNING s.version INTO v;
    ELSIF p_kinds[i] = 2 THEN
      UPDATE streams SET version = streams.version + p_counts[i]
        WHERE stream_id = p_streams[i] AND streams.version > 0
        RETURNING streams.version INTO v;
    ELSE
      INSERT INTO streams AS s (stream_id, version) VALUES (p_streams[i], p_counts[i])
        ON CONFLICT (stream_id) DO UPDATE SET version = s.version + EXCLUDED.version
        RETURNING s.version INTO v;
    END IF;
    IF NOT FOUND THEN
      SELECT s.version INTO actual FROM streams s WHERE s.stream_id = p_streams[i];
      RAISE EXCEPTION 'version conflict on stream %', p_streams[i]
        USING ERRCODE = 'EC409', DETAIL = (i - 1)::text || ' ' || coalesce(actual, 0)::text;
    END IF;
    versions := versions || v;
    bases := bases || (v - p_counts[i]);
  END LOOP;

  -- Positions are drawn in the order of the rows, which is the order of the request.
  WITH inserted AS (
    INSERT INTO events (event_id, stream_id, stream_version, event_type, payload,
                        correlation_id, causation_id, user_id, metadata)
    SELECT e.id, p_streams[e.s], bases[e.s] + e.o, e.t, e.p, e.c, e.ca, e.u, e.m
      FROM unnest(p_event_ids, p_event_streams, p_event_offsets, p_types, p_payloads,
                  p_correlation_ids, p_causation_ids, p_user_ids, p_metadata)
           WITH ORDINALITY AS e(id, s, o, t, p, c, ca, u, m, n)
     ORDER BY e.n
    RETURNING events.position)
  SELECT coalesce(array_agg(inserted.position ORDER BY inserted.position), '{}')
    INTO positions FROM inserted;

  IF p_channel IS NOT NULL THEN
    PERFORM pg_notify(p_channel, '');
  END IF;
  tx_id := pg_current_xact_id();
END
$fn$;
)SQL"},
};

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

Status check(PGconn* conn, PGresult* raw, std::string_view what) {
  ResultPtr result(raw);
  const auto status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
  const ErrorCode code = connection_lost(conn, result.get()) ? ErrorCode::unavailable : ErrorCode::failed;
  return Error{code, "schema migration failed (" + std::string(what) + "): " +
                         trim(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn))};
}

}  // namespace

int latest_schema_version() { return migrations.back().version; }

Status apply_migrations(PGconn* conn, const std::string& schema) {
  auto run = [&]() -> Status {
    if (auto s = check(conn, PQexec(conn, "BEGIN"), "begin"); !s) return s;
    // Before anything is created: two processes starting at once take turns.
    const char* lock_params[] = {schema.c_str()};
    if (auto s = check(conn,
                       PQexecParams(conn, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, nullptr,
                                    lock_params, nullptr, nullptr, 0),
                       "advisory lock");
        !s)
      return s;
    char* quoted = PQescapeIdentifier(conn, schema.c_str(), schema.size());
    if (!quoted) return Error{ErrorCode::failed, "cannot quote schema name '" + schema + "'"};
    const std::string create_schema = std::string("CREATE SCHEMA IF NOT EXISTS ") + quoted;
    PQfreemem(quoted);
    if (auto s = check(conn, PQexec(conn, create_schema.c_str()), "create schema"); !s) return s;
    if (auto s = check(conn,
                       PQexec(conn,
                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              " version integer PRIMARY KEY,"
                              " description text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now())"),
                       "create schema_migrations");
        !s)
      return s;
    ResultPtr current(PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations"));
    if (PQresultStatus(current.get()) != PGRES_TUPLES_OK)
      return check(conn, current.release(), "read schema version");
    const int applied = std::atoi(PQgetvalue(current.get(), 0, 0));
    if (applied > latest_schema_version())
      return Error{ErrorCode::failed, "schema '" + schema + "' is at version " +
                                          std::to_string(applied) + ", newer than this build (" +
                                          std::to_string(latest_schema_version()) + ")"};
    for (const auto& m : migrations) {
      if (m.version <= applied) continue;
      const std::string sql(m.sql);
      if (auto s = check(conn, PQexec(conn, sql.c_str()), m.description); !s) return s;
      const std::string version = std::to_string(m.version);
      const std::string description(m.description);
      const char* params[] = {version.c_str(), description.c_str()};
      if (auto s = check(conn,
                         PQexecParams(conn,
                                      "INSERT INTO schema_migrations (version, description) "
                                      "VALUES ($1, $2)",
                                      2, nullptr, params, nullptr, nullptr, 0),
                         "record migration");
          !s)
        return s;
    }
    return check(conn, PQexec(conn, "COMMIT"), "commit");
  };
  Status status = run();
  if (!status && PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
    PQclear(PQexec(conn, "ROLLBACK"));
  return status;
}

}  // namespace eventcore::pg
