#pragma once

// Where projections keep their progress. The runtime uses one for every
// projection: memory_checkpoint_store() beside a MemoryStore (or any store
// without tables of its own), postgres_checkpoint_store() beside a
// PostgresStore (its projection_checkpoints and projection_dead_letters
// tables, created by the store's migrations). Both pass one contract suite
// (tests/projections/checkpoint_contract_test.cpp). Thread-safe; no method
// throws.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/store/event_store.hpp"

namespace eventcore {
class PostgresStore;
}

namespace eventcore::projections {

struct Checkpoint {
  GlobalPosition position;  // the last event applied
  int generation = 1;       // which generation of a PostgresProjection's tables is live
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// e.g. "17:42 (generation 2)"
std::string to_string(const Checkpoint& checkpoint);

// One projection as an operator sees it (CheckpointStore::list).
struct ProjectionRecord {
  std::string name;
  Checkpoint checkpoint;
  std::string state, error, owner;  // its last report (state "starting", the others "", before the first)
  std::uint64_t dead_letters = 0;
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  // The checkpoint of projection `name`; none (not an error) when it was never saved.
  virtual Result<std::optional<Checkpoint>> load(std::string_view name) = 0;
  // Sets it, whatever it was.
  virtual Status save(std::string_view name, const Checkpoint& checkpoint) = 0;
  // Sets it to `next` only if it is `expected` now (std::nullopt: it was never
  // saved). Errors: conflict (naming where it is) when it is not.
  virtual Status compare_and_set(std::string_view name, const std::optional<Checkpoint>& expected,
                                 const Checkpoint& next) = 0;
  // Forgets it (a rebuild's scratch checkpoint); a missing one is no error.
  virtual Status remove(std::string_view name) = 0;

  // What the projection is doing, for operators: its state ("running",
  // "stopped_with_error"...), the error, and who runs it (host:pid).
  virtual Status report(std::string_view name, std::string_view state, std::string_view error,
                        std::string_view owner) = 0;
  // Records a poison event set aside under PoisonPolicy::dead_letter.
  virtual Status dead_letter(std::string_view name, const StoredEvent& event, std::string_view error,
                             int attempts) = 0;
  // How many events are set aside for `name`.
  virtual Result<std::uint64_t> dead_letter_count(std::string_view name) = 0;
  // Every projection with a checkpoint, by name (a running rebuild's scratch
  // checkpoint too), with its last report: for operators.
  virtual Result<std::vector<ProjectionRecord>> list() = 0;
};

// Checkpoints in this process's memory: they last as long as the object.
std::shared_ptr<CheckpointStore> memory_checkpoint_store();

// Checkpoints in the store's schema, on a connection of their own (opened on
// first use, replaced after a failure). Errors: none at creation; each call
// may fail with unavailable.
std::shared_ptr<CheckpointStore> postgres_checkpoint_store(const PostgresStore& store);

}  // namespace eventcore::projections
