// The contract of CheckpointStore and Leadership (checkpoint_store.hpp,
// leadership.hpp): each case runs on every implementation (the backends
// below), the way the event store has one suite for all its stores.

#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "eventcore/projections/checkpoint_store.hpp"
#include "eventcore/projections/leadership.hpp"
#include "eventcore/store/postgres_store.hpp"
#include "eventcore/testing/require_postgres.hpp"
#include "eventcore/testing/test_database.hpp"

namespace {

using namespace eventcore;
using namespace eventcore::projections;
using namespace std::chrono_literals;

struct MemoryBackend {
  std::shared_ptr<CheckpointStore> checkpoints = memory_checkpoint_store();
  std::shared_ptr<Leadership> leadership = memory_leadership();
  // A second process's view of the same leadership: in memory, the same object.
  std::shared_ptr<Leadership> other_leadership() { return leadership; }
};

struct PostgresBackend {
  testing::ScopedSchema schema{"checkpoints"};
  std::unique_ptr<PostgresStore> store = open();
  std::shared_ptr<CheckpointStore> checkpoints = postgres_checkpoint_store(*store);
  std::shared_ptr<Leadership> leadership = postgres_leadership(*store);
  std::shared_ptr<Leadership> other_leadership() { return postgres_leadership(*store); }

  std::unique_ptr<PostgresStore> open() {
    PostgresStoreConfig config;
    config.conninfo = testing::test_database_url();
    config.schema = schema.name();
    config.pool_size = 1;
    auto opened = PostgresStore::open(config);
    if (!opened) FAIL("PostgresStore::open: " << to_string(opened.error()));
    return std::move(opened).value();
  }
};

#define BACKENDS MemoryBackend, PostgresBackend

// Skips (visibly) a PostgreSQL case without a server, before the backend connects.
template <class T>
void require_available() {
  if constexpr (std::is_same_v<T, PostgresBackend>) EVENTCORE_REQUIRE_POSTGRES();
}
#define GIVEN_A_BACKEND(b)          \
  require_available<TestType>();    \
  TestType b

Checkpoint at(std::uint64_t transaction, std::uint64_t sequence, int generation = 1) {
  return Checkpoint{GlobalPosition{transaction, sequence}, generation};
}

std::optional<Checkpoint> load(CheckpointStore& store, std::string_view name) {
  auto loaded = store.load(name);
  if (!loaded) FAIL("load: " << to_string(loaded.error()));
  return *loaded;
}

std::unique_ptr<LeaderGuard> acquire(Leadership& leadership, std::string_view name) {
  auto guard = leadership.try_acquire(name);
  if (!guard) FAIL("try_acquire: " << to_string(guard.error()));
  return std::move(guard).value();
}

// Polls try_acquire until it leads (a released PostgreSQL lock is freed when
// the server has ended the holder's session: soon, not at once).
std::unique_ptr<LeaderGuard> acquire_within(Leadership& leadership, std::string_view name,
                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto guard = acquire(leadership, name)) return guard;
    if (std::chrono::steady_clock::now() > deadline) return nullptr;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("a saved checkpoint loads back, and a later save overwrites it", "[checkpoints]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  REQUIRE(b.checkpoints->save("balances", at(7, 3)).ok());
  CHECK(load(*b.checkpoints, "balances") == at(7, 3));
  REQUIRE(b.checkpoints->save("balances", at(9, 12, 2)).ok());
  CHECK(load(*b.checkpoints, "balances") == at(9, 12, 2));
}

TEMPLATE_TEST_CASE("loading a checkpoint that was never saved returns none, not an error", "[checkpoints]",
                   BACKENDS) {
  GIVEN_A_BACKEND(b);
  CHECK_FALSE(load(*b.checkpoints, "never_saved").has_value());
}

TEMPLATE_TEST_CASE("two projections' checkpoints are independent", "[checkpoints]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  REQUIRE(b.checkpoints->save("first", at(1, 1)).ok());
  REQUIRE(b.checkpoints->save("second", at(5, 5)).ok());
  REQUIRE(b.checkpoints->save("first", at(2, 2)).ok());
  CHECK(load(*b.checkpoints, "first") == at(2, 2));
  CHECK(load(*b.checkpoints, "second") == at(5, 5));
  REQUIRE(b.checkpoints->remove("first").ok());
  CHECK_FALSE(load(*b.checkpoints, "first").has_value());
  CHECK(load(*b.checkpoints, "second") == at(5, 5));
}

TEMPLATE_TEST_CASE("compare_and_set moves a checkpoint only from where the caller expects it", "[checkpoints]",
                   BACKENDS) {
  GIVEN_A_BACKEND(b);
  auto& store = *b.checkpoints;
  // From none: creates it, once.
  REQUIRE(store.compare_and_set("cas", std::nullopt, at(1, 1)).ok());
  auto again = store.compare_and_set("cas", std::nullopt, at(2, 2));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ErrorCode::conflict);
  CHECK(load(store, "cas") == at(1, 1));
  // From the wrong position, or the right position of another generation: refused, nothing changes.
  auto stale = store.compare_and_set("cas", at(0, 5), at(3, 3));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == ErrorCode::conflict);
  CHECK(stale.error().message.find("cas") != std::string::npos);
  CHECK_FALSE(store.compare_and_set("cas", at(1, 1, 2), at(3, 3)).ok());
  CHECK(load(store, "cas") == at(1, 1));
  // From where it is: moves.
  REQUIRE(store.compare_and_set("cas", at(1, 1), at(4, 9, 2)).ok());
  CHECK(load(store, "cas") == at(4, 9, 2));
  // Removing a missing checkpoint is no error.
  CHECK(store.remove("not_there").ok());
}

TEMPLATE_TEST_CASE("dead letters are counted per projection", "[checkpoints]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  const StoredEvent poison(EventId::generate(), StreamId::try_new("account-1").value(), StreamVersion{3},
                           GlobalPosition{5, 8}, "Deposited", Payload{1}, {}, {});
  REQUIRE(b.checkpoints->save("picky", at(5, 7)).ok());
  REQUIRE(b.checkpoints->dead_letter("picky", poison, "cannot apply", 3).ok());
  REQUIRE(b.checkpoints->dead_letter("picky", poison, "cannot apply", 3).ok());
  CHECK(b.checkpoints->dead_letter_count("picky").value() == 2);
  CHECK(b.checkpoints->dead_letter_count("other").value() == 0);
}

TEMPLATE_TEST_CASE("list shows every projection with a checkpoint, its last report and its dead letters",
                   "[checkpoints]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  auto& store = *b.checkpoints;
  REQUIRE(store.save("zeta", at(3, 4)).ok());
  REQUIRE(store.save("alpha", at(1, 2, 2)).ok());
  REQUIRE(store.report("alpha", "stopped_with_error", "poison at 1:2", "host:42").ok());
  const StoredEvent poison(EventId::generate(), StreamId::try_new("account-1").value(), StreamVersion{1},
                           GlobalPosition{1, 2}, "Deposited", Payload{1}, {}, {});
  REQUIRE(store.dead_letter("alpha", poison, "cannot apply", 1).ok());
  REQUIRE(store.save("gone", at(9, 9)).ok());
  REQUIRE(store.remove("gone").ok());

  auto listed = store.list();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 2);
  const auto& alpha = (*listed)[0];
  CHECK(alpha.name == "alpha");
  CHECK(alpha.checkpoint == at(1, 2, 2));
  CHECK(alpha.state == "stopped_with_error");
  CHECK(alpha.error == "poison at 1:2");
  CHECK(alpha.owner == "host:42");
  CHECK(alpha.dead_letters == 1);
  const auto& zeta = (*listed)[1];
  CHECK(zeta.name == "zeta");
  CHECK(zeta.checkpoint == at(3, 4));
  CHECK(zeta.state == "starting");
  CHECK(zeta.error.empty());
  CHECK(zeta.dead_letters == 0);
}

TEMPLATE_TEST_CASE("the first instance to ask leads a projection, and a second is refused while it holds",
                   "[leadership]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  auto first = acquire(*b.leadership, "balances");
  REQUIRE(first != nullptr);
  CHECK(first->held());
  auto other = b.other_leadership();
  CHECK(acquire(*other, "balances") == nullptr);
  CHECK(acquire(*b.leadership, "balances") == nullptr);  // not even by the same Leadership
}

TEMPLATE_TEST_CASE("leadership is independent per projection", "[leadership]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  auto balances = acquire(*b.leadership, "balances");
  auto orders = acquire(*b.other_leadership(), "orders");
  CHECK(balances != nullptr);
  CHECK(orders != nullptr);
}

TEMPLATE_TEST_CASE("dropping the guard releases leadership to the next instance", "[leadership]", BACKENDS) {
  GIVEN_A_BACKEND(b);
  auto other = b.other_leadership();
  auto first = acquire(*b.leadership, "balances");
  REQUIRE(first != nullptr);
  REQUIRE(acquire(*other, "balances") == nullptr);
  first.reset();
  auto next = acquire_within(*other, "balances", 5s);
  CHECK(next != nullptr);
}

TEST_CASE("PostgreSQL leadership is released when the holder's process dies") {
  EVENTCORE_REQUIRE_POSTGRES();
  PostgresBackend b;
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The holder: leads, says so, and waits to be killed. Nothing of the
    // parent's (its store's connections) is used here.
    ::close(ready[0]);
    auto leadership = postgres_leadership(*b.store);
    auto guard = leadership->try_acquire("balances");
    const char led = guard && *guard ? 1 : 0;
    (void)!::write(ready[1], &led, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char led = 0;
  REQUIRE(::read(ready[0], &led, 1) == 1);
  ::close(ready[0]);
  REQUIRE(led == 1);
  CHECK(acquire(*b.leadership, "balances") == nullptr);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  auto next = acquire_within(*b.leadership, "balances", 10s);
  CHECK(next != nullptr);
}

TEST_CASE("a PostgreSQL guard whose session was ended says it no longer holds") {
  EVENTCORE_REQUIRE_POSTGRES();
  PostgresBackend b;
  auto guard = acquire(*b.leadership, "balances");
  REQUIRE(guard != nullptr);
  CHECK(guard->held());
  // The backend that holds the advisory lock (schema, name), ended by an operator.
  CHECK(testing::exec_sql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = "
                          "hashtext('" + b.schema.name() + "')::oid AND objid = hashtext('balances')::oid") == "t");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (guard->held() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  CHECK_FALSE(guard->held());
  CHECK(acquire_within(*b.other_leadership(), "balances", 5s) != nullptr);
}
