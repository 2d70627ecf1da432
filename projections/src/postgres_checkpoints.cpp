#include "postgres_checkpoints.hpp"

#include <cstdlib>

namespace eventcore::projections::detail::pg_checkpoints {

namespace {
std::string text(std::uint64_t v) { return std::to_string(v); }
std::uint64_t number(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 10); }
}  // namespace

std::optional<Checkpoint> load(pg::Session& session, std::string_view name) {
  auto rows = session.exec("SELECT tx_id::text, position, generation FROM projection_checkpoints WHERE name = $1",
                           {name});
  if (rows.empty()) return std::nullopt;
  return Checkpoint{GlobalPosition{number(rows[0][0]), number(rows[0][1])}, std::atoi(rows[0][2].c_str())};
}

void save(pg::Session& session, std::string_view name, const Checkpoint& c) {
  session.exec(
      "INSERT INTO projection_checkpoints AS p (name, tx_id, position, generation) "
      "VALUES ($1, $2::xid8, $3::bigint, $4::int) ON CONFLICT (name) DO UPDATE "
      "SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, generation = EXCLUDED.generation, "
      "updated_at = now()",
      {name, text(c.position.transaction), text(c.position.sequence), std::to_string(c.generation)});
}

bool compare_and_set(pg::Session& session, std::string_view name, const std::optional<Checkpoint>& expected,
                     const Checkpoint& next) {
  const std::string tx = text(next.position.transaction), seq = text(next.position.sequence),
                    gen = std::to_string(next.generation);
  if (!expected)
    return session
               .exec("INSERT INTO projection_checkpoints (name, tx_id, position, generation) "
                     "VALUES ($1, $2::xid8, $3::bigint, $4::int) ON CONFLICT (name) DO NOTHING RETURNING 1",
                     {name, tx, seq, gen})
               .size() == 1;
  return session
             .exec("UPDATE projection_checkpoints SET tx_id = $2::xid8, position = $3::bigint, "
                   "generation = $4::int, updated_at = now() "
                   "WHERE name = $1 AND tx_id = $5::xid8 AND position = $6::bigint AND generation = $7::int "
                   "RETURNING 1",
                   {name, tx, seq, gen, text(expected->position.transaction), text(expected->position.sequence),
                    std::to_string(expected->generation)})
             .size() == 1;
}

void remove(pg::Session& session, std::string_view name) {
  session.exec("DELETE FROM projection_checkpoints WHERE name = $1", {name});
}

void report(pg::Session& session, std::string_view name, std::string_view state, std::string_view error,
            std::string_view owner) {
  session.exec(
      "UPDATE projection_checkpoints SET state = $2, error = $3, owner = $4, updated_at = now() WHERE name = $1",
      {name, state, error.empty() ? std::nullopt : std::optional<std::string_view>(error), owner});
}

void dead_letter(pg::Session& session, std::string_view name, const StoredEvent& event, std::string_view error,
                 int attempts) {
  session.exec(
      "INSERT INTO projection_dead_letters (projection, tx_id, position, event_id, stream_id, "
      "stream_version, event_type, error, attempts) VALUES ($1, $2::xid8, $3::bigint, $4::uuid, $5, "
      "$6::bigint, $7, $8, $9::int)",
      {name, text(event.position.transaction), text(event.position.sequence), event.id.str(), event.stream.str(),
       text(event.version.value), event.type, error, std::to_string(attempts)});
}

std::uint64_t dead_letter_count(pg::Session& session, std::string_view name) {
  return number(session.exec("SELECT count(*) FROM projection_dead_letters WHERE projection = $1", {name})
                    .at(0)
                    .at(0));
}

std::vector<ProjectionRecord> list(pg::Session& session) {
  auto rows = session.exec(
      "SELECT c.name, c.tx_id::text, c.position, c.generation, c.state, coalesce(c.error, ''), "
      "coalesce(c.owner, ''), (SELECT count(*) FROM projection_dead_letters d WHERE d.projection = c.name) "
      "FROM projection_checkpoints c ORDER BY c.name");
  std::vector<ProjectionRecord> out;
  out.reserve(rows.size());
  for (auto& row : rows)
    out.push_back({row[0], Checkpoint{GlobalPosition{number(row[1]), number(row[2])}, std::atoi(row[3].c_str())},
                   row[4], row[5], row[6], number(row[7])});
  return out;
}

}  // namespace eventcore::projections::detail::pg_checkpoints
