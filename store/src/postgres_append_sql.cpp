#include "postgres_append_sql.hpp"

namespace eventcore::pg {

// Arrays are walked by generate_subscripts and read by subscript, not by
// unnest: the planner estimates an unnest of a parameter at 10 rows in a
// generic plan and at the array's real length in a custom one, so it judged
// every generic plan dearer and planned each append anew (measured: a
// 2-stream append took 1.1 ms at one client instead of 0.57 ms).
// generate_subscripts has one estimate for both, and the plan is kept.

namespace {

// Element `i` of parameter `n`, an array of `type`.
std::string at(int n, const char* type, const std::string& i) {
  return "($" + std::to_string(n) + "::" + type + "[])[" + i + "]";
}

// A stream's lock, taken by the expression itself (void, as text '').
std::string lock(const std::string& id, const std::string& exclusive) {
  return "CASE WHEN " + exclusive + " THEN pg_advisory_xact_lock(eventcore_stream_key(" + id +
         "))::text ELSE pg_advisory_xact_lock_shared(eventcore_stream_key(" + id + "))::text END";
}

// The locks of the streams in $1, in their order, with the event counts in
// `counts` (0: read-only, the shared lock); a count of them.
std::string locks_of(int counts) {
  return "(SELECT count(l.locked) FROM (SELECT " + lock(at(1, "text", "u.i"), at(counts, "int", "u.i") + " > 0") +
         " AS locked FROM generate_subscripts($1::text[], 1) AS u(i) ORDER BY u.i) l)";
}

// The check of stream `i` (of $1 .. $3) against its version `head`; a failed
// one raises.
std::string check_or_raise(const std::string& i, const std::string& head) {
  const std::string kind = at(2, "int", i);
  return "((CASE " + kind + " WHEN 0 THEN " + head + " = " + at(3, "bigint", i) + " WHEN 1 THEN " + head +
         " = 0 WHEN 2 THEN " + head + " > 0 ELSE true END) OR eventcore_conflict(" + i + " - 1, " + head + ", " +
         at(1, "text", i) + ") IS NULL)";
}

constexpr const char* insert_events =
    " INSERT INTO events (event_id, stream_id, stream_version, event_type, payload,"
    "                     correlation_id, causation_id, user_id, metadata)";

// The columns of event x.n after its stream and version, from the per-event
// arrays starting at parameter `first` (type, payload, correlation id,
// causation id, user id, metadata).
std::string event_columns(int first) {
  return at(first, "text", "x.n") + ", " + at(first + 1, "bytea", "x.n") + ", " + at(first + 2, "uuid", "x.n") +
         ", " + at(first + 3, "uuid", "x.n") + ", " + at(first + 4, "text", "x.n") + ", " +
         at(first + 5, "jsonb", "x.n");
}

constexpr const char* record = " r AS (INSERT INTO command_records (key, record) VALUES ($15::text, $16::bytea))";

// Every stream written: one row per event, its stream's version read per
// row. The locks come first, in $1's order, as the statement's one-time
// filter; the command record and the streams rows are written at its end
// (data-modifying WITH clauses nothing reads run after the main statement).
std::string append_written_sql(bool creates, bool recorded, bool known) {
  const std::string stream = at(6, "int", "x.n");  // the event's stream, 1-based
  const std::string id = at(1, "text", stream);
  // Known: every stream's version is the one expected (a check kind 0 or 1).
  const std::string head = known ? at(3, "bigint", stream) : version_of(id);
  std::string with;
  if (creates)
    with += " s AS (INSERT INTO streams (stream_id) SELECT " + at(1, "text", "u.i") +
            " FROM generate_subscripts($1::text[], 1) AS u(i) WHERE " + at(2, "int", "u.i") +
            " IN (1, 3) ON CONFLICT DO NOTHING)";
  if (recorded) with += std::string(with.empty() ? "" : ",") + record;
  std::string sql = with.empty() ? "" : "WITH" + with;
  sql += insert_events;
  sql += " SELECT " + at(5, "uuid", "x.n") + ", " + id + ", h.head + " + at(7, "int", "x.n") + ", " +
         event_columns(8) +
         " FROM generate_subscripts($5::uuid[], 1) AS x(n), LATERAL (SELECT " + head +
         " AS head OFFSET 0) h"
         " WHERE " + locks_of(4) + " > 0 AND " + check_or_raise(stream, "h.head") +
         " AND ($14::text IS NULL OR (SELECT pg_notify($14::text, '')::text) = '')"
         " ORDER BY x.n"
         " RETURNING position, stream_version, pg_current_xact_id()";
  return sql;
}

// Some stream read-only: one row per stream (w, materialized: each lock
// taken, and each check made, once, all before the first event is
// inserted, since the sort below reads the whole join), then the events;
// the versions come back per stream, the positions per event.
std::string append_checked_sql(bool recorded) {
  std::string sql = "WITH w AS MATERIALIZED ("
                    "  SELECT u.i, " + at(1, "text", "u.i") + " AS id, " + at(4, "int", "u.i") +
                    " AS k, h.locked, CASE WHEN " + check_or_raise("u.i", "h.head") +
                    " THEN h.head END AS head"
                    "    FROM generate_subscripts($1::text[], 1) AS u(i),"
                    "         LATERAL (SELECT " + lock(at(1, "text", "u.i"), at(4, "int", "u.i") + " > 0") +
                    " AS locked, " + version_of(at(1, "text", "u.i")) + " AS head OFFSET 0) h),"
                    " e AS (";
  sql += insert_events;
  sql += " SELECT " + at(5, "uuid", "x.n") + ", w.id, w.head + " + at(7, "int", "x.n") + ", " + event_columns(8) +
         "    FROM generate_subscripts($5::uuid[], 1) AS x(n) JOIN w ON w.i = " + at(6, "int", "x.n") +
         "   ORDER BY x.n"
         "  RETURNING position),"
         " n AS (SELECT pg_notify($14::text, '') FROM (SELECT 1 FROM e LIMIT 1) f WHERE $14::text IS NOT NULL),"
         " s AS (INSERT INTO streams (stream_id) SELECT w.id FROM w WHERE w.head = 0 AND w.k > 0"
         "       ON CONFLICT DO NOTHING)";
  if (recorded) sql += std::string(",") + record;
  sql += " SELECT pg_current_xact_id(), (SELECT array_agg(w.head + w.k ORDER BY w.i) FROM w),"
         " (SELECT coalesce(array_agg(position ORDER BY position), '{}') FROM e), (SELECT count(*) FROM n)";
  return sql;
}

}  // namespace

std::string version_of(const std::string& id) {
  return "(SELECT coalesce(max(e.stream_version), 0) FROM events e WHERE e.stream_id = " + id + ")";
}

const char* append_stream_statement(bool several, bool creates, bool known) {
  static const char* const names[2][2][2] = {
      {{"eventcore_append_one", "eventcore_append_one_known"},
       {"eventcore_append_one_new", "eventcore_append_one_new_known"}},
      {{"eventcore_append_stream", "eventcore_append_stream_known"},
       {"eventcore_append_stream_new", "eventcore_append_stream_new_known"}}};
  return names[several][creates][known];
}

std::string append_stream_sql(bool several, bool creates, bool notify, bool known) {
  // h: the lock, then the version (OFFSET 0 keeps h a subquery of its own:
  // computed once, and its lock kept although nothing reads it).
  std::string sql =
      creates ? "WITH s AS (INSERT INTO streams (stream_id) VALUES ($1::text) ON CONFLICT DO NOTHING)" : "";
  sql += insert_events;
  sql += several ? " SELECT " + at(4, "uuid", "x.n") + ", $1::text, h.head + x.n, " + event_columns(5)
                 : std::string(" SELECT $4::uuid, $1::text, h.head + 1, $5::text, $6::bytea, $7::uuid, $8::uuid,"
                               " $9::text, $10::jsonb");
  // Known: the version is the one expected ($2 = $3), and no lock is taken:
  // the key alone orders writers of one stream (postgres_append_sql.hpp).
  if (known)
    sql += "   FROM (SELECT $2::bigint AS head) h";
  else
    sql += "   FROM (SELECT l.locked, " + version_of("$1::text") +
           " AS head"
           "           FROM (SELECT pg_advisory_xact_lock(eventcore_stream_key($1::text))::text AS locked OFFSET 0) l"
           "         OFFSET 0) h";
  if (several) sql += ", generate_subscripts($4::uuid[], 1) AS x(n)";
  sql += "  WHERE (h.head BETWEEN $2::bigint AND $3::bigint OR eventcore_conflict(0, h.head, $1::text) IS NULL)";
  // The channel is a parameter; only whether to notify shapes the statement.
  if (notify) sql += " AND (SELECT pg_notify($11::text, '')::text) = ''";
  if (several) sql += " ORDER BY x.n";
  sql += " RETURNING position, stream_version, pg_current_xact_id()";
  return sql;
}

const char* append_streams_statement(bool read_only, bool creates, bool recorded, bool known) {
  if (read_only) return recorded ? "eventcore_append_checked_recorded" : "eventcore_append_checked";
  static const char* const names[2][2][2] = {
      {{"eventcore_append", "eventcore_append_known"}, {"eventcore_append_recorded", "eventcore_append_recorded_known"}},
      {{"eventcore_append_new", "eventcore_append_new_known"},
       {"eventcore_append_recorded_new", "eventcore_append_recorded_new_known"}}};
  return names[creates][recorded][known];
}

std::string append_streams_sql(bool read_only, bool creates, bool recorded, bool known) {
  return read_only ? append_checked_sql(recorded) : append_written_sql(creates, recorded, known);
}

std::string lock_streams_sql() { return "SELECT " + locks_of(2); }

std::string append_values_statement(int streams, int events) {
  return "eventcore_append_values_" + std::to_string(streams) + "_" + std::to_string(events);
}

std::string append_values_sql(int streams, int events) {
  auto p = [](int n) { return "$" + std::to_string(n); };
  std::string sql = insert_events;
  sql += " SELECT v.* FROM (VALUES ";
  for (int e = 0; e < events; ++e) {
    const int first = streams + 1 + 9 * e;
    sql += std::string(e ? ", " : "") + "(" + p(first) + "::uuid, " + p(first + 1) + "::text, " + p(first + 2) +
           "::bigint, " + p(first + 3) + "::text, " + p(first + 4) + "::bytea, " + p(first + 5) + "::uuid, " +
           p(first + 6) + "::uuid, " + p(first + 7) + "::text, " + p(first + 8) + "::jsonb)";
  }
  sql += ") AS v WHERE ";
  // The locks, in order, as the one-time filter (each void, as text '').
  if (streams > 0) {
    sql += "(SELECT ";
    for (int s = 1; s <= streams; ++s)
      sql += std::string(s > 1 ? " || " : "") + "pg_advisory_xact_lock(eventcore_stream_key(" + p(s) + "::text))::text";
    sql += ") = '' AND ";
  }
  const std::string channel = p(streams + 9 * events + 1) + "::text";
  sql += "(" + channel + " IS NULL OR (SELECT pg_notify(" + channel + ", '')::text) = '')";
  sql += " RETURNING position, stream_version, pg_current_xact_id()";
  return sql;
}

}  // namespace eventcore::pg
