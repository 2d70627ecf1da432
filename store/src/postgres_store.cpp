#include "eventcore/store/postgres_store.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <numeric>
#include <regex>

#include "append_watchers.hpp"
#include "postgres_append_sql.hpp"
#include "postgres_connection_pool.hpp"
#include "postgres_known_versions.hpp"
#include "postgres_listener.hpp"
#include "postgres_migrations.hpp"
#include "postgres_notifier.hpp"
#include "postgres_wire.hpp"

namespace eventcore {

namespace {

// Names of the prepared statements on every pooled connection.
constexpr const char* read_stream_statement = "eventcore_read_stream";
constexpr const char* read_all_statement = "eventcore_read_all";
constexpr const char* stream_version_statement = "eventcore_stream_version";
constexpr const char* load_snapshot_statement = "eventcore_load_snapshot";
constexpr const char* save_snapshot_statement = "eventcore_save_snapshot";

constexpr const char* event_columns =
    "event_id, stream_id, stream_version, tx_id, position, event_type, payload, "
    "correlation_id, causation_id, user_id, metadata, recorded_at";
enum Column { c_id, c_stream, c_version, c_tx, c_position, c_type, c_payload, c_correlation,
              c_causation, c_user, c_metadata, c_recorded_at };

constexpr const char* load_record_statement = "eventcore_load_record";
const std::string load_record_sql = "SELECT record, recorded_at FROM command_records WHERE key = $1";
constexpr const char* expire_records_statement = "eventcore_expire_records";
const std::string expire_records_sql =
    "WITH d AS (DELETE FROM command_records WHERE recorded_at <= now() - make_interval(secs => $1::bigint)"
    " RETURNING 1) SELECT count(*) FROM d";
constexpr const char* append_batch_statement = "eventcore_append_batch";
const std::string append_batch_sql =
    "SELECT r_code, r_detail, r_versions, r_positions, r_tx FROM eventcore_append_batch("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
constexpr std::int64_t max_version = std::numeric_limits<std::int64_t>::max();

const std::string read_stream_sql =
    std::string("SELECT ") + event_columns +
    " FROM events WHERE stream_id = $1 AND stream_version BETWEEN $2 AND $4 ORDER BY stream_version LIMIT $3";
// Gap-free: only transactions older than every one still running are
// returned, so nothing can later commit before the returned positions.
const std::string read_all_sql =
    std::string("SELECT ") + event_columns +
    " FROM events"
    " WHERE (tx_id, position) > ($1::xid8, $2::bigint)"
    "   AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    "   AND ($3::text[] IS NULL OR event_type = ANY($3::text[]))"
    "   AND ($4::text IS NULL OR starts_with(stream_id, $4::text))"
    " ORDER BY tx_id, position LIMIT $5::bigint";
// The same read for a prefix with a '-' in it, through the category index
// (migration 6): its cost follows the events returned, not the log crossed.
// It runs as an unnamed statement, planned on each call with the call's
// values, in sessions with bitmap scans off (plan_settings): a prepared
// statement's generic plan cannot know the category and walked the log
// instead, and the planner, which multiplies the selectivities of the
// category and the prefix as if they were independent, picked a bitmap
// scan that sorts the category's whole rest for one page. (Migration 6's
// function eventcore_read_category did the same inside PL/pgSQL, at 0.6x of
// the unfiltered read's rate; it stays for binaries that still call it.)
const std::string read_category_sql =
    std::string("SELECT ") + event_columns +
    " FROM events"
    " WHERE split_part(stream_id, '-', 1) = split_part($4::text, '-', 1)"
    "   AND (tx_id, position) > ($1::xid8, $2::bigint)"
    "   AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    "   AND starts_with(stream_id, $4::text)"
    "   AND ($3::text[] IS NULL OR event_type = ANY($3::text[]))"
    " ORDER BY tx_id, position LIMIT $5::bigint";
// EventStore::backlog in one round trip; every column as text. The oldest
// open transaction (the one that holds events back) is looked up on the whole
// server: gap-free reading waits for every database's transactions.
constexpr const char* backlog_statement = "eventcore_backlog";
const std::string backlog_sql =
    "WITH x AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),"
    " h AS (SELECT e.tx_id, e.position FROM events e, x WHERE e.tx_id < x.xmin"
    "       ORDER BY e.tx_id DESC, e.position DESC LIMIT 1),"
    " w AS (SELECT e.tx_id < x.xmin AS readable, e.recorded_at FROM events e, x"
    "       WHERE (e.tx_id, e.position) > ($1::xid8, $2::bigint)"
    "         AND ($3::text[] IS NULL OR e.event_type = ANY($3::text[]))"
    "         AND ($4::text IS NULL OR starts_with(e.stream_id, $4::text))),"
    " o AS (SELECT pid, coalesce(datname, '') AS datname, coalesce(state, '') AS state,"
    "       coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0) AS age"
    "       FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
    "       ORDER BY age(backend_xid) DESC LIMIT 1)"
    " SELECT (SELECT tx_id::text FROM h), (SELECT position::text FROM h),"
    "  (SELECT (count(*) FILTER (WHERE readable))::text FROM w),"
    "  (SELECT coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at)) * 1000, 0)::text FROM w),"
    "  (SELECT (count(*) FILTER (WHERE NOT readable))::text FROM w),"
    "  (SELECT coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at) FILTER (WHERE NOT readable))"
    "          * 1000, 0)::text FROM w),"
    "  (SELECT pid::text FROM o), (SELECT datname FROM o), (SELECT state FROM o), (SELECT age::text FROM o)";
const std::string stream_version_sql = "SELECT " + pg::version_of("$1::text");
constexpr const char* list_streams_statement = "eventcore_list_streams";
const std::string list_streams_sql =
    "SELECT s.stream_id, " + pg::version_of("s.stream_id") +
    " FROM streams s WHERE s.stream_id > $2 AND starts_with(s.stream_id, $1) ORDER BY s.stream_id LIMIT $3";
// Exact counts (operators ask rarely) and the gap-free head of read_all.
constexpr const char* totals_statement = "eventcore_totals";
const std::string totals_sql =
    "SELECT (SELECT count(*) FROM streams), (SELECT count(*) FROM events),"
    " h.tx_id::text::bigint, h.position,"
    " pg_total_relation_size('events') + pg_total_relation_size('streams') + pg_total_relation_size('snapshots')"
    "   + pg_total_relation_size('command_records')"
    " FROM (SELECT NULL) AS one LEFT JOIN LATERAL (SELECT tx_id, position FROM events"
    "   WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx_id DESC, position DESC LIMIT 1) h ON true";
const std::string load_snapshot_sql =
    "SELECT stream_version, state FROM snapshots"
    " WHERE stream_id = $1 AND snapshot_type = $2 AND schema_version = $3::integer";
// Only forward: an older or equal version leaves the row (and returns no row).
const std::string save_snapshot_sql =
    "INSERT INTO snapshots AS s (stream_id, snapshot_type, schema_version, stream_version, state)"
    " VALUES ($1, $2, $3::integer, $4::bigint, $5::bytea)"
    " ON CONFLICT (stream_id, snapshot_type, schema_version) DO UPDATE"
    "   SET stream_version = EXCLUDED.stream_version, state = EXCLUDED.state, saved_at = now()"
    "   WHERE s.stream_version < EXCLUDED.stream_version"
    " RETURNING s.stream_version";

// Schema names are the one identifier the store puts into SQL text (once,
// quoted, in CREATE SCHEMA) and into the session's search_path.
bool valid_schema_name(const std::string& name) {
  static const std::regex pattern("^[a-z_][a-z0-9_]{0,62}$");
  return std::regex_match(name, pattern);
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string server_message(PGconn* conn, const PGresult* result) {
  return trim(result ? PQresultErrorMessage(result) : PQerrorMessage(conn));
}

// Every statement the store runs is a key lookup or an ordered range with a
// LIMIT, where a bitmap scan (which collects every match, then sorts) is
// never the plan to take; the category read needs it off (read_category_sql).
Status plan_settings(PGconn* conn, std::string_view where) {
  pg::ResultPtr result(PQexec(conn, "SET enable_bitmapscan = off"));
  if (PQresultStatus(result.get()) == PGRES_COMMAND_OK) return {};
  return Error{pg::connection_lost(conn, result.get()) ? ErrorCode::unavailable : ErrorCode::failed,
               "cannot set up a session " + std::string(where) + ": " + server_message(conn, result.get())};
}

// The statements of a standby's pool: reads of the log only.
Status prepare_reads(PGconn* conn) {
  if (auto status = plan_settings(conn, "on the replica"); !status) return status;
  return pg::prepare_all(conn, {{read_all_statement, read_all_sql}, {backlog_statement, backlog_sql}},
                         "on the replica");
}

Status prepare_statements(PGconn* conn, bool notify) {
  if (auto status = plan_settings(conn, "on the primary"); !status) return status;
  std::vector<pg::StatementText> statements;
  for (const bool known : {false, true})
    for (const bool creates : {false, true}) {
      for (const bool several : {false, true})
        statements.push_back({pg::append_stream_statement(several, creates, known),
                              pg::append_stream_sql(several, creates, notify, known)});
      for (const bool recorded : {false, true})
        statements.push_back({pg::append_streams_statement(false, creates, recorded, known),
                              pg::append_streams_sql(false, creates, recorded, known)});
    }
  // One read-only form each way: it creates streams as needed and always reads versions.
  for (const bool recorded : {false, true})
    statements.push_back({pg::append_streams_statement(true, true, recorded, false),
                          pg::append_streams_sql(true, true, recorded, false)});
  statements.push_back({pg::lock_streams_statement, pg::lock_streams_sql()});
  for (int events = 2; events <= pg::values_max_events; ++events)
    for (int streams = 2; streams <= events; ++streams)
      statements.push_back({pg::append_values_statement(streams, events), pg::append_values_sql(streams, events)});
  for (int events = 2; events <= pg::values_one_max_events; ++events)
    statements.push_back({pg::append_values_statement(0, events), pg::append_values_sql(0, events)});
  for (const auto& [name, sql] : {std::pair<const char*, const std::string*>{load_record_statement, &load_record_sql},
                                  {expire_records_statement, &expire_records_sql},
                                  {append_batch_statement, &append_batch_sql},
                                  {read_stream_statement, &read_stream_sql},
                                  {read_all_statement, &read_all_sql},
                                  {stream_version_statement, &stream_version_sql},
                                  {list_streams_statement, &list_streams_sql},
                                  {totals_statement, &totals_sql},
                                  {backlog_statement, &backlog_sql},
                                  {load_snapshot_statement, &load_snapshot_sql},
                                  {save_snapshot_statement, &save_snapshot_sql}})
    statements.push_back({name, *sql});
  return pg::prepare_all(conn, statements, "on the primary");
}

std::string_view field(const PGresult* result, int row, int column) {
  return {PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column))};
}

std::optional<EventId> uuid_field(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column) || PQgetlength(result, row, column) != 16) return std::nullopt;
  EventId::Bytes bytes;
  std::memcpy(bytes.data(), PQgetvalue(result, row, column), 16);
  return EventId(bytes);
}

std::uint64_t u64_field(const PGresult* result, int row, int column) {
  return pg::get_u64(PQgetvalue(result, row, column));
}

Result<std::vector<StoredEvent>> decode_events(const PGresult* result) {
  const int rows = PQntuples(result);
  std::vector<StoredEvent> events;
  events.reserve(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    auto stream = StreamId::try_new(field(result, r, c_stream));
    if (!stream) return std::move(stream).error();
    StoredEvent event{uuid_field(result, r, c_id).value_or(EventId{}),
                      std::move(stream).value(),
                      StreamVersion{u64_field(result, r, c_version)},
                      GlobalPosition{u64_field(result, r, c_tx), u64_field(result, r, c_position)},
                      std::string(field(result, r, c_type)),
                      {},
                      {},
                      pg::timestamp_from_pg(static_cast<std::int64_t>(u64_field(result, r, c_recorded_at)))};
    const auto payload = field(result, r, c_payload);
    event.payload.assign(payload.begin(), payload.end());
    event.metadata.correlation_id = uuid_field(result, r, c_correlation);
    event.metadata.causation_id = uuid_field(result, r, c_causation);
    if (!PQgetisnull(result, r, c_user)) event.metadata.user_id = std::string(field(result, r, c_user));
    if (!PQgetisnull(result, r, c_metadata)) {
      auto json = field(result, r, c_metadata);
      if (!json.empty()) json.remove_prefix(1);  // jsonb's binary form: a version byte, then text
      if (!pg::decode_extra(json, event.metadata.extra))
        return Error{ErrorCode::failed, "event " + event.id.str() + " has malformed metadata"};
    }
    events.push_back(std::move(event));
  }
  return events;
}

void add_text_array_null_if_empty(pg::Params& params, const std::vector<std::string>& values) {
  if (values.empty()) return params.add_null();
  pg::ArrayWriter array(params.begin(), pg::oid_text);
  for (const auto& v : values) array.element(v);
  array.finish();
  params.end();
}

Error conflict_error(const StreamWrite& write, std::uint64_t actual) {
  return Error{ErrorCode::conflict, "stream '" + write.stream.str() + "' is at version " +
                                        std::to_string(actual) + ", expected " +
                                        to_string(write.expected)};
}

// The columns every event carries after its id, stream and offset, in the
// order the append statements and eventcore_append_batch take them: type,
// payload, correlation id, causation id, user id, metadata. `per_event`
// writes one array parameter from a function of each event.
template <class PerEvent>
void add_event_columns(PerEvent& per_event, std::string& json) {
  per_event(pg::oid_text, [](auto& a, auto, auto, const EventToWrite& ev) { a.element(ev.type); });
  per_event(pg::oid_bytea, [](auto& a, auto, auto, const EventToWrite& ev) {
    a.element(ev.payload.data(), ev.payload.size());
  });
  per_event(pg::oid_uuid, [](auto& a, auto, auto, const EventToWrite& ev) {
    if (ev.metadata.correlation_id) a.element(ev.metadata.correlation_id->bytes().data(), 16);
    else a.null_element();
  });
  per_event(pg::oid_uuid, [](auto& a, auto, auto, const EventToWrite& ev) {
    if (ev.metadata.causation_id) a.element(ev.metadata.causation_id->bytes().data(), 16);
    else a.null_element();
  });
  per_event(pg::oid_text, [](auto& a, auto, auto, const EventToWrite& ev) {
    if (ev.metadata.user_id) a.element(*ev.metadata.user_id);
    else a.null_element();
  });
  per_event(pg::oid_jsonb, [&](auto& a, auto, auto, const EventToWrite& ev) {
    if (ev.metadata.extra.empty()) return a.null_element();
    json.assign(1, '\x01');  // jsonb binary format version
    json += pg::encode_extra(ev.metadata.extra);
    a.element(json);
  });
}

// An event's columns after its stream and version as scalar parameters
// (type, payload, correlation id, causation id, user id, metadata).
void add_event_scalars(pg::Params& params, const EventToWrite& event, std::string& json) {
  params.add_bytes(event.type);
  params.add_bytes({reinterpret_cast<const char*>(event.payload.data()), event.payload.size()});
  for (const auto& id : {event.metadata.correlation_id, event.metadata.causation_id}) {
    if (id) params.add_bytes({reinterpret_cast<const char*>(id->bytes().data()), 16});
    else params.add_null();
  }
  if (event.metadata.user_id) params.add_bytes(*event.metadata.user_id);
  else params.add_null();
  if (event.metadata.extra.empty()) {
    params.add_null();
  } else {
    json.assign(1, '\x01');  // jsonb binary format version
    json += pg::encode_extra(event.metadata.extra);
    params.add_bytes(json);
  }
}

// An event of a values-form append (pg::append_values_sql), at its version.
struct ValuesRow {
  const StreamId* stream;
  std::uint64_t version;
  const EventToWrite* event;
};

// The values form's parameters: the stream ids in lock order, the rows in
// the request's order, the channel.
void values_params(pg::Params& params, const std::vector<const StreamId*>& locked, const std::vector<ValuesRow>& rows,
                   const std::string* channel, std::string& json) {
  params.clear();
  for (const StreamId* stream : locked) params.add_bytes(stream->str());
  for (const ValuesRow& row : rows) {
    params.add_bytes({reinterpret_cast<const char*>(row.event->id.bytes().data()), 16});
    params.add_bytes(row.stream->str());
    params.add_int8(static_cast<std::int64_t>(row.version));
    add_event_scalars(params, *row.event, json);
  }
  if (channel) params.add_bytes(*channel);
  else params.add_null();
  params.finish();
}

// duplicate_event from a unique violation's DETAIL, "Key (event_id)=(<id>) already exists."
Error duplicate_error(const char* detail) {
  std::string id = "an event id of this append";
  if (detail) {
    const std::string_view d = detail;
    const auto open = d.find("=(");
    const auto close = d.find(')', open == std::string_view::npos ? 0 : open + 2);
    if (open != std::string_view::npos && close != std::string_view::npos)
      id = "event " + std::string(d.substr(open + 2, close - open - 2));
  }
  return Error{ErrorCode::duplicate_event, id + " already exists in the store"};
}

// The kinds of check the append statements know (postgres_append_sql.hpp).
int kind_code(const ExpectedVersion& expected) {
  switch (expected.kind()) {
    case ExpectedVersion::Kind::exact: return expected.version().value == 0 ? 1 : 0;
    case ExpectedVersion::Kind::no_stream: return 1;
    case ExpectedVersion::Kind::stream_exists: return 2;
    case ExpectedVersion::Kind::any: return 3;
  }
  return 3;
}

// Scratch space for append, reused by each thread to spare allocations.
struct AppendScratch {
  std::vector<std::size_t> order;        // request indexes of the streams, sorted by id
  std::vector<std::size_t> rank;         // per request stream: its index in `order`
  std::vector<std::int64_t> versions;
  std::vector<std::int64_t> positions;
  pg::Params params;
  std::string json;
};

// The error of a failed append statement, in the store's terms. `order`
// maps the statement's stream indexes to the request's.
Error append_error(PGconn* conn, const PGresult* result, const std::vector<StreamWrite>& streams,
                   const std::vector<std::size_t>& order, const std::string& target,
                   const std::string* key = nullptr) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string_view sqlstate = state ? state : "";
  if (sqlstate == "EC409") {  // raised by eventcore_conflict, DETAIL '<stream index> <actual>'
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    std::size_t index = 0;
    unsigned long long actual = 0;
    if (detail && std::sscanf(detail, "%zu %llu", &index, &actual) == 2 && index < order.size())
      return conflict_error(streams[order[index]], actual);
    return Error{ErrorCode::conflict, server_message(conn, result)};
  }
  if (sqlstate == "23505") {
    const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
    if (constraint && std::string_view(constraint) == "events_event_id_key") {
      return duplicate_error(PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL));
    }
    // Only after the locked form (run_append): a writer that took no lock
    // wrote the same version first.
    if (constraint && std::string_view(constraint) == "events_pkey")
      return Error{ErrorCode::conflict, "another writer added events to a stream of this append at the same version: " +
                                            std::string(PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)
                                                            ? PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)
                                                            : "")};
    if (constraint && std::string_view(constraint) == "command_records_pkey" && key)
      return Error{ErrorCode::duplicate_key, "idempotency key '" + *key + "' already has a command record"};
  }
  if (pg::connection_lost(conn, result))
    return Error{ErrorCode::unavailable,
                 "lost the connection to PostgreSQL at " + target +
                     " during append; the outcome is unknown (retry with the same event ids): " +
                     server_message(conn, result)};
  if (sqlstate == "40P01" || sqlstate == "40001")  // rolled back whole: safe to retry
    return Error{ErrorCode::unavailable, "append rolled back, retry: " + server_message(conn, result)};
  return Error{ErrorCode::failed, "append: " + server_message(conn, result)};
}

// An append's result from a row per event in the request's order
// (position, stream version, transaction id): a stream's new version is its
// last event's. False when the rows do not fit the request.
bool read_event_rows(const PGresult* r, const std::vector<StreamWrite>& streams, AppendResult& out) {
  std::size_t events = 0;
  for (const auto& write : streams) events += write.events.size();
  if (PQntuples(r) != static_cast<int>(events) || PQnfields(r) != 3) return false;
  out.streams.clear();
  out.positions.clear();
  out.positions.reserve(events);
  int row = 0;
  for (const auto& write : streams) {
    std::uint64_t version = 0;
    for (std::size_t e = 0; e < write.events.size(); ++e, ++row) {
      for (int column = 0; column < 3; ++column)
        if (PQgetlength(r, row, column) != 8) return false;
      out.positions.push_back(GlobalPosition{u64_field(r, row, 2), u64_field(r, row, 0)});
      version = u64_field(r, row, 1);
    }
    out.streams.push_back({write.stream, StreamVersion{version}});
  }
  return true;
}

// Whether an append statement read a stream's version from before a commit
// it then waited for (postgres_append_sql.hpp): the key refused its event.
bool stale_version(const PGresult* result) {
  if (PQresultStatus(result) != PGRES_FATAL_ERROR) return false;
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  return state && constraint && std::string_view(state) == "23505" && std::string_view(constraint) == "events_pkey";
}

// The streams an append locks, for lock_streams_statement: ids in the
// order the append statement locks them, and event counts (0: read-only).
void lock_params(pg::Params& params, const std::vector<StreamWrite>& streams, const std::vector<std::size_t>& order) {
  params.clear();
  {
    pg::ArrayWriter ids(params.begin(), pg::oid_text);
    for (std::size_t i : order) ids.element(streams[i].stream.str());
    ids.finish();
    params.end();
  }
  {
    pg::ArrayWriter counts(params.begin(), pg::oid_int4);
    for (std::size_t i : order) counts.element_int4(static_cast<std::int32_t>(streams[i].events.size()));
    counts.finish();
    params.end();
  }
  params.finish();
}

// Runs an append statement: as it is, unless `lock_first`; then, or when
// the key refused its events (a stale or known version), `locked_statement`
// (the form that reads versions; same parameters) in a transaction that
// takes the locks of `streams` (in `order`) first, so that the statement's
// snapshot follows them. The statement's result when it and the commit
// succeeded; otherwise the result that failed.
pg::ResultPtr run_append(PGconn* conn, const char* statement, const char* locked_statement, const pg::Params& params,
                         const std::vector<StreamWrite>& streams, const std::vector<std::size_t>& order,
                         bool lock_first) {
  auto exec = [&](const char* name, const pg::Params& p) {
    return pg::ResultPtr(PQexecPrepared(conn, name, p.count(), p.values(), p.lengths(), p.formats(), 1));
  };
  if (!lock_first) {
    pg::ResultPtr result = exec(statement, params);
    if (!stale_version(result.get())) return result;
  }
  auto failed = [&](pg::ResultPtr result) {
    pg::ResultPtr(PQexec(conn, "ROLLBACK"));  // (if this fails too, the pool drops the connection)
    return result;
  };
  thread_local pg::Params locks;
  lock_params(locks, streams, order);
  pg::ResultPtr begin(PQexec(conn, "BEGIN"));
  if (PQresultStatus(begin.get()) != PGRES_COMMAND_OK) return begin;
  pg::ResultPtr locked = exec(pg::lock_streams_statement, locks);
  if (PQresultStatus(locked.get()) != PGRES_TUPLES_OK) return failed(std::move(locked));
  pg::ResultPtr result = exec(locked_statement, params);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) return failed(std::move(result));
  pg::ResultPtr commit(PQexec(conn, "COMMIT"));
  if (PQresultStatus(commit.get()) != PGRES_COMMAND_OK) return commit;
  return result;
}

// A stream of a group commit (append_batch): each distinct stream once,
// sorted by id, the lock order all writers share.
struct GroupLock {
  const StreamId* stream;
  bool write;  // some write adds events to it: the exclusive lock
};

// The index of `stream` in `locks` (0-based).
std::size_t lock_of(const std::vector<GroupLock>& locks, const StreamId& stream) {
  auto it = std::lower_bound(locks.begin(), locks.end(), stream,
                             [](const GroupLock& l, const StreamId& s) { return *l.stream < s; });
  return static_cast<std::size_t>(it - locks.begin());
}

// The group's stream ids, in lock order: the first parameter of both forms.
void add_lock_ids(pg::Params& params, const std::vector<GroupLock>& locks) {
  pg::ArrayWriter a(params.begin(), pg::oid_text);
  for (const auto& l : locks) a.element(l.stream->str());
  a.finish();
  params.end();
}

// The known form's parameters for a group commit (append_streams_sql,
// known): each stream once from `head`, its version to number on from (a
// check kind 0, or 1 at 0: no stream yet), and the events in `rows`, each
// by its stream's index and its offset from that version.
void known_group_params(pg::Params& params, const std::vector<GroupLock>& locks,
                        const std::vector<std::int64_t>& head, const std::vector<ValuesRow>& rows,
                        const std::string* channel, std::string& json) {
  thread_local std::vector<std::int32_t> row_lock, counts;
  row_lock.clear();
  counts.assign(locks.size(), 0);
  for (const ValuesRow& row : rows) {
    row_lock.push_back(static_cast<std::int32_t>(lock_of(locks, *row.stream)));
    ++counts[static_cast<std::size_t>(row_lock.back())];
  }
  params.clear();
  add_lock_ids(params, locks);
  auto per_lock = [&](unsigned int oid, auto&& put) {
    pg::ArrayWriter a(params.begin(), oid);
    for (std::size_t l = 0; l < locks.size(); ++l) put(a, l);
    a.finish();
    params.end();
  };
  per_lock(pg::oid_int4, [&](auto& a, std::size_t l) { a.element_int4(head[l] == 0 ? 1 : 0); });
  per_lock(pg::oid_int8, [&](auto& a, std::size_t l) { a.element_int8(head[l]); });
  per_lock(pg::oid_int4, [&](auto& a, std::size_t l) { a.element_int4(counts[l]); });
  auto per_event = [&](unsigned int oid, auto&& put) {
    pg::ArrayWriter a(params.begin(), oid);
    for (std::size_t k = 0; k < rows.size(); ++k) put(a, k, 0, *rows[k].event);
    a.finish();
    params.end();
  };
  per_event(pg::oid_uuid, [](auto& a, auto, auto, const EventToWrite& ev) { a.element(ev.id.bytes().data(), 16); });
  per_event(pg::oid_int4, [&](auto& a, std::size_t k, auto, const auto&) { a.element_int4(row_lock[k] + 1); });
  per_event(pg::oid_int4, [&](auto& a, std::size_t k, auto, const auto&) {
    a.element_int4(static_cast<std::int32_t>(static_cast<std::int64_t>(rows[k].version) -
                                             head[static_cast<std::size_t>(row_lock[k])]));
  });
  add_event_columns(per_event, json);
  if (channel) params.add_bytes(*channel);
  else params.add_null();
  params.finish();
}

}  // namespace

struct PostgresStore::Impl {
  PostgresStoreConfig config;
  std::unique_ptr<pg::ConnectionPool> pool;
  std::unique_ptr<pg::ConnectionPool> replica;  // replica_conninfo's: read_all and backlog
  std::unique_ptr<pg::Notifier> notifier;  // NotifyMode::coalesced only
  std::shared_ptr<detail::AppendWatchers> watchers = std::make_shared<detail::AppendWatchers>();
  pg::KnownVersions known;  // forgotten whenever the pool connects
  std::mutex listener_mutex;
  std::unique_ptr<pg::Listener> listener;  // from the first watch_appends on

  // After an append that wrote something: wake listeners (coalesced mode).
  void appended() noexcept {
    if (notifier) notifier->signal();
  }

  Result<AppendResult> append(const AppendRequest& request);
  void append_group(const std::vector<AppendRequest>& requests, const std::vector<std::size_t>& valid,
                    std::vector<std::optional<Result<AppendResult>>>& answers);
  bool append_group_known(const std::vector<AppendRequest>& requests, const std::vector<std::size_t>& valid,
                          const std::vector<GroupLock>& locks,
                          std::vector<std::optional<Result<AppendResult>>>& answers);
  Result<pg::ResultPtr> run_group(const char* statement, const pg::Params& params,
                                  bool (*fall_back)(const PGresult*),
                                  std::optional<std::uint64_t> seen_at = std::nullopt);

  // One stream: append_stream_sql, one round trip like the rest; several
  // events at a version the store knows in the values form.
  Result<AppendResult> append_stream(const AppendRequest& request, AppendScratch& scratch) {
    const StreamWrite& write = request.streams[0];
    const bool several = write.events.size() > 1;
    bool lock_first = false;
    scratch.order.assign(1, 0);
    if (several && write.events.size() <= static_cast<std::size_t>(pg::values_one_max_events) &&
        kind_code(write.expected) == 0) {
      const std::uint64_t seen_at = known.generation();
      if (knows(write)) {
        if (auto out = append_values(request, scratch, write.events.size(), seen_at)) return std::move(*out);
        lock_first = true;  // refused by the key, or forgotten: the locked form reads the version
      }
    }
    auto& params = scratch.params;
    params.clear();
    params.add_bytes(write.stream.str());
    // The range the stream's version must be in.
    const std::int64_t expected = static_cast<std::int64_t>(write.expected.version().value);
    const int kind = kind_code(write.expected);
    switch (kind) {
      case 0: params.add_int8(expected); params.add_int8(expected); break;
      case 1: params.add_int8(0); params.add_int8(0); break;
      case 2: params.add_int8(1); params.add_int8(max_version); break;
      default: params.add_int8(0); params.add_int8(max_version);
    }
    const bool creates = kind == 1 || kind == 3;
    if (several) {
      auto per_event = [&](unsigned int oid, auto&& column) {
        pg::ArrayWriter array(params.begin(), oid);
        for (const auto& event : write.events) column(array, 0, 0, event);
        array.finish();
        params.end();
      };
      per_event(pg::oid_uuid, [](auto& a, auto, auto, const EventToWrite& ev) { a.element(ev.id.bytes().data(), 16); });
      add_event_columns(per_event, scratch.json);
    } else {
      const EventToWrite& event = write.events[0];
      params.add_bytes({reinterpret_cast<const char*>(event.id.bytes().data()), 16});
      add_event_scalars(params, event, scratch.json);
    }
    if (config.notify == NotifyMode::per_append) params.add_bytes(config.notify_channel);
    params.finish();

    const std::uint64_t generation = known.generation();
    auto lease = pool->acquire();  // (a new connection forgets the known versions)
    if (!lease) return std::move(lease).error();
    PGconn* conn = lease->get();
    const char* locked = pg::append_stream_statement(several, creates, false);
    const char* statement = pg::append_stream_statement(several, creates, !lock_first && knows(write));
    pg::ResultPtr result = run_append(conn, statement, locked, params, request.streams, scratch.order, lock_first);
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
      return append_error(conn, result.get(), request.streams, scratch.order, pool->settings().target);
    AppendResult out;
    if (!read_event_rows(result.get(), request.streams, out))
      return Error{ErrorCode::failed, std::string("append: unexpected result from ") + statement};
    learn(out, generation);
    return out;
  }

  // An append in the values form (pg::append_values_sql): every stream
  // written, each expecting a version the store knows it reached, at most
  // values_max_events events (values_one_max_events to one stream, which
  // takes no lock), no command record. Empty when the events' key refused
  // an event (a stream moved on), or when what the store saw was forgotten
  // since `seen_at`: the caller then appends in the locked form, which reads
  // the versions and names the one it found.
  std::optional<Result<AppendResult>> append_values(const AppendRequest& request, AppendScratch& scratch,
                                                    std::size_t event_count, std::uint64_t seen_at) {
    const auto& streams = request.streams;
    thread_local std::vector<const StreamId*> locked;
    thread_local std::vector<ValuesRow> rows;
    locked.clear();
    if (streams.size() > 1)
      for (std::size_t i : scratch.order) locked.push_back(&streams[i].stream);
    rows.clear();
    for (const auto& write : streams)
      for (std::size_t e = 0; e < write.events.size(); ++e)
        rows.push_back({&write.stream, write.expected.version().value + e + 1, &write.events[e]});
    values_params(scratch.params, locked, rows,
                  config.notify == NotifyMode::per_append ? &config.notify_channel : nullptr, scratch.json);
    const std::string statement =
        pg::append_values_statement(static_cast<int>(locked.size()), static_cast<int>(event_count));
    auto lease = pool->acquire();  // (a new connection forgets the known versions)
    if (!lease) return std::move(lease).error();
    if (!still_known(seen_at)) return std::nullopt;
    PGconn* conn = lease->get();
    const auto& params = scratch.params;
    pg::ResultPtr result(PQexecPrepared(conn, statement.c_str(), params.count(), params.values(), params.lengths(),
                                        params.formats(), 1));
    if (stale_version(result.get())) return std::nullopt;
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
      return append_error(conn, result.get(), streams, scratch.order, pool->settings().target);
    AppendResult out;
    if (!read_event_rows(result.get(), streams, out))
      return Error{ErrorCode::failed, "append: unexpected result from " + statement};
    learn(out, seen_at);
    return out;
  }

  // Whether a write may skip reading its stream's version: it expects no
  // stream, or a version the stream is known to have reached.
  bool knows(const StreamWrite& write) const {
    switch (kind_code(write.expected)) {
      case 1: return true;
      case 0: return known.reached(write.stream.str(), write.expected.version().value);
      default: return false;
    }
  }

  // Whether what the store saw before leasing a connection still holds: no
  // connection was opened since `seen_at` (a generation), which would have
  // forgotten it. A live lease was opened after the server's last loss of
  // events, so if that opening came before the look, the look was current.
  bool still_known(std::uint64_t seen_at) const { return known.generation() == seen_at; }

  // The versions an append reached, read on a connection leased at `generation`.
  void learn(const AppendResult& result, std::uint64_t generation) {
    for (const auto& s : result.streams) known.note(s.stream.str(), s.version.value, generation);
  }

  // A statement by the name it was prepared under on every connection, or
  // by its text: then it is planned on each call, with the call's values.
  struct Statement {
    Statement(const char* prepared) : name(prepared) {}  // NOLINT: a name reads as a statement
    explicit Statement(const std::string& planned_per_call) : text(&planned_per_call) {}
    const char* name = nullptr;
    const std::string* text = nullptr;
  };

  // Runs a statement that is safe to repeat (a read, or the idempotent
  // expiry DELETE); one that fails on a connection that died while idle (a
  // server restart) is retried once on a new connection.
  // `from_replica`: on the standby when there is one.
  Result<pg::ResultPtr> read(Statement statement, pg::Params& params, std::string_view what,
                             bool from_replica = false) {
    params.finish();
    pg::ConnectionPool* const pool = from_replica && replica ? replica.get() : this->pool.get();
    for (int attempt = 0;; ++attempt) {
      auto lease = pool->acquire();
      if (!lease) return std::move(lease).error();
      PGconn* conn = lease->get();
      pg::ResultPtr result(statement.text ? PQexecParams(conn, statement.text->c_str(), params.count(), nullptr,
                                                         params.values(), params.lengths(), params.formats(), 1)
                                          : PQexecPrepared(conn, statement.name, params.count(), params.values(),
                                                           params.lengths(), params.formats(), 1));
      if (PQresultStatus(result.get()) == PGRES_TUPLES_OK) return result;
      if (pg::connection_lost(conn, result.get())) {
        if (attempt == 0 && !lease->fresh()) continue;
        return Error{ErrorCode::unavailable, std::string(what) + ": lost the connection to PostgreSQL at " +
                                                 pool->settings().target + ": " +
                                                 server_message(conn, result.get())};
      }
      return Error{ErrorCode::failed, std::string(what) + ": " + server_message(conn, result.get())};
    }
  }
};

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresStore::~PostgresStore() = default;

const PostgresStoreConfig& PostgresStore::config() const noexcept { return impl_->config; }

std::uint64_t PostgresStore::notifications_sent() const noexcept {
  return impl_->notifier ? impl_->notifier->sent() : 0;
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(PostgresStoreConfig config) {
  if (!valid_schema_name(config.schema))
    return Error{ErrorCode::invalid_argument,
                 "schema name '" + config.schema +
                     "' is not a plain identifier (lower-case letters, digits and _, at most 63)"};
  if (config.notify != NotifyMode::none &&
      (config.notify_channel.empty() || config.notify_channel.size() > 63))
    return Error{ErrorCode::invalid_argument,
                 "notify channel '" + config.notify_channel + "' must be 1 to 63 bytes"};
  if (config.pool_size == 0)
    return Error{ErrorCode::invalid_argument, "pool_size must be at least 1"};
  if (config.listen_keepalive.count() <= 0)
    return Error{ErrorCode::invalid_argument, "listen_keepalive must be positive"};
  if (config.notify_interval.count() < 0)
    return Error{ErrorCode::invalid_argument, "notify_interval must not be negative"};
  auto settings = pg::make_connection_settings(config);
  if (!settings) return std::move(settings).error();
  // The notifier connects like the pool (same keepalives and timeouts) under a name of its own.
  auto notifier_settings = pg::make_connection_settings(config, "eventcore-notifier");
  if (!notifier_settings) return std::move(notifier_settings).error();

  auto impl = std::make_unique<Impl>();
  const bool notify = config.notify == NotifyMode::per_append;
  impl->pool = std::make_unique<pg::ConnectionPool>(
      std::move(settings).value(), config.pool_size,
      [notify, known = &impl->known](PGconn* conn) {
        // A new connection may reach a server that lost events this process
        // saw (postgres_known_versions.hpp).
        known->forget_all();
        return prepare_statements(conn, notify);
      });
  impl->config = std::move(config);
  {
    auto lease = impl->pool->acquire(/*prepare=*/false);
    if (!lease) return std::move(lease).error();
    if (auto status = pg::apply_migrations(lease->get(), impl->config.schema); !status)
      return status.error();
  }
  if (!impl->config.replica_conninfo.empty()) {
    if (impl->config.replica_pool_size == 0 || impl->config.replica_wait.count() < 0)
      return Error{ErrorCode::invalid_argument, "replica_pool_size must be at least 1 and replica_wait not negative"};
    auto replica_config = impl->config;
    replica_config.conninfo = impl->config.replica_conninfo;
    auto replica_settings = pg::make_connection_settings(replica_config, "eventcore-replica-reader");
    if (!replica_settings) return std::move(replica_settings).error();
    // Connects on the first read: the standby may still be replaying the
    // schema the primary just migrated.
    impl->replica = std::make_unique<pg::ConnectionPool>(std::move(replica_settings).value(),
                                                         impl->config.replica_pool_size,
                                                         [](PGconn* conn) { return prepare_reads(conn); });
  }
  if (impl->config.notify == NotifyMode::coalesced)
    impl->notifier = std::make_unique<pg::Notifier>(std::move(notifier_settings).value(),
                                                    impl->config.notify_channel, impl->config.notify_interval);
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(impl)));
}

Result<AppendResult> PostgresStore::append(const AppendRequest& request) {
  auto result = impl_->append(request);
  if (result) impl_->appended();
  return result;
}

Result<AppendResult> PostgresStore::Impl::append(const AppendRequest& request) {
  if (auto status = validate_append(request, config.limits); !status) return status.error();
  thread_local AppendScratch scratch;
  if (request.streams.size() == 1 && !request.streams[0].events.empty() && !request.record)
    return append_stream(request, scratch);
  const auto& streams = request.streams;
  const std::size_t n = streams.size();

  // Streams go to the database sorted by id: every append locks stream rows
  // in the same order, so concurrent appends cannot deadlock.
  auto& order = scratch.order;
  order.resize(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (n > 1)
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return streams[a].stream < streams[b].stream; });
  // What the store saw counts only if no connection was opened (which
  // forgets it) between this look and the lease: see `still_known`.
  const std::uint64_t seen_at = known.generation();
  std::size_t event_count = 0;
  bool creates = false, read_only = false;
  for (const auto& write : streams) {
    event_count += write.events.size();
    const int kind = kind_code(write.expected);
    creates = creates || ((kind == 1 || kind == 3) && !write.events.empty());
    read_only = read_only || write.events.empty();
  }
  const bool all_known = !read_only && std::all_of(streams.begin(), streams.end(),
                                                    [&](const StreamWrite& write) { return knows(write); });

  // A read-only participant's check writes nothing the key could refuse:
  // its lock comes before the statement's snapshot.
  bool lock_first = read_only;
  if (all_known && !creates && !request.record && event_count <= pg::values_max_events) {
    // Existing streams at known versions, a few events: the values form.
    if (auto out = append_values(request, scratch, event_count, seen_at)) return std::move(*out);
    lock_first = true;  // refused by the key, or forgotten: the locked form reads the versions
  }

  auto& params = scratch.params;
  params.clear();
  {
    pg::ArrayWriter ids(params.begin(), pg::oid_text);
    for (std::size_t i : order) ids.element(streams[i].stream.str());
    ids.finish();
    params.end();
  }
  {
    pg::ArrayWriter kinds(params.begin(), pg::oid_int4);
    for (std::size_t i : order) kinds.element_int4(kind_code(streams[i].expected));
    kinds.finish();
    params.end();
  }
  {
    pg::ArrayWriter expected(params.begin(), pg::oid_int8);
    for (std::size_t i : order)
      expected.element_int8(static_cast<std::int64_t>(streams[i].expected.version().value));
    expected.finish();
    params.end();
  }
  {
    pg::ArrayWriter counts(params.begin(), pg::oid_int4);
    for (std::size_t i : order) counts.element_int4(static_cast<std::int32_t>(streams[i].events.size()));
    counts.finish();
    params.end();
  }
  // Per-event arrays, in the order of the request: positions are drawn in
  // that order. Each event names its stream by its index in the sorted arrays.
  auto& rank = scratch.rank;
  rank.resize(n);
  for (std::size_t j = 0; j < n; ++j) rank[order[j]] = j;
  auto per_event = [&](unsigned int oid, auto&& write) {
    pg::ArrayWriter array(params.begin(), oid);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& events = streams[i].events;
      for (std::size_t e = 0; e < events.size(); ++e) write(array, rank[i], e, events[e]);
    }
    array.finish();
    params.end();
  };
  per_event(pg::oid_uuid, [](auto& a, auto, auto, const EventToWrite& ev) { a.element(ev.id.bytes().data(), 16); });
  per_event(pg::oid_int4, [](auto& a, std::size_t j, auto, const auto&) { a.element_int4(static_cast<std::int32_t>(j + 1)); });
  per_event(pg::oid_int4, [](auto& a, auto, std::size_t e, const auto&) { a.element_int4(static_cast<std::int32_t>(e + 1)); });
  add_event_columns(per_event, scratch.json);
  if (config.notify == NotifyMode::per_append) params.add_bytes(config.notify_channel);
  else params.add_null();
  if (request.record) {
    params.add_bytes(request.record->key);
    params.add_bytes({reinterpret_cast<const char*>(request.record->data.data()), request.record->data.size()});
  }
  params.finish();

  auto lease = pool->acquire();  // (a new connection forgets the known versions)
  if (!lease) return std::move(lease).error();
  PGconn* conn = lease->get();
  const bool recorded = request.record.has_value();
  const char* locked = pg::append_streams_statement(read_only, creates, recorded, false);
  const char* statement = pg::append_streams_statement(read_only, creates, recorded, all_known && still_known(seen_at));
  pg::ResultPtr result = run_append(conn, statement, locked, params, streams, order, lock_first);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
    return append_error(conn, result.get(), streams, order, pool->settings().target,
                        request.record ? &request.record->key : nullptr);

  const PGresult* r = result.get();
  AppendResult out;
  if (!read_only) {
    if (!read_event_rows(r, streams, out))
      return Error{ErrorCode::failed, std::string("append: unexpected result from ") + statement};
    learn(out, seen_at);
    return out;
  }
  auto& versions = scratch.versions;
  auto& positions = scratch.positions;
  if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) != 8 ||
      !pg::read_int8_array(PQgetvalue(r, 0, 1), PQgetlength(r, 0, 1), versions) ||
      !pg::read_int8_array(PQgetvalue(r, 0, 2), PQgetlength(r, 0, 2), positions) ||
      versions.size() != n || positions.size() != event_count)
    return Error{ErrorCode::failed, std::string("append: unexpected result from ") + statement};
  const std::uint64_t transaction = u64_field(r, 0, 0);
  out.streams.resize(n, AppendResult::StreamResult{streams[0].stream, {}});
  out.positions.resize(event_count);
  for (std::size_t j = 0; j < n; ++j) {
    const std::size_t i = order[j];
    out.streams[i] = {streams[i].stream, StreamVersion{static_cast<std::uint64_t>(versions[j])}};
  }
  for (std::size_t k = 0; k < event_count; ++k)
    out.positions[k] = GlobalPosition{transaction, static_cast<std::uint64_t>(positions[k])};
  learn(out, seen_at);
  return out;
}

std::vector<Result<AppendResult>> PostgresStore::append_batch(const std::vector<AppendRequest>& requests) {
  std::vector<std::optional<Result<AppendResult>>> answers(requests.size());
  // Runs of valid requests without a command record go to the database as
  // one group; a request with one goes alone, in its place in the order
  // (its key's unique check must fail that request only).
  std::vector<std::size_t> group;
  auto flush = [&] {
    if (group.size() == 1) answers[group[0]].emplace(impl_->append(requests[group[0]]));
    else if (!group.empty()) impl_->append_group(requests, group, answers);
    group.clear();
  };
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (auto status = validate_append(requests[i], impl_->config.limits); !status) {
      answers[i].emplace(status.error());
    } else if (requests[i].record) {
      flush();
      answers[i].emplace(impl_->append(requests[i]));
    } else {
      group.push_back(i);
    }
  }
  flush();
  std::vector<Result<AppendResult>> out;
  out.reserve(requests.size());
  bool wrote = false;
  for (auto& a : answers) {
    wrote = wrote || a->ok();
    out.push_back(std::move(*a));
  }
  if (wrote) impl_->appended();
  return out;
}

// Appends the requests `valid` (two or more, validated, no command record)
// in one round trip: as one append of a known or the values form when the
// store can check them itself (append_group_known), else with one call of
// eventcore_append_batch.
void PostgresStore::Impl::append_group(const std::vector<AppendRequest>& requests, const std::vector<std::size_t>& valid,
                                       std::vector<std::optional<Result<AppendResult>>>& answers) {
  // Every distinct stream of the batch, sorted like append sorts the streams
  // of one request: the lock order all writers share (no deadlock).
  std::vector<GroupLock> locks;
  for (std::size_t i : valid)
    for (const auto& write : requests[i].streams) locks.push_back({&write.stream, !write.events.empty()});
  std::sort(locks.begin(), locks.end(), [](const GroupLock& a, const GroupLock& b) { return *a.stream < *b.stream; });
  {
    std::size_t out = 0;
    for (std::size_t k = 0; k < locks.size(); ++k) {
      if (out > 0 && *locks[out - 1].stream == *locks[k].stream) locks[out - 1].write |= locks[k].write;
      else locks[out++] = locks[k];
    }
    locks.resize(out);
  }
  if (append_group_known(requests, valid, locks, answers)) return;

  thread_local pg::Params params;
  thread_local std::string json;
  params.clear();
  add_lock_ids(params, locks);
  {
    pg::ArrayWriter a(params.begin(), 16 /* bool */);
    for (const auto& l : locks) {
      const char b = l.write ? 1 : 0;
      a.element(&b, 1);
    }
    a.finish();
    params.end();
  }
  // Per write, requests in order and each request's writes in its order.
  auto per_write = [&](unsigned int oid, auto&& put) {
    pg::ArrayWriter a(params.begin(), oid);
    std::int32_t number = 0;
    for (std::size_t i : valid) {
      ++number;
      for (const auto& write : requests[i].streams) put(a, number, write);
    }
    a.finish();
    params.end();
  };
  per_write(pg::oid_int4, [](auto& a, std::int32_t number, const StreamWrite&) { a.element_int4(number); });
  per_write(pg::oid_int4, [&](auto& a, std::int32_t, const StreamWrite& w) {
    a.element_int4(static_cast<std::int32_t>(lock_of(locks, w.stream)) + 1);  // 1-based
  });
  per_write(pg::oid_int4, [](auto& a, std::int32_t, const StreamWrite& w) { a.element_int4(kind_code(w.expected)); });
  per_write(pg::oid_int8, [](auto& a, std::int32_t, const StreamWrite& w) {
    a.element_int8(static_cast<std::int64_t>(w.expected.version().value));
  });
  per_write(pg::oid_int4, [](auto& a, std::int32_t, const StreamWrite& w) {
    a.element_int4(static_cast<std::int32_t>(w.events.size()));
  });
  // Per event, in request order: positions are drawn in that order.
  auto per_event = [&](unsigned int oid, auto&& put) {
    pg::ArrayWriter a(params.begin(), oid);
    std::int32_t write_number = 0;
    for (std::size_t i : valid)
      for (const auto& write : requests[i].streams) {
        ++write_number;
        for (std::size_t e = 0; e < write.events.size(); ++e) put(a, write_number, e, write.events[e]);
      }
    a.finish();
    params.end();
  };
  per_event(pg::oid_uuid, [](auto& a, auto, auto, const EventToWrite& ev) { a.element(ev.id.bytes().data(), 16); });
  per_event(pg::oid_int4, [](auto& a, std::int32_t w, auto, const auto&) { a.element_int4(w); });
  per_event(pg::oid_int4, [](auto& a, auto, std::size_t e, const auto&) { a.element_int4(static_cast<std::int32_t>(e + 1)); });
  add_event_columns(per_event, json);
  if (config.notify == NotifyMode::per_append) params.add_bytes(config.notify_channel);
  else params.add_null();
  params.finish();

  auto fail_all = [&](const Error& error) {
    for (std::size_t i : valid) answers[i].emplace(error);
  };
  const std::uint64_t generation = known.generation();
  auto ran = run_group(append_batch_statement, params, stale_version);
  if (!ran) return fail_all(ran.error());
  pg::ResultPtr result = std::move(*ran);
  // A writer that took no lock wrote a version first: each request on its
  // own says which.
  if (stale_version(result.get())) {
    for (std::size_t i : valid) answers[i].emplace(append(requests[i]));
    return;
  }

  const PGresult* r = result.get();
  if (PQntuples(r) != static_cast<int>(valid.size()))
    return fail_all(Error{ErrorCode::failed, "append_batch: unexpected result from eventcore_append_batch"});
  std::vector<std::int64_t> versions, positions;
  for (std::size_t row = 0; row < valid.size(); ++row) {
    const int rr = static_cast<int>(row);
    const AppendRequest& request = requests[valid[row]];
    auto& answer = answers[valid[row]];
    const std::int32_t code =
        PQgetlength(r, rr, 0) == 4 ? static_cast<std::int32_t>(pg::get_u32(PQgetvalue(r, rr, 0))) : -1;
    const char* detail = PQgetisnull(r, rr, 1) ? nullptr : PQgetvalue(r, rr, 1);
    if (code == 1) {
      std::size_t index = 0;
      unsigned long long actual = 0;
      if (detail && std::sscanf(detail, "%zu %llu", &index, &actual) == 2 && index < request.streams.size())
        answer.emplace(conflict_error(request.streams[index], actual));
      else
        answer.emplace(Error{ErrorCode::conflict, std::string("version conflict: ") + (detail ? detail : "")});
      continue;
    }
    if (code == 2) {
      answer.emplace(duplicate_error(detail));
      continue;
    }
    std::size_t events = 0;
    for (const auto& write : request.streams) events += write.events.size();
    if (code != 0 || PQgetlength(r, rr, 4) != 8 ||
        !pg::read_int8_array(PQgetvalue(r, rr, 2), PQgetlength(r, rr, 2), versions) ||
        !pg::read_int8_array(PQgetvalue(r, rr, 3), PQgetlength(r, rr, 3), positions) ||
        versions.size() != request.streams.size() || positions.size() != events) {
      answer.emplace(Error{ErrorCode::failed, "append_batch: unexpected result from eventcore_append_batch"});
      continue;
    }
    const std::uint64_t transaction = u64_field(r, rr, 4);
    AppendResult out;
    out.streams.reserve(request.streams.size());
    for (std::size_t k = 0; k < request.streams.size(); ++k)
      out.streams.push_back({request.streams[k].stream, StreamVersion{static_cast<std::uint64_t>(versions[k])}});
    out.positions.reserve(events);
    for (auto p : positions) out.positions.push_back(GlobalPosition{transaction, static_cast<std::uint64_t>(p)});
    learn(out, generation);
    answer.emplace(std::move(out));
  }
  }

// Runs a group-commit statement; again after a deadlock or a serialization
// failure, which roll the whole batch back (a deadlock needs two batches
// carrying the same event ids, or two stream ids with one lock key). The
// statement's result, also when it failed in a way `fall_back` accepts
// (the caller handles those, with the connection back in the pool); any
// other failure as the store's error. With `seen_at`, for a statement built
// from known versions: no result (null) when they were forgotten since
// (still_known), and nothing was sent.
Result<pg::ResultPtr> PostgresStore::Impl::run_group(const char* statement, const pg::Params& params,
                                                     bool (*fall_back)(const PGresult*),
                                                     std::optional<std::uint64_t> seen_at) {
  for (int attempt = 0;; ++attempt) {
    auto lease = pool->acquire();
    if (!lease) return std::move(lease).error();
    if (seen_at && !still_known(*seen_at)) return pg::ResultPtr{};  // no result: fall back
    PGconn* conn = lease->get();
    pg::ResultPtr result(
        PQexecPrepared(conn, statement, params.count(), params.values(), params.lengths(), params.formats(), 1));
    if (PQresultStatus(result.get()) == PGRES_TUPLES_OK || fall_back(result.get())) return result;
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    const std::string_view sqlstate = state ? state : "";
    if (attempt < 3 && (sqlstate == "40P01" || sqlstate == "40001")) continue;
    return append_error(conn, result.get(), {}, {}, pool->settings().target);
  }
}

namespace {

// A known-form group commit the function must run instead: a stream moved
// past the version the store knew (the key refused an event), or an event
// id is already stored (the function fails that request alone).
bool group_falls_back(const PGresult* result) {
  if (stale_version(result)) return true;
  if (PQresultStatus(result) != PGRES_FATAL_ERROR) return false;
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  return state && constraint && std::string_view(state) == "23505" &&
         std::string_view(constraint) == "events_event_id_key";
}

}  // namespace

// Group commit without the function, when the store knows where every
// stream of the batch stands: every stream gets events (each lock
// exclusive), and each stream's first write expects no stream or a version
// the store has seen it reach (append's known forms). Then the checks,
// made here in request order with the versions carried from request to
// request, decide what the function's would, and the batch goes to the
// database as one append of the known form: each stream once, with the
// events of all its writes in request order, numbered on from its known
// version (the values form when the batch is small and creates no stream).
// Half the server time of the function's call (its statements and
// PL/pgSQL; docs/PERFORMANCE.md, "Group commit without the function").
// The key refuses the events of a stream that moved on meanwhile, and a
// stored event id fails the statement: then the function runs the batch.
// False when the batch is not for this path, or fell back; answers are
// then untouched.
bool PostgresStore::Impl::append_group_known(const std::vector<AppendRequest>& requests,
                                             const std::vector<std::size_t>& valid, const std::vector<GroupLock>& locks,
                                             std::vector<std::optional<Result<AppendResult>>>& answers) {
  if (!std::all_of(locks.begin(), locks.end(), [](const GroupLock& l) { return l.write; })) return false;
  // Per lock, the version it starts from (-1: not yet known) and the one
  // reached so far; per write, the version it appends after; per event, its
  // row at its version, in request order.
  constexpr std::int64_t unknown = -1;
  const std::uint64_t seen_at = known.generation();  // (run_group checks it still holds)
  thread_local std::vector<std::int64_t> head, next, base;
  thread_local std::vector<ValuesRow> rows;
  head.assign(locks.size(), unknown);
  next.assign(locks.size(), 0);
  base.clear();
  rows.clear();
  for (std::size_t i : valid)
    for (const auto& write : requests[i].streams) {
      const std::size_t l = lock_of(locks, write.stream);
      const int kind = kind_code(write.expected);
      if (head[l] == unknown) {
        if (kind == 1) head[l] = 0;
        else if (kind == 0 && known.reached(write.stream.str(), write.expected.version().value))
          head[l] = static_cast<std::int64_t>(write.expected.version().value);
        else return false;
        next[l] = head[l];
      }
      const std::int64_t v = next[l];
      const bool passes = kind == 0 ? v == static_cast<std::int64_t>(write.expected.version().value)
                          : kind == 1 ? v == 0
                          : kind == 2 ? v > 0
                                      : true;
      if (!passes) return false;  // the function names the version it reads
      base.push_back(v);
      next[l] = v + static_cast<std::int64_t>(write.events.size());
      for (std::size_t e = 0; e < write.events.size(); ++e)
        rows.push_back({&write.stream, static_cast<std::uint64_t>(v) + e + 1, &write.events[e]});
    }

  // Few events, no stream created: the values form; else the known form.
  const bool creates = std::find(head.begin(), head.end(), 0) != head.end();
  // (One stream takes no lock: pg::append_values_sql with no stream ids.)
  const bool one = locks.size() == 1;
  const bool values =
      !creates && rows.size() <= static_cast<std::size_t>(one ? pg::values_one_max_events : pg::values_max_events);
  const std::string statement =
      values ? pg::append_values_statement(one ? 0 : static_cast<int>(locks.size()), static_cast<int>(rows.size()))
             : pg::append_streams_statement(false, creates, false, true);
  thread_local pg::Params params;
  thread_local std::string json;
  const std::string* channel = config.notify == NotifyMode::per_append ? &config.notify_channel : nullptr;
  if (values) {
    thread_local std::vector<const StreamId*> locked;
    locked.clear();
    if (!one)
      for (const auto& l : locks) locked.push_back(l.stream);
    values_params(params, locked, rows, channel, json);
  } else {
    known_group_params(params, locks, head, rows, channel, json);
  }

  auto ran = run_group(statement.c_str(), params, group_falls_back, seen_at);
  if (!ran) {
    for (std::size_t i : valid) answers[i].emplace(ran.error());
    return true;
  }
  const PGresult* r = ran->get();
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) return false;  // forgotten, or group_falls_back

  auto unexpected = [&] {
    for (std::size_t i : valid)
      answers[i].emplace(Error{ErrorCode::failed, "append_batch: unexpected result from " + statement});
    return true;
  };
  if (PQntuples(r) != static_cast<int>(rows.size()) || PQnfields(r) != 3) return unexpected();
  int row = 0;
  std::size_t w = 0;
  for (std::size_t i : valid) {
    AppendResult out;
    out.streams.reserve(requests[i].streams.size());
    for (const auto& write : requests[i].streams) {
      for (std::size_t e = 0; e < write.events.size(); ++e, ++row) {
        for (int column = 0; column < 3; ++column)
          if (PQgetlength(r, row, column) != 8) return unexpected();
        if (u64_field(r, row, 1) != rows[static_cast<std::size_t>(row)].version) return unexpected();
        out.positions.push_back(GlobalPosition{u64_field(r, row, 2), u64_field(r, row, 0)});
      }
      out.streams.push_back({write.stream, StreamVersion{static_cast<std::uint64_t>(base[w]) + write.events.size()}});
      ++w;
    }
    learn(out, seen_at);
    answers[i].emplace(std::move(out));
  }
  return true;
}

Result<StreamPage> PostgresStore::read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                              StreamVersion to) {
  max_count = std::min(max_count, impl_->config.limits.max_page_size);
  from.value = std::max<std::uint64_t>(from.value, 1);
  // Versions are bigint in the table: nothing lies beyond its range.
  to.value = std::min(to.value, static_cast<std::uint64_t>(max_version));
  if (from > to) return StreamPage{{}, from, true};
  if (max_count == 0) return StreamPage{{}, from, false};
  thread_local pg::Params params;
  params.clear();
  params.add_bytes(stream.str());
  params.add_int8(static_cast<std::int64_t>(from.value));
  params.add_int8(static_cast<std::int64_t>(max_count) + 1);  // one more says whether the page is the end
  params.add_int8(static_cast<std::int64_t>(to.value));
  const std::uint64_t generation = impl_->known.generation();
  auto result = impl_->read(read_stream_statement, params, "read_stream");
  if (!result) return std::move(result).error();
  auto events = decode_events(result->get());
  if (!events) return std::move(events).error();
  StreamPage page{std::move(events).value(), from, true};
  if (page.events.size() > max_count) {
    page.events.pop_back();
    page.end_of_stream = false;
  }
  if (!page.events.empty()) {
    page.next = page.events.back().version.next();
    impl_->known.note(stream.str(), page.events.back().version.value, generation);
  }
  return page;
}

Result<ReadAllPage> PostgresStore::read_all(GlobalPosition after, std::size_t max_count,
                                            const EventFilter& filter) {
  max_count = std::min(max_count, impl_->config.limits.max_page_size);
  ReadAllPage page{{}, after};
  if (max_count == 0) return page;
  thread_local pg::Params params;
  params.clear();
  params.add_int8(static_cast<std::int64_t>(after.transaction));  // xid8's binary form is 8 bytes
  params.add_int8(static_cast<std::int64_t>(after.sequence));
  add_text_array_null_if_empty(params, filter.types);
  if (filter.stream_prefix.empty()) params.add_null();
  else params.add_bytes(filter.stream_prefix);
  params.add_int8(static_cast<std::int64_t>(max_count));
  const bool by_category = filter.stream_prefix.find('-') != std::string::npos;
  auto result = impl_->read(by_category ? Impl::Statement(read_category_sql) : Impl::Statement(read_all_statement),
                            params, "read_all", /*from_replica=*/true);
  if (!result) return std::move(result).error();
  auto events = decode_events(result->get());
  if (!events) return std::move(events).error();
  page.events = std::move(events).value();
  if (!page.events.empty()) page.next = page.events.back().position;
  return page;
}

Result<StreamVersion> PostgresStore::stream_version(const StreamId& stream) {
  thread_local pg::Params params;
  params.clear();
  params.add_bytes(stream.str());
  const std::uint64_t generation = impl_->known.generation();
  auto result = impl_->read(stream_version_statement, params, "stream_version");
  if (!result) return std::move(result).error();
  const PGresult* r = result->get();
  if (PQntuples(r) == 0) return StreamVersion{0};
  const StreamVersion version{u64_field(r, 0, 0)};
  impl_->known.note(stream.str(), version.value, generation);
  return version;
}

Result<std::optional<Snapshot>> PostgresStore::load_snapshot(const StreamId& stream, std::string_view type,
                                                             std::uint32_t schema) {
  thread_local pg::Params params;
  params.clear();
  params.add_bytes(stream.str());
  params.add_bytes(type);
  params.add_int4(static_cast<std::int32_t>(schema));
  auto result = impl_->read(load_snapshot_statement, params, "load_snapshot");
  if (!result) return std::move(result).error();
  const PGresult* r = result->get();
  if (PQntuples(r) == 0) return std::optional<Snapshot>{};
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r, 0, 1));
  return std::optional<Snapshot>{Snapshot{stream, std::string(type), schema, StreamVersion{u64_field(r, 0, 0)},
                                          Payload(bytes, bytes + PQgetlength(r, 0, 1))}};
}

Status PostgresStore::save_snapshot(const Snapshot& snapshot) {
  if (auto status = validate_snapshot(snapshot, impl_->config.limits); !status) return status;
  if (snapshot.version.value > static_cast<std::uint64_t>(max_version))
    return Error{ErrorCode::invalid_argument, "snapshot version " + std::to_string(snapshot.version.value) +
                                                  " is beyond any stream's version"};
  thread_local pg::Params params;
  params.clear();
  params.add_bytes(snapshot.stream.str());
  params.add_bytes(snapshot.type);
  params.add_int4(static_cast<std::int32_t>(snapshot.schema));
  params.add_int8(static_cast<std::int64_t>(snapshot.version.value));
  params.add_bytes(std::string_view(reinterpret_cast<const char*>(snapshot.state.data()), snapshot.state.size()));
  auto result = impl_->read(save_snapshot_statement, params, "save_snapshot");
  if (!result) return std::move(result).error();
  return {};
}

Result<std::optional<CommandRecord>> PostgresStore::load_command_record(std::string_view key) {
  if (auto status = validate_record_key(key); !status) return status.error();
  thread_local pg::Params params;
  params.clear();
  params.add_bytes(key);
  auto result = impl_->read(load_record_statement, params, "load_command_record");
  if (!result) return std::move(result).error();
  const PGresult* r = result->get();
  if (PQntuples(r) == 0) return std::optional<CommandRecord>{};
  const auto data = field(r, 0, 0);
  return std::optional<CommandRecord>{
      CommandRecord{std::string(key), Payload(data.begin(), data.end()),
                    pg::timestamp_from_pg(static_cast<std::int64_t>(u64_field(r, 0, 1)))}};
}

Result<std::uint64_t> PostgresStore::expire_command_records(std::chrono::seconds older_than) {
  thread_local pg::Params params;
  params.clear();
  params.add_int8(std::max<std::int64_t>(older_than.count(), 0));
  auto result = impl_->read(expire_records_statement, params, "expire_command_records");
  if (!result) return std::move(result).error();
  return u64_field(result->get(), 0, 0);
}

}  // namespace eventcore

namespace eventcore {

std::unique_ptr<AppendWatch> PostgresStore::watch_appends(std::function<void()> wake) {
  auto watch = impl_->watchers->add(std::move(wake));  // before the listener's first wake-up
  std::lock_guard lock(impl_->listener_mutex);
  if (!impl_->listener) {
    auto settings = pg::make_connection_settings(impl_->config, "eventcore-listener:" + impl_->config.notify_channel);
    std::optional<pg::ReplayWait> replay;
    if (impl_->replica)
      replay = pg::ReplayWait{impl_->replica->settings(), impl_->config.replica_wait};
    if (settings)  // it parsed when the store opened
      impl_->listener = std::make_unique<pg::Listener>(std::move(settings).value(), impl_->config.notify_channel,
                                                       impl_->config.listen_keepalive, impl_->watchers,
                                                       std::move(replay));
  }
  return watch;
}

Result<ReadBacklog> PostgresStore::backlog(GlobalPosition after, const EventFilter& filter) {
  thread_local pg::Params params;
  params.clear();
  params.add_int8(static_cast<std::int64_t>(after.transaction));
  params.add_int8(static_cast<std::int64_t>(after.sequence));
  add_text_array_null_if_empty(params, filter.types);
  if (filter.stream_prefix.empty()) params.add_null();
  else params.add_bytes(filter.stream_prefix);
  auto result = impl_->read(backlog_statement, params, "backlog", /*from_replica=*/true);
  if (!result) return std::move(result).error();
  const PGresult* r = result->get();
  auto text = [&](int column) { return std::string(field(r, 0, column)); };
  auto number = [&](int column) { return std::strtod(text(column).c_str(), nullptr); };
  auto count = [&](int column) { return std::strtoull(text(column).c_str(), nullptr, 10); };
  ReadBacklog backlog;
  if (!PQgetisnull(r, 0, 0)) backlog.head = GlobalPosition{count(0), count(1)};
  backlog.readable = count(2);
  backlog.oldest_ms = std::max(0.0, number(3));
  backlog.held_back = count(4);
  if (backlog.held_back > 0) {
    backlog.held_back_ms = std::max(0.0, number(5));
    if (PQgetisnull(r, 0, 6)) {
      backlog.held_by = "a transaction pg_stat_activity does not show (a prepared transaction, or another "
                        "role's session: grant pg_read_all_stats to see it)";
    } else {
      char age[32];
      std::snprintf(age, sizeof age, "%.1f", number(9));
      const std::string state = text(8);
      backlog.held_by = "pid " + text(6) + " (database '" + text(7) + "', " + (state.empty() ? "" : state + ", ") +
                        "transaction open " + age + " s)";
    }
  }
  return backlog;
}

PostgresStore::PoolStats PostgresStore::pool_stats() const {
  const auto s = impl_->pool->stats();
  return PoolStats{s.size, s.in_use, s.waits, s.waited_seconds};
}

int PostgresStore::schema_version() noexcept { return pg::latest_schema_version(); }

Result<std::vector<StreamInfo>> PostgresStore::list_streams(std::string_view prefix, std::string_view after,
                                                           std::size_t max_count) {
  thread_local pg::Params params;
  params.clear();
  params.add_bytes(prefix);
  params.add_bytes(after);
  params.add_int8(static_cast<std::int64_t>(std::min(max_count, impl_->config.limits.max_page_size)));
  auto result = impl_->read(list_streams_statement, params, "list_streams");
  if (!result) return std::move(result).error();
  const PGresult* r = result->get();
  std::vector<StreamInfo> out;
  out.reserve(static_cast<std::size_t>(PQntuples(r)));
  for (int row = 0; row < PQntuples(r); ++row) {
    auto id = StreamId::try_new(std::string(field(r, row, 0)));
    if (!id) return Error{ErrorCode::failed, "list_streams: the streams table holds an invalid id: " + id.error().message};
    out.push_back({std::move(id).value(), StreamVersion{u64_field(r, row, 1)}});
  }
  return out;
}

Result<StoreTotals> PostgresStore::totals() {
  thread_local pg::Params params;
  params.clear();
  auto result = impl_->read(totals_statement, params, "totals");
  if (!result) return std::move(result).error();
  const PGresult* r = result->get();
  StoreTotals totals;
  totals.streams = u64_field(r, 0, 0);
  totals.events = u64_field(r, 0, 1);
  if (!PQgetisnull(r, 0, 2)) totals.head = GlobalPosition{u64_field(r, 0, 2), u64_field(r, 0, 3)};
  totals.bytes = u64_field(r, 0, 4);
  return totals;
}

}  // namespace eventcore
