// Leadership across processes with PostgreSQL session advisory locks (see leadership.hpp).

#include <poll.h>

#include "eventcore/projections/leadership.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "postgres_session.hpp"

namespace eventcore::projections {

namespace {

// The lock lives as long as this guard's session: closing it (or the
// process ending, or the connection breaking) releases it at the server.
class PostgresGuard final : public LeaderGuard {
 public:
  explicit PostgresGuard(std::unique_ptr<pg::Session> session) : session_(std::move(session)) {}
  bool held() override {
    if (!session_->connected()) return false;
    // The server sends nothing on an idle session unless it is ending it.
    PGconn* conn = session_->get();
    pollfd fd{PQsocket(conn), POLLIN, 0};
    if (::poll(&fd, 1, 0) > 0 && (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)) {
      session_->close();
      return false;
    }
    return PQstatus(conn) == CONNECTION_OK;
  }

 private:
  std::unique_ptr<pg::Session> session_;
};

class PostgresLeadership final : public Leadership {
 public:
  PostgresLeadership(Result<pg::ConnectionSettings> settings, std::string schema)
      : settings_(std::move(settings)), schema_(std::move(schema)) {}

  Result<std::unique_ptr<LeaderGuard>> try_acquire(std::string_view name) override {
    if (!settings_) return settings_.error();
    auto session = std::make_unique<pg::Session>();
    if (auto s = session->connect(*settings_); !s) return s.error();
    try {
      // The key every version of the runtime uses: (schema, name).
      auto got = session->exec("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))", {schema_, name});
      if (got.at(0).at(0) != "t") return std::unique_ptr<LeaderGuard>{};
    } catch (const pg::SqlFailure& e) {
      return Error{e.connection_lost ? ErrorCode::unavailable : ErrorCode::failed,
                   "leadership of '" + std::string(name) + "': " + e.what()};
    }
    return std::unique_ptr<LeaderGuard>(std::make_unique<PostgresGuard>(std::move(session)));
  }

 private:
  Result<pg::ConnectionSettings> settings_;
  std::string schema_;
};

}  // namespace

std::shared_ptr<Leadership> postgres_leadership(const PostgresStore& store) {
  return std::make_shared<PostgresLeadership>(pg::make_connection_settings(store.config(), "eventcore-leadership"),
                                              store.config().schema);
}

}  // namespace eventcore::projections
