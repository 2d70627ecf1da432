// PostgreSQL cases: PostgresStore through the EventStore interface against
// the equivalent raw SQL through libpq (prepared statements, autocommit), on
// a table shaped like the store's events table in a schema of the bench's own.

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <thread>

#include "cases.hpp"
#include "harness.hpp"
#include "raw_pg.hpp"
#include "report.hpp"

namespace eventcore::bench {

namespace {

std::string unique_schema(const std::string& what) {
  static std::atomic<int> counter{0};
  return "bench_" + what + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
}

constexpr const char* raw_columns =
    "position, event_id, stream_id, stream_version, event_type, payload, correlation_id, causation_id, user_id, "
    "metadata, recorded_at, tx_id";

std::string raw_insert_sql(const std::string& schema, int rows) {
  std::string sql = "INSERT INTO " + schema + ".events (event_id, stream_id, stream_version, event_type, payload) VALUES ";
  int n = 0;
  for (int r = 0; r < rows; ++r) {
    if (r > 0) sql += ", ";
    sql += "($" + std::to_string(n + 1) + "::uuid, $" + std::to_string(n + 2) + "::text, $" + std::to_string(n + 3) +
           "::bigint, $" + std::to_string(n + 4) + "::text, $" + std::to_string(n + 5) + "::bytea)";
    n += 5;
  }
  return sql;
}

void drop_schema(const Options& o, const std::string& schema) {
  exec_once(o.database_url, "DROP SCHEMA IF EXISTS " + schema + " CASCADE", true);
}

// Flushes dirty buffers before a timed run so that a checkpoint triggered by
// the previous run does not land inside this one.
void checkpoint(const Options& o) { exec_once(o.database_url, "CHECKPOINT", true); }

const char* notify_name(NotifyMode mode) {
  switch (mode) {
    case NotifyMode::coalesced: return "coalesced";
    case NotifyMode::per_append: return "per_append";
    case NotifyMode::none: return "none";
  }
  return "?";
}

std::unique_ptr<PostgresStore> open_store(const Options& o, const std::string& schema, std::size_t pool,
                                          NotifyMode notify) {
  PostgresStoreConfig config;
  config.conninfo = o.database_url;
  config.schema = schema;
  config.pool_size = pool;
  config.notify = notify;
  auto store = PostgresStore::open(config);
  if (!store) throw std::runtime_error("PostgresStore::open: " + to_string(store.error()));
  return std::move(store).value();
}

// A row as a raw reader copies it out of a binary result (the fields of a
// StoredEvent).
struct RawEvent {
  std::int64_t position;
  std::array<std::uint8_t, 16> id;
  std::string stream;
  std::int64_t version;
  std::string type;
  Payload payload;
  std::optional<std::array<std::uint8_t, 16>> correlation_id, causation_id;
  std::optional<std::string> user_id;
  std::string metadata;
  std::int64_t recorded_at;
  std::int64_t tx_id;
};

std::size_t decode_rows(PGresult* r, std::vector<RawEvent>& out) {
  const int n = PQntuples(r);
  out.clear();
  out.reserve(static_cast<std::size_t>(n));
  auto text = [&](int row, int col) {
    return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
  };
  auto uuid = [&](int row, int col) -> std::optional<std::array<std::uint8_t, 16>> {
    if (PQgetisnull(r, row, col)) return std::nullopt;
    std::array<std::uint8_t, 16> id;
    std::memcpy(id.data(), PQgetvalue(r, row, col), 16);
    return id;
  };
  for (int i = 0; i < n; ++i) {
    RawEvent e;
    e.position = read_int8(PQgetvalue(r, i, 0));
    e.id = *uuid(i, 1);
    e.stream = text(i, 2);
    e.version = read_int8(PQgetvalue(r, i, 3));
    e.type = text(i, 4);
    const auto* p = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r, i, 5));
    e.payload.assign(p, p + PQgetlength(r, i, 5));
    e.correlation_id = uuid(i, 6);
    e.causation_id = uuid(i, 7);
    if (!PQgetisnull(r, i, 8)) e.user_id = text(i, 8);
    if (!PQgetisnull(r, i, 9)) e.metadata = text(i, 9);
    e.recorded_at = read_int8(PQgetvalue(r, i, 10));
    e.tx_id = read_int8(PQgetvalue(r, i, 11));
    out.push_back(std::move(e));
  }
  return static_cast<std::size_t>(n);
}

// ---- writers ---------------------------------------------------------------

// Appends `events_per_stream` events to each of its streams per operation,
// with the exact expected version of every stream (each client owns its
// streams): one atomic append, or (`batched`) one request per stream in one
// append_batch (group commit).
class StoreAppendClient final : public Client {
 public:
  StoreAppendClient(EventStore& store, std::vector<StreamId> streams, int events_per_stream, const Payload& payload,
                    bool batched = false)
      : store_(store), streams_(std::move(streams)), versions_(streams_.size(), 0),
        events_per_stream_(events_per_stream), payload_(payload), batched_(batched) {}

  std::uint64_t op(std::string& error) override {
    std::vector<AppendRequest> requests(batched_ ? streams_.size() : 1);
    for (std::size_t s = 0; s < streams_.size(); ++s) {
      StreamWrite write{streams_[s], ExpectedVersion::exact(versions_[s]), {}};
      write.events.reserve(static_cast<std::size_t>(events_per_stream_));
      for (int e = 0; e < events_per_stream_; ++e) write.events.push_back(make_event(payload_));
      requests[batched_ ? s : 0].streams.push_back(std::move(write));
    }
    if (batched_) {
      auto results = store_.append_batch(requests);
      for (std::size_t s = 0; s < streams_.size(); ++s)
        if (!note(results[s], s, 0, error)) return 0;
    } else {
      auto result = store_.append(requests[0]);
      for (std::size_t s = 0; s < streams_.size(); ++s)
        if (!note(result, s, s, error)) return 0;
    }
    return streams_.size() * static_cast<std::uint64_t>(events_per_stream_);
  }

 private:
  // Stream s's new version, its `index`-th in `result`; false, with the
  // error, when the append failed.
  bool note(const Result<AppendResult>& result, std::size_t s, std::size_t index, std::string& error) {
    if (!result) {
      error = to_string(result.error());
      return false;
    }
    versions_[s] = result->streams[index].version.value;
    return true;
  }

  EventStore& store_;
  std::vector<StreamId> streams_;
  std::vector<std::uint64_t> versions_;
  int events_per_stream_;
  const Payload& payload_;
  bool batched_;
};

// The same rows in one prepared multi-row INSERT, autocommit.
class RawAppendClient final : public Client {
 public:
  RawAppendClient(const Options& o, const std::string& schema, std::vector<std::string> streams,
                  int events_per_stream, const Payload& payload)
      : conn_(o.database_url), streams_(std::move(streams)), versions_(streams_.size(), 0),
        events_per_stream_(events_per_stream), payload_(payload) {
    conn_.prepare("append", raw_insert_sql(schema, static_cast<int>(streams_.size()) * events_per_stream_));
  }

  std::uint64_t op(std::string& error) override {
    const std::size_t rows = streams_.size() * static_cast<std::size_t>(events_per_stream_);
    ids_.resize(rows);
    params_.clear();
    std::size_t row = 0;
    for (std::size_t s = 0; s < streams_.size(); ++s) {
      for (int e = 0; e < events_per_stream_; ++e, ++row) {
        ids_[row] = EventId::generate();
        params_.binary(ids_[row].bytes().data(), 16);
        params_.text(streams_[s]);
        params_.int8(static_cast<std::int64_t>(versions_[s]) + e + 1);
        params_.text(event_type);
        params_.binary(payload_.data(), payload_.size());
      }
    }
    auto r = conn_.run("append", params_, false, error);
    if (!r) return 0;
    for (auto& v : versions_) v += static_cast<std::uint64_t>(events_per_stream_);
    return rows;
  }

 private:
  RawConnection conn_;
  std::vector<std::string> streams_;
  std::vector<std::uint64_t> versions_;
  int events_per_stream_;
  const Payload& payload_;
  std::vector<EventId> ids_;
  ParamList params_;
};

std::vector<std::string> client_streams(int client, int count) {
  std::vector<std::string> names;
  for (int s = 0; s < count; ++s) names.push_back("bench-c" + std::to_string(client) + "-s" + std::to_string(s));
  return names;
}

RunStats run_store_append(const Options& o, int clients, int streams, int events, NotifyMode notify,
                          bool batched = false) {
  const Payload payload = make_payload(o.payload_bytes);
  const std::string schema = unique_schema("store");
  RunStats stats;
  {
    auto store = open_store(o, schema, static_cast<std::size_t>(clients), notify);
    std::vector<std::unique_ptr<Client>> cs;
    for (int c = 0; c < clients; ++c) {
      std::vector<StreamId> ids;
      for (const auto& name : client_streams(c, streams)) ids.push_back(stream_id(name));
      cs.push_back(std::make_unique<StoreAppendClient>(*store, std::move(ids), events, payload, batched));
    }
    checkpoint(o);
    stats = run_clients(cs, o.seconds, o.warmup_ops);
  }
  drop_schema(o, schema);
  return stats;
}

RunStats run_raw_append(const Options& o, int clients, int streams, int events) {
  const Payload payload = make_payload(o.payload_bytes);
  const std::string schema = unique_schema("raw");
  exec_once(o.database_url, raw_schema_sql(schema));
  RunStats stats;
  {
    std::vector<std::unique_ptr<Client>> cs;
    for (int c = 0; c < clients; ++c)
      cs.push_back(std::make_unique<RawAppendClient>(o, schema, client_streams(c, streams), events, payload));
    checkpoint(o);
    stats = run_clients(cs, o.seconds, o.warmup_ops);
  }
  drop_schema(o, schema);
  return stats;
}

struct WriteCase {
  std::string name, description;
  int clients;  // 0: Options::clients
  int streams, events;
  bool per_event;
  std::optional<double> target_ratio;
  bool batched = false;  // a request per stream, in one append_batch (group commit)
};

void run_write_case(const Options& o, const WriteCase& w) {
  const int clients = w.clients > 0 ? w.clients : o.clients;
  Side baseline{"raw libpq", [&] { return run_raw_append(o, clients, w.streams, w.events); }};
  Side subject{w.batched ? "PostgresStore append_batch" : "PostgresStore",
               [&] { return run_store_append(o, clients, w.streams, w.events, o.notify, w.batched); }};
  const std::string unit = w.per_event ? "events/s" : "tx/s";
  auto c = alternate(w.name, o.reps, baseline, subject, w.per_event, unit);
  CaseReport r;
  r.bench = w.name;
  r.metric = "append_throughput";
  r.unit = unit;
  r.clients = clients;
  r.baseline = w.streams * w.events == 1 ? "raw_libpq_insert" : "raw_libpq_multirow_insert";
  r.per_event = w.per_event;
  r.target_ratio = w.target_ratio;
  r.extra["streams_per_append"] = w.batched ? 1 : w.streams;
  if (w.batched) r.extra["requests_per_batch"] = w.streams;
  r.extra["events_per_stream"] = w.events;
  r.extra["notify"] = notify_name(o.notify);
  r.extra["payload_bytes"] = o.payload_bytes;
  emit(r, c);
}

// The subject: --notify, or per_append when that is none.
void run_notify_case(const Options& o, int clients) {
  const NotifyMode mode = o.notify == NotifyMode::none ? NotifyMode::per_append : o.notify;
  Side baseline{"PostgresStore notify=none",
                [&] { return run_store_append(o, clients, 1, 1, NotifyMode::none); }};
  Side subject{std::string("PostgresStore notify=") + notify_name(mode),
               [&] { return run_store_append(o, clients, 1, 1, mode); }};
  const std::string name = "pg_append_single_notify_c" + std::to_string(clients);
  auto c = alternate(name, o.reps, baseline, subject, false, "tx/s");
  CaseReport r;
  r.bench = name;
  r.metric = "append_throughput";
  r.unit = "tx/s";
  r.clients = clients;
  r.baseline = "postgres_store_notify_none";
  if (mode == NotifyMode::coalesced) r.target_ratio = 0.9;
  r.extra["notify"] = notify_name(mode);
  r.extra["payload_bytes"] = o.payload_bytes;
  emit(r, c);
}

void vacuum_schema(const Options& o, const std::string& schema) {
  RawConnection c(o.database_url);
  auto r = c.exec("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = '" + schema + "'");
  for (int i = 0; i < PQntuples(r.get()); ++i) c.exec(std::string("VACUUM (ANALYZE) ") + PQgetvalue(r.get(), i, 0));
}

// ---- readers ---------------------------------------------------------------

constexpr int read_stream_events = 100;

class StoreReadStreamClient final : public Client {
 public:
  StoreReadStreamClient(EventStore& store, StreamId stream) : store_(store), stream_(std::move(stream)) {}
  std::uint64_t op(std::string& error) override {
    auto events = store_.read_stream(stream_, StreamVersion{1}, read_stream_events);
    if (!events) {
      error = to_string(events.error());
      return 0;
    }
    if (events->size() != read_stream_events) error = "read " + std::to_string(events->size()) + " events";
    return events->size();
  }

 private:
  EventStore& store_;
  StreamId stream_;
};

class RawReadStreamClient final : public Client {
 public:
  RawReadStreamClient(const Options& o, const std::string& schema, std::string stream)
      : conn_(o.database_url), stream_(std::move(stream)) {
    conn_.prepare("read", std::string("SELECT ") + raw_columns + " FROM " + schema +
                              ".events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3");
  }
  std::uint64_t op(std::string& error) override {
    ParamList p;
    p.text(stream_);
    p.int8(1);
    p.int8(read_stream_events);
    auto r = conn_.run("read", p, true, error);
    if (!r) return 0;
    const std::size_t n = decode_rows(r.get(), rows_);
    if (n != read_stream_events) error = "read " + std::to_string(n) + " events";
    return n;
  }

 private:
  RawConnection conn_;
  std::string stream_;
  std::vector<RawEvent> rows_;
};

void run_read_stream_case(const Options& o) {
  const int clients = o.clients;
  const Payload payload = make_payload(o.payload_bytes);
  auto stream_name = [](int c) { return "read-c" + std::to_string(c); };

  Side baseline{"raw libpq", [&] {
    const std::string schema = unique_schema("raw");
    exec_once(o.database_url, raw_schema_sql(schema));
    RunStats stats;
    {
      for (int c = 0; c < clients; ++c) {
        RawAppendClient writer(o, schema, {stream_name(c)}, read_stream_events, payload);
        std::string error;
        writer.op(error);
        if (!error.empty()) throw std::runtime_error("loading the raw streams: " + error);
      }
      vacuum_schema(o, schema);
      std::vector<std::unique_ptr<Client>> cs;
      for (int c = 0; c < clients; ++c) cs.push_back(std::make_unique<RawReadStreamClient>(o, schema, stream_name(c)));
      stats = run_clients(cs, o.seconds, o.warmup_ops);
    }
    drop_schema(o, schema);
    return stats;
  }};
  Side subject{"PostgresStore", [&] {
    const std::string schema = unique_schema("store");
    RunStats stats;
    {
      auto store = open_store(o, schema, static_cast<std::size_t>(clients), o.notify);
      for (int c = 0; c < clients; ++c) {
        StoreAppendClient writer(*store, {stream_id(stream_name(c))}, read_stream_events, payload);
        std::string error;
        writer.op(error);
        if (!error.empty()) throw std::runtime_error("loading the store's streams: " + error);
      }
      vacuum_schema(o, schema);
      std::vector<std::unique_ptr<Client>> cs;
      for (int c = 0; c < clients; ++c)
        cs.push_back(std::make_unique<StoreReadStreamClient>(*store, stream_id(stream_name(c))));
      stats = run_clients(cs, o.seconds, o.warmup_ops);
    }
    drop_schema(o, schema);
    return stats;
  }};
  const std::string name = "pg_read_stream100";
  auto c = alternate(name, o.reps, baseline, subject, false, "reads/s");
  CaseReport r;
  r.bench = name;
  r.metric = "read_stream_throughput";
  r.unit = "reads/s";
  r.clients = clients;
  r.baseline = "raw_libpq_select_stream";
  r.extra["events_per_read"] = read_stream_events;
  r.extra["payload_bytes"] = o.payload_bytes;
  emit(r, c);
}

// Reads the whole log in pages until it is exhausted or the deadline passes.
template <class ReadPage>
RunStats catch_up(const Options& o, ReadPage read_page) {
  RunStats stats;
  std::vector<float> latencies;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (;;) {
    const auto t0 = Clock::now();
    if (t0 >= deadline) {
      stats.complete = false;
      break;
    }
    const std::size_t n = read_page();
    latencies.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
    if (n == 0) break;
    ++stats.ops;
    stats.units += n;
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  stats.p50_us = percentile(latencies, 0.5);
  stats.p99_us = percentile(latencies, 0.99);
  return stats;
}

void load_store(EventStore& store, const Options& o, const Payload& payload) {
  const std::size_t total = o.catchup_events;
  const std::size_t batches = (total + o.load_batch - 1) / o.load_batch;
  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::string failure;
  const auto start = Clock::now();
  auto worker = [&] {
    for (std::size_t b; !failed && (b = next++) < batches;) {
      const std::size_t n = std::min(o.load_batch, total - b * o.load_batch);
      AppendRequest request;
      StreamWrite write{stream_id("load-" + std::to_string(b)), ExpectedVersion::no_stream(), {}};
      write.events.reserve(n);
      for (std::size_t i = 0; i < n; ++i) write.events.push_back(make_event(payload));
      request.streams.push_back(std::move(write));
      auto result = store.append(request);
      if (!result) {
        if (!failed.exchange(true)) failure = to_string(result.error());
        return;
      }
      const std::size_t d = done += n;
      if ((d / o.load_batch) % std::max<std::size_t>(1, batches / 10) == 0 || d == total)
        std::cerr << "[bench] loading the store: " << with_commas(static_cast<double>(d)) << "/"
                  << with_commas(static_cast<double>(total)) << " events ("
                  << with_commas(static_cast<double>(d) / std::chrono::duration<double>(Clock::now() - start).count())
                  << " events/s)" << std::endl;
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  if (failed) throw std::runtime_error("loading the store: " + failure);
}

void run_catch_up_case(const Options& o) {
  const Payload payload = make_payload(o.payload_bytes);
  const std::string raw_schema = unique_schema("raw");
  const std::string store_schema = unique_schema("store");
  struct Cleanup {
    const Options& o;
    std::string a, b;
    ~Cleanup() { drop_schema(o, a), drop_schema(o, b); }
  } cleanup{o, raw_schema, store_schema};

  std::cerr << "[bench] loading " << with_commas(static_cast<double>(o.catchup_events))
            << " events into the raw table (INSERT ... SELECT generate_series)" << std::endl;
  {
    RawConnection c(o.database_url);
    c.exec(raw_schema_sql(raw_schema));
    ParamList p;
    p.binary(payload.data(), payload.size());
    p.int8(static_cast<std::int64_t>(o.catchup_events));
    p.int8(static_cast<std::int64_t>(o.load_batch));
    const std::string sql = "INSERT INTO " + raw_schema +
                            ".events (event_id, stream_id, stream_version, event_type, payload)"
                            " SELECT gen_random_uuid(), 'load-' || (g / $3::bigint), (g % $3::bigint) + 1, 'BenchEvent', $1"
                            " FROM generate_series(0, $2::bigint - 1) g";
    PgResult r(PQexecParams(c.get(), sql.c_str(), p.size(), nullptr, p.values(), p.lengths(), p.formats(), 0));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      throw std::runtime_error(std::string("loading the raw table: ") + PQresultErrorMessage(r.get()));
  }
  auto store = open_store(o, store_schema, 2, o.notify);
  std::cerr << "[bench] loading the store in appends of " << o.load_batch << " events" << std::endl;
  load_store(*store, o, payload);
  std::cerr << "[bench] VACUUM ANALYZE both schemas" << std::endl;
  vacuum_schema(o, raw_schema);
  vacuum_schema(o, store_schema);
  checkpoint(o);

  RawConnection reader(o.database_url);
  // Paged in the table's global order, (tx_id, position), on the same index
  // the store's read_all uses; without the store's snapshot (gap-free) bound.
  reader.prepare("page", std::string("SELECT ") + raw_columns + " FROM " + raw_schema +
                             ".events WHERE (tx_id, position) > ($1::xid8, $2) ORDER BY tx_id, position LIMIT $3");
  Side baseline{"raw libpq", [&] {
    std::int64_t after_tx = 0, after = 0;
    std::vector<RawEvent> rows;
    return catch_up(o, [&]() -> std::size_t {
      ParamList p;
      p.text(std::to_string(after_tx));
      p.int8(after);
      p.int8(static_cast<std::int64_t>(o.page_size));
      std::string error;
      auto r = reader.run("page", p, true, error);
      if (!r) throw std::runtime_error("raw page: " + error);
      const std::size_t n = decode_rows(r.get(), rows);
      if (n > 0) after_tx = rows.back().tx_id, after = rows.back().position;
      return n;
    });
  }};
  Side subject{"PostgresStore", [&] {
    GlobalPosition after{};
    return catch_up(o, [&]() -> std::size_t {
      auto page = store->read_all(after, o.page_size);
      if (!page) throw std::runtime_error("read_all: " + to_string(page.error()));
      after = page->next;
      return page->events.size();
    });
  }};
  const std::string name = "pg_read_all_catchup";
  auto c = alternate(name, o.reps, baseline, subject, true, "events/s");
  for (const auto* side : {&c.baseline, &c.subject})
    for (const auto& run : *side)
      if (run.complete && run.units != o.catchup_events)
        throw std::runtime_error("catch-up read " + std::to_string(run.units) + " events, expected " +
                                 std::to_string(o.catchup_events));
  CaseReport r;
  r.bench = name;
  r.metric = "catch_up_throughput";
  r.unit = "events/s";
  r.clients = 1;
  r.baseline = "raw_libpq_paged_select";
  r.per_event = true;
  r.extra["log_events"] = o.catchup_events;
  r.extra["page_size"] = o.page_size;
  r.extra["payload_bytes"] = o.payload_bytes;
  emit(r, c);
}

}  // namespace

std::vector<Case> postgres_cases() {
  std::vector<Case> cases;
  auto write = [&](WriteCase w) {
    cases.push_back({w.name, w.description, true, [w](const Options& o) { run_write_case(o, w); }});
  };
  write({"pg_append_single_c1", "one event per append, 1 connection", 1, 1, 1, false, std::nullopt});
  write({"pg_append_single_c16", "one event per append, 16 connections", 16, 1, 1, false, 0.8});
  write({"pg_append_single_c64", "one event per append, 64 connections", 64, 1, 1, false, std::nullopt});
  write({"pg_append_batch10", "10 events to one stream per append", 0, 1, 10, true, std::nullopt});
  write({"pg_append_multi2", "one event to each of 2 streams, atomically", 0, 2, 1, false, std::nullopt});
  write({"pg_append_multi3", "one event to each of 3 streams, atomically", 0, 3, 1, false, std::nullopt});
  write({"pg_append_group4", "append_batch of 4 one-event requests on 4 streams (group commit)", 0, 4, 1, false,
         std::nullopt, true});
  cases.push_back({"pg_append_single_notify_c16", "notify per_append (or --notify) vs none, single append, 16 connections", true,
                   [](const Options& o) { run_notify_case(o, 16); }});
  cases.push_back({"pg_read_stream100", "read one stream of 100 events", true, run_read_stream_case});
  cases.push_back({"pg_read_all_catchup", "read_all catch-up over the whole log (EVENTCORE_BENCH_EVENTS)", true,
                   run_catch_up_case});
  cases.push_back({"pg_read_category", "read_all by a prefix holding 1 in 10 / 1 in 100 events vs unfiltered", true,
                   [](const Options& o) {
                     const std::string schema = unique_schema("category");
                     struct Cleanup {
                       const Options& o;
                       std::string schema;
                       ~Cleanup() { drop_schema(o, schema); }
                     } cleanup{o, schema};
                     auto store = open_store(o, schema, static_cast<std::size_t>(o.clients), NotifyMode::none);
                     run_category_cases(o, *store, "pg");
                   }});
  return cases;
}

}  // namespace eventcore::bench
