#pragma once

// The projections this worker can run, by name. A real deployment builds its
// own worker with its own projections; these serve as examples and for tests.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "eventcore/projections/projection.hpp"

namespace eventcore::worker {

// Events counted by type: event_counts(event_type, n).
class EventCounts final : public projections::PostgresProjection {
 public:
  std::vector<std::string> tables() const override { return {"event_counts"}; }
  void create(projections::Sql& sql) override {
    sql.exec("CREATE TABLE " + sql.table("event_counts") + " (event_type text PRIMARY KEY, n bigint NOT NULL)");
  }
  void apply(projections::Sql& sql, const StoredEvent& e) override {
    const auto t = sql.table("event_counts");
    sql.exec("INSERT INTO " + t + " VALUES ($1, 1) ON CONFLICT (event_type) DO UPDATE SET n = " + t + ".n + 1",
             {e.type});
  }
};

// A copy of every event (no unique key: a double apply would show), plus
// counts by type: event_copy(event_id, stream_id, stream_version), type_counts.
class EventCopy final : public projections::PostgresProjection {
 public:
  explicit EventCopy(std::chrono::microseconds delay = {}) : delay_(delay) {}
  std::vector<std::string> tables() const override { return {"event_copy", "type_counts"}; }
  void create(projections::Sql& sql) override {
    sql.exec("CREATE TABLE " + sql.table("event_copy") +
             " (event_id uuid NOT NULL, stream_id text NOT NULL, stream_version bigint NOT NULL)");
    sql.exec("CREATE TABLE " + sql.table("type_counts") + " (event_type text PRIMARY KEY, n bigint NOT NULL)");
  }
  void apply(projections::Sql& sql, const StoredEvent& e) override {
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    sql.exec("INSERT INTO " + sql.table("event_copy") + " VALUES ($1::uuid, $2, $3::bigint)",
             {e.id.str(), e.stream.str(), std::to_string(e.version.value)});
    const auto t = sql.table("type_counts");
    sql.exec("INSERT INTO " + t + " VALUES ($1, 1) ON CONFLICT (event_type) DO UPDATE SET n = " + t + ".n + 1",
             {e.type});
  }

 private:
  std::chrono::microseconds delay_;
};

inline std::map<std::string, projections::ProjectionRuntime::PostgresProjectionFactory> builtin_projections(
    std::chrono::microseconds apply_delay) {
  return {
      {"event_counts", [] { return std::make_unique<EventCounts>(); }},
      {"event_copy", [apply_delay] { return std::make_unique<EventCopy>(apply_delay); }},
  };
}

}  // namespace eventcore::worker
