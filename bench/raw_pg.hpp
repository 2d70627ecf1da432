#pragma once

// A thin libpq layer for the raw SQL baselines: one connection, prepared
// statements, binary parameters and results. Throws std::runtime_error on
// failure (the bench is a program, not the library).

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace eventcore::bench {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// Parameters for one statement: text or binary, kept alive until it runs.
class ParamList {
 public:
  void text(std::string value);
  void binary(const void* data, std::size_t size);  // not copied: must outlive the call
  void int8(std::int64_t value);                    // binary, big-endian
  void clear();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
  std::deque<std::string> owned_;
};

class RawConnection {
 public:
  explicit RawConnection(const std::string& url);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Runs one or several statements; returns the last result (throws on error).
  PgResult exec(const std::string& sql);
  void prepare(const std::string& name, const std::string& sql);
  // Runs a prepared statement; binary_result asks for binary column values.
  // Returns nullptr and sets `error` on failure.
  PgResult run(const std::string& name, const ParamList& params, bool binary_result, std::string& error);

  PGconn* get() { return conn_; }

 private:
  PGconn* conn_;
};

// Decoding of binary result values.
std::int64_t read_int8(const char* p);
std::int32_t read_int4(const char* p);

// Runs `sql` once on a fresh connection; errors are ignored when `ignore_errors`.
void exec_once(const std::string& url, const std::string& sql, bool ignore_errors = false);

// Creates `schema` (dropping it first) with a table `events` that has the
// columns, constraints and indexes of the store's events table: what the raw
// baselines insert into.
std::string raw_schema_sql(const std::string& schema);

}  // namespace eventcore::bench
