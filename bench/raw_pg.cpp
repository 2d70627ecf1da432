#include "raw_pg.hpp"

#include <cstring>
#include <stdexcept>

namespace eventcore::bench {

void ParamList::text(std::string value) {
  owned_.push_back(std::move(value));
  values_.push_back(owned_.back().c_str());
  lengths_.push_back(0);
  formats_.push_back(0);
}

void ParamList::binary(const void* data, std::size_t size) {
  values_.push_back(static_cast<const char*>(data));
  lengths_.push_back(static_cast<int>(size));
  formats_.push_back(1);
}

void ParamList::int8(std::int64_t value) {
  std::string be(8, '\0');
  const auto u = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) be[i] = static_cast<char>(u >> (56 - 8 * i));
  owned_.push_back(std::move(be));
  values_.push_back(owned_.back().data());
  lengths_.push_back(8);
  formats_.push_back(1);
}

void ParamList::clear() {
  values_.clear();
  lengths_.clear();
  formats_.clear();
  owned_.clear();
}

RawConnection::RawConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn_);
    PQfinish(conn_);
    throw std::runtime_error("cannot connect to PostgreSQL: " + msg);
  }
  // NOTICEs (DROP ... CASCADE, IF EXISTS) would drown the progress lines.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

RawConnection::~RawConnection() { PQfinish(conn_); }

PgResult RawConnection::exec(const std::string& sql) {
  PgResult r(PQexec(conn_, sql.c_str()));
  auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(sql.substr(0, 200) + ": " + PQresultErrorMessage(r.get()));
  return r;
}

void RawConnection::prepare(const std::string& name, const std::string& sql) {
  PgResult r(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    throw std::runtime_error("prepare " + name + ": " + PQresultErrorMessage(r.get()));
}

PgResult RawConnection::run(const std::string& name, const ParamList& params, bool binary_result,
                            std::string& error) {
  PgResult r(PQexecPrepared(conn_, name.c_str(), params.size(), params.values(), params.lengths(),
                            params.formats(), binary_result ? 1 : 0));
  auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    error = PQresultErrorMessage(r.get());
    if (error.empty()) error = PQerrorMessage(conn_);
    return nullptr;
  }
  return r;
}

std::int64_t read_int8(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int64_t>(v);
}

std::int32_t read_int4(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<std::int32_t>(v);
}

void exec_once(const std::string& url, const std::string& sql, bool ignore_errors) {
  try {
    RawConnection c(url);
    c.exec(sql);
  } catch (const std::exception&) {
    if (!ignore_errors) throw;
  }
}

// The raw table: the columns, constraints and indexes of the store's events
// table (store/src/postgres_migrations.cpp, migrations 1 and 6), so that the
// raw inserts maintain the same four indexes. No streams table: the raw baseline
// is the irreducible cost of writing the event rows.
std::string raw_schema_sql(const std::string& schema) {
  return "DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema + "; CREATE TABLE " + schema +
         ".events ("
         " position bigint GENERATED ALWAYS AS IDENTITY,"
         " tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),"
         " event_id uuid NOT NULL UNIQUE,"
         " stream_id text NOT NULL,"
         " stream_version bigint NOT NULL,"
         " event_type text NOT NULL,"
         " payload bytea NOT NULL,"
         " correlation_id uuid,"
         " causation_id uuid,"
         " user_id text,"
         " metadata jsonb,"
         " recorded_at timestamptz NOT NULL DEFAULT now(),"
         " PRIMARY KEY (stream_id, stream_version));"
         " CREATE INDEX ON " + schema + ".events (tx_id, position);"
         " CREATE INDEX ON " + schema + ".events (split_part(stream_id, '-', 1), tx_id, position)";
}

}  // namespace eventcore::bench
