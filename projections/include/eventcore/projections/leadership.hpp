#pragma once

// One active instance per projection: who may run it. The runtime takes
// leadership before it runs a PostgresProjection (or a Projection with
// ProjectionOptions::one_instance); the others wait as standbys and try
// again. memory_leadership() is shared by whoever holds the same object (the
// runtimes of one process); postgres_leadership() spans every process on the
// database (a session advisory lock per name, on a connection per guard).
// Both pass one contract suite (tests/projections/checkpoint_contract_test.cpp).
// Thread-safe; no method throws.

#include <memory>
#include <string_view>

#include "eventcore/store/result.hpp"

namespace eventcore {
class PostgresStore;
}

namespace eventcore::projections {

// Held leadership. Destroying it releases it; so does the end of the
// holder's process (PostgreSQL ends the session, and the lock with it).
class LeaderGuard {
 public:
  virtual ~LeaderGuard() = default;
  // Whether it still holds: false once its connection is lost (another
  // instance may then take over). Cheap: reads nothing from the network
  // unless the server has sent something.
  virtual bool held() = 0;
};

class Leadership {
 public:
  virtual ~Leadership() = default;
  // Makes the caller the one active instance of `name`, or returns none
  // (not an error) while another instance holds it. Errors: unavailable.
  virtual Result<std::unique_ptr<LeaderGuard>> try_acquire(std::string_view name) = 0;
};

std::shared_ptr<Leadership> memory_leadership();

// Locks are per store schema and name.
std::shared_ptr<Leadership> postgres_leadership(const PostgresStore& store);

}  // namespace eventcore::projections
