#include "postgres_connection_pool.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string_view>

namespace eventcore::pg {

namespace {

// libpq's messages end in a newline and may span lines: one line for ours.
std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string describe(const char* host, const char* port, const char* db) {
  auto or_default = [](const char* v) { return v && *v ? std::string(v) : std::string("(default)"); };
  return "host " + or_default(host) + " port " + or_default(port) + " database " + or_default(db);
}

void ignore_notice(void*, const char*) {}

}  // namespace

Result<ConnectionSettings> make_connection_settings(const PostgresStoreConfig& config,
                                                    const std::string& application_name) {
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(config.conninfo.c_str(), &parse_error);
  if (!parsed) {
    std::string message = "malformed PostgreSQL connection string '" +
                          redact_conninfo(config.conninfo) + "'";
    if (parse_error) {
      message += ": " + trim(parse_error);
      PQfreemem(parse_error);
    }
    return Error{ErrorCode::invalid_argument, message};
  }
  std::set<std::string> present;
  std::string host, hostaddr, port, dbname, options;
  for (PQconninfoOption* o = parsed; o->keyword; ++o) {
    if (!o->val) continue;
    present.insert(o->keyword);
    const std::string_view key = o->keyword;
    if (key == "host") host = o->val;
    else if (key == "hostaddr") hostaddr = o->val;
    else if (key == "port") port = o->val;
    else if (key == "dbname") dbname = o->val;
    else if (key == "options") options = o->val;
  }
  PQconninfoFree(parsed);

  ConnectionSettings settings;
  auto add = [&](std::string keyword, std::string value) {
    settings.keywords.push_back(std::move(keyword));
    settings.values.push_back(std::move(value));
  };
  // Defaults go before the connection string so that its own settings win.
  auto add_default = [&](const char* keyword, std::string value) {
    if (!present.contains(keyword)) add(keyword, std::move(value));
  };
  add_default("connect_timeout",
              std::to_string(std::max<long long>(1, config.connect_timeout.count())));
  // A peer that vanishes without closing the connection is noticed within
  // about 25 s instead of the kernel's two hours.
  add_default("keepalives", "1");
  add_default("keepalives_idle", "10");
  add_default("keepalives_interval", "5");
  add_default("keepalives_count", "3");
  add_default("tcp_user_timeout", "30000");
  add_default("application_name", application_name);
  add("dbname", config.conninfo);  // expanded by PQconnectdbParams (expand_dbname = 1)
  // The schema is set per session, so no statement ever names it.
  add("options", (options.empty() ? "" : options + " ") + "-c search_path=" + config.schema);

  settings.target = describe(host.empty() ? hostaddr.c_str() : host.c_str(), port.c_str(),
                             dbname.c_str());
  return settings;
}

Result<PGconn*> connect(const ConnectionSettings& settings) {
  std::vector<const char*> keywords, values;
  for (std::size_t i = 0; i < settings.keywords.size(); ++i) {
    keywords.push_back(settings.keywords[i].c_str());
    values.push_back(settings.values[i].c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (!conn) return Error{ErrorCode::unavailable, "cannot connect to PostgreSQL: out of memory"};
  if (PQstatus(conn) != CONNECTION_OK) {
    // libpq knows the effective host, port and database (after defaults and
    // environment); its message never contains the password.
    std::string target = describe(PQhost(conn), PQport(conn), PQdb(conn));
    const std::string message = trim(PQerrorMessage(conn));
    // libpq checks option values (a port that is no number, an sslmode it
    // does not know) before it touches the network, and reports them as
    // "invalid ...": a mistake in the configuration, not an outage to retry.
    const bool bad_option = message.starts_with("invalid ");
    Error error{bad_option ? ErrorCode::invalid_argument : ErrorCode::unavailable,
                (bad_option ? "bad PostgreSQL connection settings for " : "cannot connect to PostgreSQL at ") + target +
                    ": " + message};
    PQfinish(conn);
    return error;
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return conn;
}

bool connection_lost(PGconn* conn, const PGresult* result) {
  if (PQstatus(conn) == CONNECTION_BAD) return true;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (!state) return true;  // no server error: libpq failed to talk to the server
  const std::string_view s = state;
  // connection exceptions, admin shutdown, crash shutdown, cannot connect now
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03";
}

Status prepare_all(PGconn* conn, const std::vector<StatementText>& statements, std::string_view where) {
  auto failure = [&](const std::string& what, const PGresult* result) {
    const bool lost = connection_lost(conn, result);
    return Error{lost ? ErrorCode::unavailable : ErrorCode::failed,
                 "cannot prepare " + what + " " + std::string(where) + ": " +
                     trim(result ? PQresultErrorMessage(result) : PQerrorMessage(conn))};
  };
  if (PQenterPipelineMode(conn) != 1) return failure("the store's statements", nullptr);
  // The server answers each Parse with a few bytes, so sending all of them
  // before reading cannot fill both directions' buffers.
  std::size_t sent = 0;
  while (sent < statements.size() &&
         PQsendPrepare(conn, statements[sent].name.c_str(), statements[sent].sql.c_str(), 0, nullptr) == 1)
    ++sent;
  std::optional<Error> error;
  if (sent < statements.size()) error = failure(statements[sent].name, nullptr);
  if (PQpipelineSync(conn) != 1 && !error) error = failure("the store's statements", nullptr);
  // One result per statement sent (then a null), then the sync's; after a
  // failed one, the rest report PGRES_PIPELINE_ABORTED.
  for (std::size_t i = 0; i < sent && PQstatus(conn) == CONNECTION_OK; ++i) {
    ResultPtr result(PQgetResult(conn));
    if (!result) break;  // the connection failed
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK && !error) error = failure(statements[i].name, result.get());
    while (ResultPtr(PQgetResult(conn))) {
    }
  }
  if (PQstatus(conn) == CONNECTION_OK) {
    ResultPtr sync(PQgetResult(conn));
    if (PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC && !error)
      error = failure("the store's statements", sync.get());
    if (PQexitPipelineMode(conn) != 1 && !error) error = failure("the store's statements", nullptr);
  } else if (!error) {
    error = failure("the store's statements", nullptr);
  }
  if (error) return *error;
  return {};
}

namespace {
// An idle connection has nothing to read unless the server closed it or is
// about to (a restart sends a FATAL message, then closes): such a
// connection is replaced before use instead of failing the caller's call.
bool healthy(PGconn* conn) {
  if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) return false;
  pollfd fd{PQsocket(conn), POLLIN, 0};
  const int ready = ::poll(&fd, 1, 0);
  return ready == 0;
}
}  // namespace

ConnectionPool::ConnectionPool(ConnectionSettings settings, std::size_t size, Prepare prepare)
    : settings_(std::move(settings)), prepare_(std::move(prepare)), slots_(std::max<std::size_t>(1, size)) {
  for (std::size_t i = slots_.size(); i-- > 0;) free_.push_back(i);
}

ConnectionPool::~ConnectionPool() {
  for (auto& slot : slots_)
    if (slot.conn) PQfinish(slot.conn);
}

Result<ConnectionPool::Lease> ConnectionPool::acquire(bool prepare) {
  std::size_t index;
  {
    std::unique_lock lock(mutex_);
    if (free_.empty()) {
      const auto since = std::chrono::steady_clock::now();
      available_.wait(lock, [&] { return !free_.empty(); });
      ++waits_;
      waited_ += std::chrono::steady_clock::now() - since;
    }
    index = free_.back();
    free_.pop_back();
  }
  // The slot is ours alone until released: connect outside the lock.
  Lease lease(this, index, false);
  Slot& slot = slots_[index];
  if (slot.conn && !healthy(slot.conn)) {
    PQfinish(slot.conn);
    slot.conn = nullptr;
  }
  if (!slot.conn) {
    auto conn = connect(settings_);
    if (!conn) return std::move(conn).error();
    slot.conn = *conn;
    slot.prepared = false;
    lease.fresh_ = true;
  }
  if (prepare && !slot.prepared) {
    if (auto status = prepare_(slot.conn); !status) {
      PQfinish(slot.conn);
      slot.conn = nullptr;
      return status.error();
    }
    slot.prepared = true;
  }
  return lease;
}

void ConnectionPool::release(std::size_t index) {
  Slot& slot = slots_[index];
  // A connection that broke, or was left inside a transaction, is closed:
  // the next acquire opens a new one.
  if (slot.conn && (PQstatus(slot.conn) != CONNECTION_OK ||
                    PQtransactionStatus(slot.conn) != PQTRANS_IDLE)) {
    PQfinish(slot.conn);
    slot.conn = nullptr;
  }
  {
    std::lock_guard lock(mutex_);
    free_.push_back(index);
  }
  available_.notify_one();
}

ConnectionPool::Stats ConnectionPool::stats() const {
  std::lock_guard lock(mutex_);
  return Stats{slots_.size(), slots_.size() - free_.size(), waits_, std::chrono::duration<double>(waited_).count()};
}

ConnectionPool::Lease::~Lease() {
  if (pool_) pool_->release(slot_);
}

PGconn* ConnectionPool::Lease::get() const { return pool_->slots_[slot_].conn; }

}  // namespace eventcore::pg
