#pragma once

// The SQL of checkpoints and dead letters in PostgreSQL, on a session:
// postgres_checkpoint_store() runs it on a connection of its own, and a
// PostgresProjection's engine inside its page transactions (read model and
// checkpoint in one commit). Throws pg::SqlFailure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/projections/checkpoint_store.hpp"
#include "postgres_session.hpp"

namespace eventcore::projections::detail::pg_checkpoints {

std::optional<Checkpoint> load(pg::Session& session, std::string_view name);
void save(pg::Session& session, std::string_view name, const Checkpoint& checkpoint);
// True when it moved; false when it was not at `expected`.
bool compare_and_set(pg::Session& session, std::string_view name, const std::optional<Checkpoint>& expected,
                     const Checkpoint& next);
void remove(pg::Session& session, std::string_view name);
void report(pg::Session& session, std::string_view name, std::string_view state, std::string_view error,
            std::string_view owner);
void dead_letter(pg::Session& session, std::string_view name, const StoredEvent& event, std::string_view error,
                 int attempts);
std::uint64_t dead_letter_count(pg::Session& session, std::string_view name);
std::vector<ProjectionRecord> list(pg::Session& session);

}  // namespace eventcore::projections::detail::pg_checkpoints
